import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import type { AbstractBatchOperation, AbstractSublevel } from 'abstract-level'
import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { isError } from '../protocols/errors.ts'
import { type DecodeOptions, decodeRecord, type SignedRecord } from '../protocols/records/envelope.ts'
import type { RecordType } from '../protocols/records/registry.ts'
import type { RoleName } from '../protocols/records/types/common.ts'

/**
 * A role's store (Lodestar's typed buckets, Helia's checked datastore version): the role's sublevel of the node's
 * LevelDB seen as a declared layout —
 *
 * - **repositories**: a key prefix and one codec each; every value is checked by its codec when written and when
 *   read, and a bad value on disk is a `StoreValueError` naming the role, the repository and the key;
 * - **sublevels**: key spaces the role hands to a part with its own codec (the clearinghouse's ledger), reserved by
 *   name so that no repository grows into them;
 * - **a layout version** at a declared key, checked before the role starts (`open()`): a fresh store gets the current
 *   one, a store written before the role recorded versions is `unversioned` (1: today's layout), an older one is
 *   taken forward by the layout's `migrations` (one atomic batch per step, the new version written with it), and
 *   anything else is refused with a `StoreLayoutVersionError` naming role, found and expected version;
 * - **retired prefixes**: key spaces an earlier layout used, listed so that a new repository never reuses one by
 *   accident (`defineLayout` refuses it, as it refuses two key spaces where one contains the other);
 * - **batches** across the repositories of one store, written atomically.
 *
 * The keys and encodings on disk are what each role wrote before it had this store: moving a role onto it changes
 * nothing on disk but the version it records. A change of layout is a new `version` and a migration to it, the old
 * prefix listed as retired.
 */

/** A role's own sublevel of the node's LevelDB: string keys, byte values (the node makes it; the store reads it). */
// biome-ignore lint/suspicious/noExplicitAny: the root database's own type parameter does not matter to a role
export type RoleDb = AbstractSublevel<any, string | Uint8Array | Buffer, string, Uint8Array>

const log = logger('consort:store')

/** What a codec may need to read a value back: how this node decodes the signed records it stored. */
export interface StoreContext {
  /** Decode options for records that were verified when they arrived: their freshness is not checked again. */
  storedDecodeOptions(): DecodeOptions
}

/** The context of a node's network: stored records are decoded for it, and never found stale. */
export function storeContext(network: { readonly name: string; readonly caps?: DecodeOptions['caps'] }): StoreContext {
  return {
    storedDecodeOptions: () => ({
      network: network.name,
      now: Number.MAX_SAFE_INTEGER,
      ...(network.caps != null ? { caps: network.caps } : {}),
    }),
  }
}

/** How one repository's values are kept: bytes on disk and back, checked both ways (throw to refuse). */
export interface Codec<T> {
  /** What the bytes are, for error messages (`dag-cbor`, `consort/contract record`). */
  readonly name: string
  encode(value: T): Uint8Array
  decode(bytes: Uint8Array, context: StoreContext): T
}

const utf8 = { encoder: new TextEncoder(), decoder: new TextDecoder('utf-8', { fatal: true }) }

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The first zod issue as `path: message`. */
function zodProblem(error: z.ZodError): string {
  const issue = error.issues[0]
  if (issue == null) return 'invalid'
  const path = issue.path.join('.')
  return `${path === '' ? '' : `${path}: `}${issue.message}`
}

/** A signed record of one of the types of a union (a release or a manifest, not a record of both). */
export type RecordOf<T extends RecordType> = T extends RecordType ? SignedRecord<T> : never

/** The codecs roles use. A value that does not fit is refused on write and reported on read. */
export const codecs = {
  /** DAG-CBOR of a value its zod schema accepts (the schema is checked on write and on read). */
  cbor<S extends z.ZodType>(schema: S): Codec<z.output<S>> {
    return {
      name: 'dag-cbor',
      encode(value) {
        const checked = schema.safeParse(value)
        if (!checked.success) throw new Error(zodProblem(checked.error))
        return dagCbor.encode(value)
      },
      decode(bytes) {
        const checked = schema.safeParse(dagCbor.decode(bytes))
        if (!checked.success) throw new Error(zodProblem(checked.error))
        return checked.data
      },
    }
  },
  /** A signed record's own bytes, of one of `types`; reading verifies it again (signature, network, canonical form). */
  record<T extends RecordType>(...types: T[]): Codec<RecordOf<T>> {
    const allowed = new Set<string>(types)
    const name = `${types.join(' or ')} record`
    return {
      name,
      encode: (record) => {
        if (!allowed.has(record.type)) throw new Error(`a ${record.type} record, not a ${name}`)
        return record.bytes
      },
      decode: (bytes, context) => {
        const record = decodeRecord(bytes, context.storedDecodeOptions())
        if (!allowed.has(record.type)) throw new Error(`a ${record.type} record, not a ${name}`)
        return record as RecordOf<T>
      },
    }
  },
  /** UTF-8 text, as some roles keep a key of another repository. */
  text: {
    name: 'utf-8 text',
    encode: (value: string) => utf8.encoder.encode(value),
    decode: (bytes: Uint8Array) => utf8.decoder.decode(bytes),
  } satisfies Codec<string>,
  /** A non-negative integer as decimal text (how some roles keep counters and sequence numbers). */
  decimal: {
    name: 'decimal text',
    encode(value: number) {
      if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${value} is not a non-negative integer`)
      return utf8.encoder.encode(String(value))
    },
    decode(bytes: Uint8Array): number {
      const text = utf8.decoder.decode(bytes)
      if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) throw new Error(`${JSON.stringify(text.slice(0, 20))} is not a count`)
      return Number(text)
    },
  } satisfies Codec<number>,
  /** An empty value: the key is the fact (an index entry, a marker). */
  marker: {
    name: 'empty marker',
    encode: (_value: true) => new Uint8Array(),
    decode(bytes: Uint8Array): true {
      if (bytes.length !== 0) throw new Error(`${bytes.length} bytes where an empty marker belongs`)
      return true
    },
  } satisfies Codec<true>,
  /** Bytes kept as they came (checked by whoever reads them: say why in the layout). */
  bytes: {
    name: 'bytes',
    encode: (value: Uint8Array) => value,
    decode: (bytes: Uint8Array) => bytes,
  } satisfies Codec<Uint8Array>,
} as const

/** Zod schemas for what stored values hold besides plain data: bytes and CIDs, as DAG-CBOR gives them back. */
export const stored = {
  bytes: z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'expected bytes'),
  cid: z.custom<CID>((value) => CID.asCID(value) != null, 'expected a CID'),
  /** Milliseconds since the epoch, or any other count. */
  count: z.number().int().nonnegative(),
} as const

export interface RepositorySpec<T> {
  /** Every key of the repository starts with it (`of!`, `doc/`); keys passed to the repository come after it. */
  readonly prefix: string
  readonly codec: Codec<T>
}

export function repository<T>(prefix: string, codec: Codec<T>): RepositorySpec<T> {
  return { prefix, codec }
}

export interface RetiredPrefix {
  readonly prefix: string
  /** What it held and when it stopped. */
  readonly note: string
}

/** A layout's repositories by name (each with its own value type). */
// biome-ignore lint/suspicious/noExplicitAny: each repository has its own value type; RepositoriesOf keeps them
export type Repositories = Record<string, RepositorySpec<any>>

/** A store of any layout (what a repository or a batch needs to know of the store it belongs to). */
type AnyRoleStore = RoleStore<Repositories, string>

export interface LayoutSpec<R extends Repositories, S extends string = never> {
  readonly role: RoleName
  /** The layout this code reads and writes. */
  readonly version: number
  /**
   * Where the version is kept (a DAG-CBOR integer unless `versionCodec` says otherwise), in the role's own key syntax. It may lie in a declared sublevel
   * whose part keeps its own rows there (the clearinghouse's `!state!m/version`).
   */
  readonly versionKey: string
  /** How the version is written there (default DAG-CBOR; the player has always kept it as decimal text). */
  readonly versionCodec?: Codec<number>
  /** The version of a store that has data but no version key (written before the role recorded one). Default 1. */
  readonly unversioned?: number
  readonly repositories: R
  /** Sublevels by name (`ledger` is the key space `!ledger!`), for parts with their own codec. */
  readonly sublevels?: readonly S[]
  readonly retired?: readonly RetiredPrefix[]
  /** How a store of an older version becomes this one, a step at a time (`from` → `from + 1`). */
  readonly migrations?: readonly Migration<R>[]
}

/**
 * One step of a layout change, from version `from` to `from + 1`. What it writes goes into `step.batch`, which is
 * written together with the new version: a crash leaves the store at `from` or at `from + 1`, never between.
 */
export interface Migration<R extends Repositories = Repositories> {
  readonly from: number
  /** What changes, for the log and the reader. */
  readonly note: string
  migrate(step: MigrationStep<R>): Promise<void>
}

export interface MigrationStep<R extends Repositories = Repositories> {
  /** Writes to the new layout's repositories (`batch.put(step.repositories.items, …)`), and `dropKey` for old keys. */
  readonly batch: StoreBatch
  readonly repositories: RepositoriesOf<R>
  /** Keys and values as they are on disk under a prefix of the old layout (a retired one), in key order. */
  raw(prefix: string): AsyncIterable<[string, Uint8Array]>
}

/** A layout refused as declared: two key spaces overlap, or one reuses a retired prefix. */
export class StoreLayoutError extends Error {
  static override name = 'StoreLayoutError'
  override name = StoreLayoutError.name

  constructor(
    message = 'the layout is refused: two key spaces overlap, or one reuses a retired prefix',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_STORE_LAYOUT'
}

/** The store was written in another layout than this code reads; the role does not start. */
export class StoreLayoutVersionError extends Error {
  static override name = 'StoreLayoutVersionError'
  override name = StoreLayoutVersionError.name

  readonly code = 'ERR_STORE_LAYOUT_VERSION'
  readonly role: RoleName
  readonly found: unknown
  readonly expected: number

  constructor(role: RoleName, found: unknown, expected: number) {
    super(`role ${role}: the store has layout version ${String(found)}, this code reads version ${expected}`)
    this.role = role
    this.found = found
    this.expected = expected
  }
}

/** A value on disk its repository's codec refuses, or a value refused before it was written. */
export class StoreValueError extends Error {
  static override name = 'StoreValueError'
  override name = StoreValueError.name

  readonly code = 'ERR_STORE_VALUE'
  readonly role: RoleName
  readonly repository: string
  readonly key: string

  constructor(role: RoleName, repository: string, key: string, problem: string) {
    super(`role ${role}, repository ${repository}, key ${JSON.stringify(key)}: ${problem}`)
    this.role = role
    this.repository = repository
    this.key = key
  }
}

/** A repository or batch used on a store it does not belong to, or a store used before `open()`. */
export class StoreUsageError extends Error {
  static override name = 'StoreUsageError'
  override name = StoreUsageError.name

  constructor(
    message = 'a repository or batch used on a store it does not belong to, or before open()',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_STORE_USAGE'
}

/** The key space of a sublevel inside its parent (abstract-level's `!name!`). */
const sublevelPrefix = (name: string) => `!${name}!`

/**
 * Check a layout once, where it is declared: every key space (repositories, sublevels, the version key) is disjoint
 * from every other and from every retired prefix.
 */
export function defineLayout<R extends Repositories, S extends string = never>(
  spec: LayoutSpec<R, S>,
): LayoutSpec<R, S> {
  const spaces: Array<{ what: string; prefix: string }> = [
    { what: 'the version key', prefix: spec.versionKey },
    ...Object.entries(spec.repositories).map(([name, repo]) => ({ what: `repository ${name}`, prefix: repo.prefix })),
    ...(spec.sublevels ?? []).map((name) => ({ what: `sublevel ${name}`, prefix: sublevelPrefix(name) })),
  ]
  const problem = (message: string) => new StoreLayoutError(`role ${spec.role}: ${message}`)
  if (!Number.isSafeInteger(spec.version) || spec.version < 1) throw problem(`layout version ${spec.version}`)
  const steps = (spec.migrations ?? []).map((m) => m.from)
  if (new Set(steps).size !== steps.length || steps.some((from) => from < 1 || from >= spec.version))
    throw problem(`migrations from ${steps.join(', ')}: each from a version below ${spec.version}, once`)
  const versionInSublevel = (a: { what: string }, b: { what: string; prefix: string }) =>
    a.what === 'the version key' && b.what.startsWith('sublevel ') && spec.versionKey.startsWith(b.prefix)
  for (const [i, a] of spaces.entries()) {
    if (a.prefix === '') throw problem(`${a.what} has an empty prefix`)
    for (const b of spaces.slice(i + 1)) {
      if (versionInSublevel(a, b)) continue
      if (a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix))
        throw problem(`${a.what} (${a.prefix}) and ${b.what} (${b.prefix}) overlap`)
    }
    for (const retired of spec.retired ?? []) {
      if (a.prefix.startsWith(retired.prefix) || retired.prefix.startsWith(a.prefix))
        throw problem(`${a.what} (${a.prefix}) reuses the retired prefix ${retired.prefix} (${retired.note})`)
    }
  }
  return spec
}

/** Bounds of a range inside one repository, relative to its prefix; `limit` caps what is read. */
export interface RangeOptions {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  limit?: number
  reverse?: boolean
}

export interface EntriesOptions extends RangeOptions {
  /**
   * Called with each value the codec refuses, and the walk goes on (a role that can drop what no longer decodes,
   * as a catalog drops a record it can fetch again). Without it the walk throws the `StoreValueError`.
   */
  onBadValue?: (err: StoreValueError) => void
}

/** The smallest string greater than every string that starts with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
}

type Op = AbstractBatchOperation<RoleDb, string, Uint8Array>

/** One repository of a store: keys relative to its prefix, values checked by its codec. */
export class Repository<T> {
  readonly name: string
  readonly prefix: string
  readonly #store: AnyRoleStore
  readonly #codec: Codec<T>

  constructor(store: AnyRoleStore, name: string, spec: RepositorySpec<T>) {
    this.#store = store
    this.name = name
    this.prefix = spec.prefix
    this.#codec = spec.codec
  }

  /** @internal the store this repository belongs to (batches refuse others). */
  get store(): AnyRoleStore {
    return this.#store
  }

  #decode(key: string, bytes: Uint8Array): T {
    try {
      return this.#codec.decode(bytes, this.#store.context)
    } catch (err) {
      throw new StoreValueError(
        this.#store.role,
        this.name,
        key,
        `not a valid ${this.#codec.name} value (${describe(err)})`,
      )
    }
  }

  /** @internal the batch operation that writes `value` under `key`, checked by the codec. */
  putOp(key: string, value: T): Op {
    let bytes: Uint8Array
    try {
      bytes = this.#codec.encode(value)
    } catch (err) {
      throw new StoreValueError(this.#store.role, this.name, key, `refused before writing (${describe(err)})`)
    }
    return { type: 'put', key: this.prefix + key, value: bytes }
  }

  /** @internal */
  delOp(key: string): Op {
    return { type: 'del', key: this.prefix + key }
  }

  async get(key: string): Promise<T | undefined> {
    const bytes = await this.#store.db.get(this.prefix + key)
    return bytes == null ? undefined : this.#decode(key, bytes)
  }

  async getMany(keys: readonly string[]): Promise<Array<T | undefined>> {
    if (keys.length === 0) return []
    const values = await this.#store.db.getMany(keys.map((key) => this.prefix + key))
    return values.map((bytes, i) => (bytes == null ? undefined : this.#decode(keys[i]!, bytes)))
  }

  async has(key: string): Promise<boolean> {
    return (await this.#store.db.get(this.prefix + key)) != null
  }

  /**
   * The bytes as stored, not decoded: only for handing them on to a peer that checks them itself (a catalog serving
   * the records it keeps, whose signatures every receiver verifies). What the role itself uses goes through `get`.
   */
  async getBytes(key: string): Promise<Uint8Array | undefined> {
    return (await this.#store.db.get(this.prefix + key)) ?? undefined
  }

  /** One atomic write of one value (several: `store.batch()`). */
  async put(key: string, value: T): Promise<void> {
    await this.#store.db.batch([this.putOp(key, value)])
  }

  async del(key: string): Promise<void> {
    await this.#store.db.del(this.prefix + key)
  }

  #bounds(options: RangeOptions) {
    const p = this.prefix
    return {
      ...(options.gt != null ? { gt: p + options.gt } : options.gte != null ? {} : { gte: p }),
      ...(options.gte != null ? { gte: p + options.gte } : {}),
      ...(options.lt != null ? { lt: p + options.lt } : options.lte != null ? {} : { lt: prefixEnd(p) }),
      ...(options.lte != null ? { lte: p + options.lte } : {}),
      limit: options.limit ?? -1,
      reverse: options.reverse ?? false,
    }
  }

  /** Keys (relative to the prefix) and checked values, in key order. */
  async *entries(options: EntriesOptions = {}): AsyncGenerator<[string, T]> {
    const cut = this.prefix.length
    for await (const [key, bytes] of this.#store.db.iterator(this.#bounds(options))) {
      const own = key.slice(cut)
      let value: T
      try {
        value = this.#decode(own, bytes)
      } catch (err) {
        if (options.onBadValue == null || !isError(err, StoreValueError)) throw err
        options.onBadValue(err)
        continue
      }
      yield [own, value]
    }
  }

  async *keys(options: RangeOptions = {}): AsyncGenerator<string> {
    const cut = this.prefix.length
    for await (const key of this.#store.db.keys(this.#bounds(options))) yield key.slice(cut)
  }

  async *values(options: EntriesOptions = {}): AsyncGenerator<T> {
    for await (const [, value] of this.entries(options)) yield value
  }

  /** How many keys, counting at most `limit`. */
  async count(limit = Number.MAX_SAFE_INTEGER): Promise<number> {
    let n = 0
    for await (const _ of this.#store.db.keys(this.#bounds({ limit }))) n++
    return n
  }
}

/** Writes to several repositories of one store, applied atomically by `write()`. */
export class StoreBatch {
  readonly #store: AnyRoleStore
  readonly #ops: Op[] = []

  constructor(store: AnyRoleStore) {
    this.#store = store
  }

  get size(): number {
    return this.#ops.length
  }

  #own(repository: Repository<unknown>): void {
    if (repository.store !== this.#store)
      throw new StoreUsageError(`repository ${repository.name} is not a repository of role ${this.#store.role}'s store`)
  }

  put<T>(repository: Repository<T>, key: string, value: T): this {
    this.#own(repository as Repository<unknown>)
    this.#ops.push(repository.putOp(key, value))
    return this
  }

  del(repository: Repository<unknown>, key: string): this {
    this.#own(repository)
    this.#ops.push(repository.delOp(key))
    return this
  }

  /** Delete a key as it is on disk: for migrations, whose old keys no repository names any more. */
  dropKey(key: string): this {
    this.#ops.push({ type: 'del', key })
    return this
  }

  /** @internal the new layout version, written with a migration's changes. */
  setVersion(key: string, bytes: Uint8Array): this {
    this.#ops.push({ type: 'put', key, value: bytes })
    return this
  }

  /** Apply every write at once (nothing when empty); `sync` makes it durable before it returns. */
  async write(options: { sync?: boolean } = {}): Promise<void> {
    if (this.#ops.length === 0) return
    await this.#store.db.batch(this.#ops, options.sync === true ? ({ sync: true } as never) : {})
  }
}

export type RepositoriesOf<R extends Repositories> = {
  readonly [K in keyof R]: R[K] extends RepositorySpec<infer T> ? Repository<T> : never
}

/** The layout version as most roles keep it: a DAG-CBOR integer. */
const VERSION_CBOR: Codec<number> = {
  name: 'dag-cbor',
  encode: (version) => dagCbor.encode(version),
  decode(bytes) {
    const value: unknown = dagCbor.decode(bytes)
    if (typeof value !== 'number') throw new Error(`${String(value)} is not a number`)
    return value
  },
}

/** A role's store: its declared repositories over its own sublevel of the node's LevelDB. */
export class RoleStore<R extends Repositories, S extends string = never> {
  readonly role: RoleName
  readonly layout: LayoutSpec<R, S>
  readonly context: StoreContext
  readonly repositories: RepositoriesOf<R>
  /** @internal the role's sublevel: repositories and batches write through it. */
  readonly db: RoleDb

  constructor(db: RoleDb, layout: LayoutSpec<R, S>, context: StoreContext) {
    this.db = db
    this.role = layout.role
    this.layout = layout
    this.context = context
    this.repositories = Object.fromEntries(
      Object.entries(layout.repositories).map(([name, spec]) => [name, new Repository(this, name, spec)]),
    ) as RepositoriesOf<R>
  }

  /**
   * Check the layout version before the role uses the store: a fresh store gets the current version, a store with
   * data and no version is `unversioned`, and a version other than the current one is refused.
   */
  async open(): Promise<void> {
    const { version, versionKey } = this.layout
    const codec = this.layout.versionCodec ?? VERSION_CBOR
    const stored = await this.db.get(versionKey)
    if (stored == null) {
      let fresh = true
      for await (const _ of this.db.keys({ limit: 1 })) fresh = false
      const found = fresh ? version : (this.layout.unversioned ?? 1)
      if (found === version) await this.db.put(versionKey, codec.encode(version))
      else await this.#migrate(found, `${found} (unversioned)`)
      return
    }
    let found: unknown
    try {
      found = codec.decode(stored, this.context)
    } catch (err) {
      throw new StoreValueError(
        this.role,
        'layout version',
        versionKey,
        `not a ${codec.name} version (${describe(err)})`,
      )
    }
    if (found === version) return
    if (typeof found !== 'number' || found > version) throw new StoreLayoutVersionError(this.role, found, version)
    await this.#migrate(found, found)
  }

  /** Take the store from `from` to the current version, one migration (one atomic batch) at a time. */
  async #migrate(from: number, shown: unknown): Promise<void> {
    const { version, versionKey } = this.layout
    const codec = this.layout.versionCodec ?? VERSION_CBOR
    const missing = Array.from({ length: version - from }, (_, i) => from + i).filter(
      (step) => !(this.layout.migrations ?? []).some((m) => m.from === step),
    )
    if (from > version || missing.length > 0) throw new StoreLayoutVersionError(this.role, shown, version)
    for (let step = from; step < version; step++) {
      const migration = this.layout.migrations!.find((m) => m.from === step)!
      const batch = this.batch()
      const db = this.db
      await migration.migrate({
        batch,
        repositories: this.repositories,
        async *raw(prefix: string) {
          for await (const entry of db.iterator({ gte: prefix, lt: prefixEnd(prefix) })) yield entry
        },
      })
      await batch.setVersion(versionKey, codec.encode(step + 1)).write({ sync: true })
      log('role %s: store migrated from layout %d to %d (%s)', this.role, step, step + 1, migration.note)
    }
  }

  batch(): StoreBatch {
    return new StoreBatch(this)
  }

  /** Every value's bytes as they are on disk, version and sublevels included (tests and audits of what is kept). */
  async *rawValues(): AsyncGenerator<Uint8Array> {
    for await (const value of this.db.values()) yield value
  }

  /** A declared sublevel (its values are bytes; its user brings its own codec). */
  sublevel(name: S): RoleDb {
    if (!(this.layout.sublevels ?? []).includes(name))
      throw new StoreUsageError(`role ${this.role}: no sublevel ${name} in its layout`)
    return this.db.sublevel(name, { valueEncoding: 'view' }) as unknown as RoleDb
  }
}
