import type { CID } from 'multiformats/cid'
import { z } from 'zod'
import { codecs, defineLayout, type Repository, type RoleStore, repository, stored } from '../store.ts'
import { MAX_HISTORY } from './constants.ts'
import type { ImportIssue } from './errors.ts'

/**
 * The role's state in its store (`PRODUCTION_LAYOUT`): string keys under one prefix per kind, DAG-CBOR values. Every change
 * of an import or a contract command is one atomic batch, written after the blocks it points to are stored, so a
 * crash leaves either the old state or the new one. Prefixes are never reused for another kind.
 *
 * | prefix | value |
 * | --- | --- |
 * | `r/<release key>` | `ReleaseState`: what is published for a release, its versions, its contracts |
 * | `a/<identity key>` | the release key an identity key (`icpn:`, `grid:`, `isrc:`…) belongs to (UTF-8 text) |
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

const status = z.enum(['active', 'withdrawn'])

const releaseState: z.ZodType<ReleaseState> = z.strictObject({
  key: z.string().min(1),
  aliases: z.array(z.string()),
  title: z.string(),
  seq: stored.count,
  record: stored.cid.nullable(),
  history: z.array(stored.cid),
  tracks: z.array(z.string()),
  contracts: z.array(z.string()),
  digest: stored.bytes,
  status,
  updated: stored.count,
  warnings: z.array(z.strictObject({ path: z.string(), value: z.string(), message: z.string() })).optional(),
})

const trackState: z.ZodType<TrackState> = z.strictObject({
  isrc: z.string().min(1),
  seq: stored.count,
  manifest: stored.cid,
  history: z.array(stored.cid),
  audio: stored.bytes,
  segmentSize: stored.count,
  clip: z.strictObject({ startMs: stored.count, durationMs: stored.count }),
  keyId: stored.bytes,
  sealedKey: stored.bytes,
  releases: z.array(z.string()),
  status,
})

const contractState: z.ZodType<ContractState> = z.strictObject({
  contractId: z.string().min(1),
  seq: stored.count,
  record: stored.cid,
  history: z.array(stored.cid),
  status: z.enum(['active', 'revoked']),
  origin: z.enum(['release', 'manual']),
  release: z.string().nullable(),
  revocation: stored.cid.nullable(),
})

const outboxEntry: z.ZodType<OutboxEntry> = z.strictObject({
  id: z.string().min(1),
  registrar: stored.bytes,
  escrows: z.array(stored.bytes),
  manifests: z.array(stored.bytes),
  release: stored.bytes.nullable(),
  attempts: stored.count,
  created: stored.count,
  lastError: z.string().nullable(),
})

/** The layout above as the role's store (version 1: the layout it has had since it began, recorded from now on). */
export const PRODUCTION_LAYOUT = defineLayout({
  role: 'production',
  version: 1,
  versionKey: 'meta/layout-version',
  repositories: {
    releases: repository('r/', codecs.cbor(releaseState)),
    aliases: repository('a/', codecs.text),
    tracks: repository('t/', codecs.cbor(trackState)),
    contracts: repository('c/', codecs.cbor(contractState)),
    outbox: repository('o/', codecs.cbor(outboxEntry)),
  },
})

export type ProductionRoleStore = RoleStore<(typeof PRODUCTION_LAYOUT)['repositories']>
type Repos = ProductionRoleStore['repositories']

/** Keep the newest `MAX_HISTORY` versions. */
export function withHistory(history: readonly CID[], id: CID): CID[] {
  const list = history.some((h) => h.equals(id)) ? [...history] : [...history, id]
  return list.slice(-MAX_HISTORY)
}

/** Collects the writes of one change; `write()` applies them atomically. */
export class StateBatch {
  readonly #batch
  readonly #repos: Repos

  constructor(store: ProductionRoleStore) {
    this.#batch = store.batch()
    this.#repos = store.repositories
  }

  get size(): number {
    return this.#batch.size
  }

  putRelease(state: ReleaseState): this {
    this.#batch.put(this.#repos.releases, state.key, state)
    for (const alias of state.aliases) this.#batch.put(this.#repos.aliases, alias, state.key)
    return this
  }

  putTrack(state: TrackState): this {
    this.#batch.put(this.#repos.tracks, state.isrc, state)
    return this
  }

  putContract(state: ContractState): this {
    this.#batch.put(this.#repos.contracts, state.contractId, state)
    return this
  }

  putOutbox(entry: OutboxEntry): this {
    this.#batch.put(this.#repos.outbox, entry.id, entry)
    return this
  }

  deleteOutbox(id: string): this {
    this.#batch.del(this.#repos.outbox, id)
    return this
  }

  async write(): Promise<void> {
    await this.#batch.write()
  }
}

export class ProductionState {
  readonly #store: ProductionRoleStore
  readonly #repos: Repos

  constructor(store: ProductionRoleStore) {
    this.#store = store
    this.#repos = store.repositories
  }

  batch(): StateBatch {
    return new StateBatch(this.#store)
  }

  getRelease(key: string): Promise<ReleaseState | undefined> {
    return this.#repos.releases.get(key)
  }

  releaseKeyOf(alias: string): Promise<string | undefined> {
    return this.#repos.aliases.get(alias)
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
    return this.#repos.tracks.get(isrc)
  }

  getContract(contractId: string): Promise<ContractState | undefined> {
    return this.#repos.contracts.get(contractId)
  }

  async #list<T>(repository: Repository<T>, after: string | undefined, limit: number): Promise<T[]> {
    const out: T[] = []
    for await (const value of repository.values({ ...(after == null ? {} : { gt: after }), limit })) out.push(value)
    return out
  }

  listReleases(after: string | undefined, limit: number): Promise<ReleaseState[]> {
    return this.#list(this.#repos.releases, after, limit)
  }

  listTracks(after: string | undefined, limit: number): Promise<TrackState[]> {
    return this.#list(this.#repos.tracks, after, limit)
  }

  listContracts(after: string | undefined, limit: number): Promise<ContractState[]> {
    return this.#list(this.#repos.contracts, after, limit)
  }

  listOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.#list(this.#repos.outbox, undefined, limit)
  }

  /** Entries of every kind, up to `limit` (operators' and tests' view of how much state there is). */
  async countEntries(limit = Number.MAX_SAFE_INTEGER): Promise<number> {
    let n = 0
    for (const repository of Object.values(this.#repos)) {
      if (n >= limit) break
      n += await repository.count(limit - n)
    }
    return n
  }

  getOutbox(id: string): Promise<OutboxEntry | undefined> {
    return this.#repos.outbox.get(id)
  }
}
