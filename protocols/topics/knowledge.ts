import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { SignedRecord } from '../records/envelope.ts'
import { ACCEPT, type Accept, type Ignore, ignore, type Version } from './spec.ts'

/** Versioned records (contracts, offers, releases, manifests) whose newest version one node remembers. */
export const MAX_REMEMBERED_HEADS = 100_000
/** Records whose signer one node remembers, so that it can tell who may revoke them. */
export const MAX_REMEMBERED_SIGNERS = 100_000
/** Revoked record ids one node remembers with who revoked them (the roles keep theirs in LevelDB). */
export const MAX_REMEMBERED_REVOCATIONS = 100_000
/** Different keys remembered as revokers of one record: the record's own signer and a few anchors are all that count. */
export const MAX_REVOKERS_PER_RECORD = 8

/** Refusal codes of the sequence rule, the same for every versioned record. */
export const SEQUENCE_CODES = {
  stale: 'ERR_STALE_SEQUENCE',
  conflicting: 'ERR_CONFLICTING_SEQUENCE',
} as const

/** Keys as this module writes them: lowercase hex. */
export const keyHex = (key: Uint8Array): string => toHex(key)

/** The newest version known under a key: its sequence number and the record's id. */
export interface Head {
  seq: number
  id: string
}

/**
 * The sequence rule, decided once for every versioned record on every topic: a lower `seq` than the newest known is
 * stale; the same `seq` as the newest known but another record is a conflict (its signer signed two versions under
 * one number). Both are `ignore`: which of two conflicting records a node saw first depends on where it sits, and an
 * honest peer that forwarded the other one must not be punished for it. The version seen first stands until its
 * signer publishes a higher `seq`. The same record again (a re-announcement) is accepted.
 */
export function sequenceVerdict(version: Version, id: string, head: Head | undefined): Accept | Ignore {
  if (head == null) return ACCEPT
  if (version.seq < head.seq) {
    return ignore(SEQUENCE_CODES.stale, `${version.key} seq ${version.seq} is older than seq ${head.seq} (${head.id})`)
  }
  if (version.seq === head.seq && id !== head.id) {
    return ignore(
      SEQUENCE_CODES.conflicting,
      `${version.key} seq ${version.seq} is already ${head.id}; ${id} is another record under the same number`,
    )
  }
  return ACCEPT
}

/**
 * What a subscriber's own store knows, offered to the topic's rule so that a node remembers across restarts what its
 * memory forgot: state, never rules. Every lookup is optional; answers add to what the node's memory knows.
 */
export interface TopicLookups {
  /** The newest version of this record's versioned key that the subscriber holds. */
  latest?(record: SignedRecord): Head | undefined | Promise<Head | undefined>
  /** Keys (hex) the subscriber recorded as having revoked the record with this id. */
  revokers?(id: CID): readonly string[] | Promise<readonly string[]>
  /** The signer (hex) of the record with this id, if the subscriber holds that record. */
  signerOf?(id: CID): string | undefined | Promise<string | undefined>
}

/** What a node knows of the records its topics carried: its memory, and every subscriber's lookups. */
export interface Knowledge {
  /** The newest version known under this version's key. */
  head(record: SignedRecord, version: Version): Promise<Head | undefined>
  /** Who (hex keys) revoked the record with this id. */
  revokers(id: CID): Promise<ReadonlySet<string>>
  /** Who (hex key) signed the record with this id, if it is known here. */
  signerOf(id: CID): Promise<string | undefined>
}

/** An insertion-ordered map that forgets its oldest entry beyond a cap. */
export class BoundedMap<V> {
  readonly #map = new Map<string, V>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  get(key: string): V | undefined {
    return this.#map.get(key)
  }

  set(key: string, value: V): void {
    if (!this.#map.has(key) && this.#map.size >= this.#max) {
      const oldest = this.#map.keys().next()
      if (oldest.done !== true) this.#map.delete(oldest.value)
    }
    this.#map.set(key, value)
  }

  get size(): number {
    return this.#map.size
  }
}

/**
 * The node's own memory of its topics, whatever roles it plays: the newest version of every versioned record it
 * accepted or published, the signer of each, and who revoked what. Bounded (oldest forgotten first), in memory: the
 * roles' stores, through their lookups, remember across restarts. One per node, shared by its topics, since a
 * contract's rule needs the revocations topic's news.
 */
export class TopicMemory {
  readonly #heads: BoundedMap<Head>
  readonly #signers: BoundedMap<string>
  readonly #revokers: BoundedMap<string[]>

  constructor(limits: { heads?: number; signers?: number; revocations?: number } = {}) {
    this.#heads = new BoundedMap(limits.heads ?? MAX_REMEMBERED_HEADS)
    this.#signers = new BoundedMap(limits.signers ?? MAX_REMEMBERED_SIGNERS)
    this.#revokers = new BoundedMap(limits.revocations ?? MAX_REMEMBERED_REVOCATIONS)
  }

  head(key: string): Head | undefined {
    return this.#heads.get(key)
  }

  signerOf(id: CID | string): string | undefined {
    return this.#signers.get(id.toString())
  }

  /** Who (hex keys) revoked the record with this id, as far as this node saw. */
  revokers(id: CID | string): readonly string[] {
    return this.#revokers.get(id.toString()) ?? []
  }

  /**
   * Take a version in if the sequence rule lets it: compare with the newest version remembered and, unless stale or
   * conflicting, remember this one. Synchronous, so that two messages judged at once cannot both become the head.
   */
  admit(key: string, version: Version, record: SignedRecord): Accept | Ignore {
    const id = record.id.toString()
    const verdict = sequenceVerdict(version, id, this.#heads.get(key))
    if (verdict.result === 'accept') {
      this.#heads.set(key, { seq: version.seq, id })
      this.#signers.set(id, keyHex(record.signer))
    }
    return verdict
  }

  /** Remember a revocation's targets with its signer. */
  noteRevocation(record: SignedRecord<'consort/revocation'>): void {
    const by = keyHex(record.signer)
    for (const target of record.body.targets) {
      const id = target.id.toString()
      const known = this.#revokers.get(id) ?? []
      if (known.includes(by) || known.length >= MAX_REVOKERS_PER_RECORD) continue
      this.#revokers.set(id, [...known, by])
    }
  }
}
