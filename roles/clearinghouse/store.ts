/**
 * Typed access to the role's `state` sublevel (UTF-8 keys, byte values), and the write batch every state change
 * goes through.
 */
import type { AbstractBatchOperation, AbstractLevel } from 'abstract-level'
import type { z } from 'zod'
import { defineLayout } from '../store.ts'
import { STATE_VERSION } from './constants.ts'
import { decodeRow, encodeRow, prefixRange, StateKeys, type StoreOp } from './state.ts'

/**
 * The clearinghouse's key space as a role store: two sublevels, each with its own strict codecs — `state` (this
 * file's `StateStore`, rows of `state.ts`, listed in README.md) and `ledger` (`ledger/`, its own layout version) —
 * and the role's layout version inside `state`, checked before the role starts (the engine checks it again when
 * the CLI opens a stopped clearinghouse's data).
 */
export const CLEARINGHOUSE_LAYOUT = defineLayout({
  role: 'clearinghouse',
  version: STATE_VERSION,
  versionKey: `!state!${StateKeys.version}`,
  repositories: {},
  sublevels: ['state', 'ledger'],
})

export type ClearinghouseSublevel = 'state' | 'ledger'

// biome-ignore lint/suspicious/noExplicitAny: the role passes its own sublevel; encodings are set per call
export type StateLevel = AbstractLevel<any, any, any>

const ENC = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

export class StateStore {
  readonly level: StateLevel
  readonly #sync: boolean
  /**
   * Writes go to the root database with the sublevel's prefix on each key: the same keys, and one pass of
   * abstract-level over the batch instead of one per sublevel (each clones and re-encodes every operation; a group
   * commit writes several hundred). No hooks or write events are set on the role's sublevels.
   */
  readonly #root: StateLevel
  readonly #prefix: string

  constructor(level: StateLevel, sync: boolean) {
    this.level = level
    this.#sync = sync
    const sublevel = level as unknown as { db?: StateLevel; prefix?: string }
    this.#root = sublevel.db ?? level
    this.#prefix = sublevel.db === undefined ? '' : (sublevel.prefix ?? '')
  }

  async raw(key: string): Promise<Uint8Array | undefined> {
    return (await this.level.get(key, ENC)) as Uint8Array | undefined
  }

  async rawMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    return (await this.level.getMany([...keys], ENC)) as Array<Uint8Array | undefined>
  }

  async get<T>(schema: z.ZodType<T>, key: string): Promise<T | undefined> {
    const bytes = await this.raw(key)
    return bytes === undefined ? undefined : decodeRow(schema, key, bytes)
  }

  async getMany<T>(schema: z.ZodType<T>, keys: readonly string[]): Promise<Array<T | undefined>> {
    const rows = await this.rawMany(keys)
    return rows.map((bytes, i) => (bytes === undefined ? undefined : decodeRow(schema, keys[i]!, bytes)))
  }

  async has(key: string): Promise<boolean> {
    return (await this.raw(key)) !== undefined
  }

  /** Rows under a prefix, in key order. */
  async *entries(prefix: string, options: { limit?: number; gt?: string } = {}): AsyncGenerator<[string, Uint8Array]> {
    const range = prefixRange(prefix)
    const bounds = options.gt !== undefined ? { gt: options.gt, lt: range.lt } : range
    for await (const [key, value] of this.level.iterator({ ...bounds, ...ENC, limit: options.limit ?? -1 })) {
      yield [key as string, value as Uint8Array]
    }
  }

  async *rows<T>(schema: z.ZodType<T>, prefix: string, options: { limit?: number; gt?: string } = {}) {
    for await (const [key, value] of this.entries(prefix, options)) yield [key, decodeRow(schema, key, value)] as const
  }

  async *keys(prefix: string, options: { limit?: number } = {}): AsyncGenerator<string> {
    const range = prefixRange(prefix)
    for await (const key of this.level.keys({ ...range, keyEncoding: 'utf8', limit: options.limit ?? -1 })) {
      yield key as string
    }
  }

  /** One atomic write. `sync` (default: the store's setting) makes it durable before it returns. */
  async write(ops: readonly StoreOp[], options: { sync?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return
    const prefix = this.#prefix
    const batch: AbstractBatchOperation<StateLevel, string, Uint8Array>[] = new Array(ops.length)
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      batch[i] = op.t === 'put' ? { type: 'put', key: prefix + op.k, value: op.v } : { type: 'del', key: prefix + op.k }
    }
    await this.#root.batch(batch, { ...ENC, sync: options.sync ?? this.#sync } as never)
  }
}

export function put(key: string, value: unknown): StoreOp {
  return { t: 'put', k: key, v: encodeRow(value) }
}

export function putBytes(key: string, value: Uint8Array): StoreOp {
  return { t: 'put', k: key, v: value }
}

export function del(key: string): StoreOp {
  return { t: 'del', k: key }
}
