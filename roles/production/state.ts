import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import type { RoleDb } from '../role.ts'
import { MAX_HISTORY } from './constants.ts'
import type { ImportIssue } from './errors.ts'

/**
 * The role's state in its LevelDB sublevel: string keys under one prefix per kind, DAG-CBOR values. Every change
 * of an import or a contract command is one atomic batch, written after the blocks it points to are stored, so a
 * crash leaves either the old state or the new one. Prefixes are never reused for another kind.
 *
 * | prefix | value |
 * | --- | --- |
 * | `r/<release key>` | `ReleaseState`: what is published for a release, its versions, its contracts |
 * | `a/<identity key>` | the release key an identity key (`icpn:`, `grid:`, `isrc:`…) belongs to |
 * | `t/<ISRC>` | `TrackState`: the track's manifest versions, audio digest, content key sealed to this node |
 * | `c/<contract id>` | `ContractState`: a contract's versions and status |
 * | `o/<entry id>` | `OutboxEntry`: an escrow deposit waiting for its registrar's acknowledgement |
 */

export type Status = 'active' | 'withdrawn'

export interface ReleaseState {
  key: string
  aliases: string[]
  title: string
  /** Version of the release (record `seq` when it has a record). */
  seq: number
  /** The current `consort/release` record, or null when the release has no ICPN/GRid (tracks only). */
  record: CID | null
  history: CID[]
  tracks: string[]
  contracts: string[]
  /** SHA-256 over everything the release was made from: equal inputs, nothing to do. */
  digest: Uint8Array
  status: Status
  updated: number
  /**
   * What the import that made this version accepted with a warning (ERN issues graded warnings, things left out or
   * assumed), at most `MAX_RECORDED_WARNINGS`. Absent on releases published before warnings were recorded.
   */
  warnings?: ImportIssue[]
}

export interface TrackState {
  isrc: string
  seq: number
  manifest: CID
  history: CID[]
  /** SHA-256 of the audio file the segments were made from. */
  audio: Uint8Array
  segmentSize: number
  /** The clip asked for (before alignment to frames). */
  clip: { startMs: number; durationMs: number }
  keyId: Uint8Array
  /** The content key, sealed to this node's own X25519 key (`SELF_SEAL_CONTEXT`): never at rest in clear. */
  sealedKey: Uint8Array
  /** Releases of this node that list the track. */
  releases: string[]
  status: Status
}

export interface ContractState {
  contractId: string
  seq: number
  record: CID
  history: CID[]
  status: 'active' | 'revoked'
  /** `release`: made from a release's deals (imports manage it); `manual`: made by `contract create`. */
  origin: 'release' | 'manual'
  release: string | null
  revocation: CID | null
}

export interface OutboxEntry {
  id: string
  /** The registration manager's signing key. */
  registrar: Uint8Array
  escrows: Uint8Array[]
  manifests: Uint8Array[]
  release: Uint8Array | null
  attempts: number
  created: number
  lastError: string | null
}

const PREFIX = { release: 'r/', alias: 'a/', track: 't/', contract: 'c/', outbox: 'o/' } as const

/** Keep the newest `MAX_HISTORY` versions. */
export function withHistory(history: readonly CID[], id: CID): CID[] {
  const list = history.some((h) => h.equals(id)) ? [...history] : [...history, id]
  return list.slice(-MAX_HISTORY)
}

const encode = (value: unknown): Uint8Array => dagCbor.encode(value)
const decode = <T>(bytes: Uint8Array): T => dagCbor.decode(bytes) as T

/** Collects the writes of one change; `write()` applies them atomically. */
export class StateBatch {
  readonly #db: RoleDb
  readonly #ops: Array<{ type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }> = []

  constructor(db: RoleDb) {
    this.#db = db
  }

  get size(): number {
    return this.#ops.length
  }

  putRelease(state: ReleaseState): this {
    this.#ops.push({ type: 'put', key: PREFIX.release + state.key, value: encode(state) })
    for (const alias of state.aliases) {
      this.#ops.push({ type: 'put', key: PREFIX.alias + alias, value: new TextEncoder().encode(state.key) })
    }
    return this
  }

  putTrack(state: TrackState): this {
    this.#ops.push({ type: 'put', key: PREFIX.track + state.isrc, value: encode(state) })
    return this
  }

  putContract(state: ContractState): this {
    this.#ops.push({ type: 'put', key: PREFIX.contract + state.contractId, value: encode(state) })
    return this
  }

  putOutbox(entry: OutboxEntry): this {
    this.#ops.push({ type: 'put', key: PREFIX.outbox + entry.id, value: encode(entry) })
    return this
  }

  deleteOutbox(id: string): this {
    this.#ops.push({ type: 'del', key: PREFIX.outbox + id })
    return this
  }

  async write(): Promise<void> {
    if (this.#ops.length === 0) return
    await this.#db.batch(this.#ops)
  }
}

export class ProductionState {
  readonly #db: RoleDb

  constructor(db: RoleDb) {
    this.#db = db
  }

  batch(): StateBatch {
    return new StateBatch(this.#db)
  }

  async #get<T>(key: string): Promise<T | undefined> {
    const value = await this.#db.get(key)
    return value == null ? undefined : decode<T>(value)
  }

  getRelease(key: string): Promise<ReleaseState | undefined> {
    return this.#get(PREFIX.release + key)
  }

  async releaseKeyOf(alias: string): Promise<string | undefined> {
    const value = await this.#db.get(PREFIX.alias + alias)
    return value == null ? undefined : new TextDecoder().decode(value)
  }

  /** The release any of `keys` belongs to. */
  async findRelease(keys: readonly string[]): Promise<ReleaseState | undefined> {
    for (const key of keys) {
      const releaseKey = await this.releaseKeyOf(key)
      if (releaseKey != null) return this.getRelease(releaseKey)
    }
    return undefined
  }

  getTrack(isrc: string): Promise<TrackState | undefined> {
    return this.#get(PREFIX.track + isrc)
  }

  getContract(contractId: string): Promise<ContractState | undefined> {
    return this.#get(PREFIX.contract + contractId)
  }

  async #list<T>(prefix: string, after: string | undefined, limit: number): Promise<T[]> {
    const out: T[] = []
    const range = after == null ? { gte: prefix } : { gt: prefix + after }
    for await (const [key, value] of this.#db.iterator({ ...range, lt: `${prefix}\xff`, limit })) {
      if (!key.startsWith(prefix)) break
      out.push(decode<T>(value))
    }
    return out
  }

  listReleases(after: string | undefined, limit: number): Promise<ReleaseState[]> {
    return this.#list(PREFIX.release, after, limit)
  }

  listTracks(after: string | undefined, limit: number): Promise<TrackState[]> {
    return this.#list(PREFIX.track, after, limit)
  }

  listContracts(after: string | undefined, limit: number): Promise<ContractState[]> {
    return this.#list(PREFIX.contract, after, limit)
  }

  listOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.#list(PREFIX.outbox, undefined, limit)
  }

  /** Entries of every kind, up to `limit` (operators' and tests' view of how much state there is). */
  async countEntries(limit = Number.MAX_SAFE_INTEGER): Promise<number> {
    let n = 0
    for await (const _key of this.#db.keys({ limit })) n++
    return n
  }

  getOutbox(id: string): Promise<OutboxEntry | undefined> {
    return this.#get(PREFIX.outbox + id)
  }
}
