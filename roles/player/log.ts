import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { signingPayload } from '../../protocols/records/envelope.ts'
import { LOG_ENTRY_DOMAIN, LOG_ENTRY_VERSION, LOG_HEAD_DOMAIN, MAX_LOG_ENTRY_BYTES } from './constants.ts'
import { StoreTamperedError } from './errors.ts'
import type { PlayerRoleStore } from './store.ts'

/**
 * The player's tamper-evident log: a hash chain of entries, each signed by the device key, in the player's
 * store (`PLAYER_LAYOUT`: its `entries` and `head` repositories). The layout is specified in `README.md` ("The local store").
 *
 *   log!<seq, 16 digits>  dagCbor({ v, seq, prev, at, kind, data, sig })
 *   meta!head             dagCbor({ v, seq, hash, base, sig })     the last entry and the first one kept
 *
 * `sig` = Ed25519(device, "consort/v1/player-log" ‖ 0x00 ‖ dagCbor({ v, seq, prev, at, kind, data })), `prev` is the
 * SHA-256 of the previous entry's stored bytes (null for seq 0), and the head is signed under its own domain over
 * `{ v, seq, hash, base }`. Editing any byte of an entry breaks its signature or the next entry's `prev`; deleting
 * or reordering entries breaks the sequence, the chain or the head; deleting the head while entries remain, or
 * deleting the tail, disagrees with the head. Only the device key can write a chain that verifies.
 */

const log = logger('consort:player:log')

const SEQ_DIGITS = 16
const HASH_BYTES = 32

export interface LogEntry {
  readonly seq: number
  readonly prev: Uint8Array | null
  /** When the entry was written (the node's clock, ms). */
  readonly at: number
  readonly kind: string
  readonly data: unknown
  /** SHA-256 of the stored bytes: the next entry's `prev`. */
  readonly hash: Uint8Array
}

/** What an append adds: the log assigns `seq`, `prev` and the signature. */
export interface NewEntry {
  kind: string
  data: unknown
}

interface Head {
  seq: number
  hash: Uint8Array
  base: number
}

/** An entry's key in the `entries` repository. */
function seqKey(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0')
}

/** An entry's key as it is on disk (tests edit the store behind the log's back). */
export function entryKey(seq: number): string {
  return `log!${seqKey(seq)}`
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

function equal(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  return a.length === b.length && Buffer.compare(a, b) === 0
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value != null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
}

function fieldsOf(map: Record<string, unknown>): string {
  return Object.keys(map).sort().join(',')
}

/** Encode and sign an entry. */
export function encodeEntry(
  signer: Signer,
  fields: { seq: number; prev: Uint8Array | null; at: number; kind: string; data: unknown },
): Uint8Array {
  const unsigned = { v: LOG_ENTRY_VERSION, ...fields }
  const sig = signer.sign(signingPayload(LOG_ENTRY_DOMAIN, dagCbor.encode(unsigned)))
  return dagCbor.encode({ ...unsigned, sig })
}

/**
 * Decode one stored entry and check its own signature (not its place in the chain). Returns the entry, or a
 * description of what is wrong with it.
 */
export function decodeEntry(bytes: Uint8Array, device: Uint8Array): LogEntry | string {
  if (bytes.length > MAX_LOG_ENTRY_BYTES) return `${bytes.length} bytes, more than ${MAX_LOG_ENTRY_BYTES}`
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    return `not DAG-CBOR (${(err as Error).message})`
  }
  if (!isMap(value)) return 'not a map'
  if (fieldsOf(value) !== 'at,data,kind,prev,seq,sig,v') return `fields are ${fieldsOf(value)}`
  const { v, seq, prev, at, kind, data, sig } = value
  if (v !== LOG_ENTRY_VERSION) return `version ${String(v)}`
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'seq is not a sequence number'
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return 'at is not a time'
  if (typeof kind !== 'string' || kind.length === 0 || kind.length > 64) return 'kind is not a name'
  if (prev !== null && !(prev instanceof Uint8Array && prev.length === HASH_BYTES)) return 'prev is not a hash'
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return 'sig is not a signature'
  const unsigned = dagCbor.encode({ v, seq, prev, at, kind, data })
  if (!ed25519Verify(device, signingPayload(LOG_ENTRY_DOMAIN, unsigned), sig)) {
    return 'the device signature does not verify'
  }
  return { seq, prev: prev as Uint8Array | null, at, kind, data, hash: sha256(bytes) }
}

function encodeHead(signer: Signer, head: Head): Uint8Array {
  const unsigned = { v: LOG_ENTRY_VERSION, seq: head.seq, hash: head.hash, base: head.base }
  const sig = signer.sign(signingPayload(LOG_HEAD_DOMAIN, dagCbor.encode(unsigned)))
  return dagCbor.encode({ ...unsigned, sig })
}

function decodeHead(bytes: Uint8Array, device: Uint8Array): Head | string {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    return `not DAG-CBOR (${(err as Error).message})`
  }
  if (!isMap(value)) return 'not a map'
  if (fieldsOf(value) !== 'base,hash,seq,sig,v') return `fields are ${fieldsOf(value)}`
  const { v, seq, hash, base, sig } = value
  if (v !== LOG_ENTRY_VERSION) return `version ${String(v)}`
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'seq is not a sequence number'
  if (typeof base !== 'number' || !Number.isSafeInteger(base) || base < 0 || base > seq) return 'base is out of range'
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) return 'hash is not a hash'
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return 'sig is not a signature'
  const unsigned = dagCbor.encode({ v, seq, hash, base })
  if (!ed25519Verify(device, signingPayload(LOG_HEAD_DOMAIN, unsigned), sig)) {
    return 'the device signature does not verify'
  }
  return { seq, hash, base }
}

/** An entry that still carries a valid device signature, found by `salvage` whatever the state of the chain. */
export interface SalvagedEntry extends LogEntry {
  /** Whether it sits in its place in an unbroken chain from the start. */
  chained: boolean
}

export interface TamperEvidentLogInit {
  store: PlayerRoleStore
  /** The device key: signs every entry and the head. */
  signer: Signer
}

/**
 * The hash-chained, device-signed log. `open()` verifies the whole chain and returns its entries; `append()` adds
 * entries atomically (with the head); `verifyUnchanged()` re-reads the store and compares it with what was
 * verified, which is how the player checks the store before each use without re-checking every signature.
 * Appends must not run concurrently (the role serialises them).
 */
export class TamperEvidentLog {
  readonly #store: PlayerRoleStore
  readonly #entries: PlayerRoleStore['repositories']['entries']
  readonly #head: PlayerRoleStore['repositories']['head']
  readonly #signer: Signer
  /** SHA-256 of every kept entry, by seq - base. */
  #hashes: Uint8Array[] = []
  #base = 0
  #headBytes: Uint8Array | null = null
  #opened = false
  /** Reads that compare with the verified state and writes that change it never interleave. */
  #lock: Promise<unknown> = Promise.resolve()

  constructor(init: TamperEvidentLogInit) {
    this.#store = init.store
    this.#entries = init.store.repositories.entries
    this.#head = init.store.repositories.head
    this.#signer = init.signer
  }

  /** Entries kept (after the last compaction). */
  get size(): number {
    return this.#hashes.length
  }

  /** The sequence number the next entry gets. */
  get nextSeq(): number {
    return this.#base + this.#hashes.length
  }

  get base(): number {
    return this.#base
  }

  /**
   * Read and verify the whole chain. Throws `StoreTamperedError` naming the first fault; on success the log is
   * open for appends and the verified entries are returned in order.
   */
  async open(): Promise<LogEntry[]> {
    this.#opened = false
    const device = this.#signer.publicKey
    const headBytes = (await this.#head.get('')) ?? null
    let head: Head | null = null
    if (headBytes != null) {
      const decoded = decodeHead(headBytes, device)
      if (typeof decoded === 'string') throw new StoreTamperedError(null, `the head: ${decoded}`)
      head = decoded
    }
    const entries: LogEntry[] = []
    let expected = head?.base ?? 0
    for await (const [key, bytes] of this.#entries.entries()) {
      const decoded = decodeEntry(bytes, device)
      const seqOfKey = Number(key)
      if (typeof decoded === 'string') throw new StoreTamperedError(seqOfKey, `entry ${seqOfKey}: ${decoded}`)
      if (decoded.seq !== seqOfKey) {
        throw new StoreTamperedError(seqOfKey, `entry stored as ${seqOfKey} says it is ${decoded.seq}`)
      }
      if (decoded.seq !== expected) {
        throw new StoreTamperedError(
          expected,
          decoded.seq < expected
            ? `entry ${decoded.seq} precedes the first kept entry`
            : `entry ${expected} is missing`,
        )
      }
      const previous = entries.at(-1)
      if (previous === undefined) {
        if (expected === 0 && decoded.prev !== null) throw new StoreTamperedError(0, 'the first entry has a prev')
        if (expected > 0 && decoded.kind !== 'snapshot') {
          throw new StoreTamperedError(expected, `the first kept entry is a ${decoded.kind}, not a snapshot`)
        }
      } else if (!equal(decoded.prev, previous.hash)) {
        throw new StoreTamperedError(decoded.seq, `entry ${decoded.seq} does not link to entry ${previous.seq}`)
      }
      entries.push(decoded)
      expected++
    }
    const last = entries.at(-1)
    if (head === null) {
      if (last !== undefined) throw new StoreTamperedError(null, 'entries are there but the head is missing')
    } else {
      if (last === undefined) throw new StoreTamperedError(head.seq, `the head names entry ${head.seq}; none is left`)
      if (last.seq !== head.seq) {
        throw new StoreTamperedError(
          last.seq,
          `the head names entry ${head.seq} as the last, the store ends at ${last.seq}`,
        )
      }
      if (!equal(last.hash, head.hash))
        throw new StoreTamperedError(last.seq, `entry ${last.seq} is not the one the head names`)
      if (entries[0]?.seq !== head.base)
        throw new StoreTamperedError(head.base, 'the first entry is not the head’s base')
    }
    this.#hashes = entries.map((e) => e.hash)
    this.#base = head?.base ?? 0
    this.#headBytes = headBytes
    this.#opened = true
    log('opened: %d entries from %d', entries.length, this.#base)
    return entries
  }

  /**
   * Re-read the store and compare it with what was verified and written since: cheap (one hash per entry, no
   * signature), and it catches any edit made on disk while the node runs. Throws `StoreTamperedError`.
   */
  async verifyUnchanged(): Promise<void> {
    return await this.#locked(() => this.#verifyUnchanged())
  }

  async #verifyUnchanged(): Promise<void> {
    this.#assertOpen()
    const headBytes = (await this.#head.get('')) ?? null
    if (!equal(headBytes, this.#headBytes)) throw new StoreTamperedError(null, 'the head changed')
    let index = 0
    for await (const [key, bytes] of this.#entries.entries()) {
      const seq = this.#base + index
      if (key !== seqKey(seq)) {
        throw new StoreTamperedError(seq, `found ${key} where entry ${seq} belongs`)
      }
      const expected = this.#hashes[index]
      if (expected === undefined) throw new StoreTamperedError(seq, `entry ${seq} was added behind the player’s back`)
      if (!equal(sha256(bytes), expected)) throw new StoreTamperedError(seq, `entry ${seq} changed`)
      index++
    }
    if (index !== this.#hashes.length) {
      throw new StoreTamperedError(this.#base + index, `entries ${this.#base + index}… are missing`)
    }
  }

  /** Append entries atomically (one batch with the new head); returns them as stored. */
  async append(entries: readonly NewEntry[], at: number): Promise<LogEntry[]> {
    return await this.#locked(() => this.#append(entries, at))
  }

  async #append(entries: readonly NewEntry[], at: number): Promise<LogEntry[]> {
    this.#assertOpen()
    if (entries.length === 0) return []
    const batch = this.#store.batch()
    const written: LogEntry[] = []
    let prev = this.#hashes.at(-1) ?? null
    let seq = this.nextSeq
    for (const entry of entries) {
      const bytes = encodeEntry(this.#signer, { seq, prev, at, kind: entry.kind, data: entry.data })
      if (bytes.length > MAX_LOG_ENTRY_BYTES) {
        throw new RangeError(`a ${entry.kind} log entry of ${bytes.length} bytes exceeds ${MAX_LOG_ENTRY_BYTES}`)
      }
      const hash = sha256(bytes)
      batch.put(this.#entries, seqKey(seq), bytes)
      written.push({ seq, prev, at, kind: entry.kind, data: entry.data, hash })
      prev = hash
      seq++
    }
    const head = encodeHead(this.#signer, { seq: seq - 1, hash: prev!, base: this.#base })
    batch.put(this.#head, '', head)
    await batch.write()
    this.#hashes.push(...written.map((e) => e.hash))
    this.#headBytes = head
    return written
  }

  /**
   * Replace every kept entry by one `snapshot` entry (which carries the state they add up to), in one batch: the
   * snapshot links to the last entry it replaces, and the head's base moves to it.
   */
  async compact(snapshot: NewEntry, at: number): Promise<LogEntry> {
    return await this.#locked(() => this.#compact(snapshot, at))
  }

  async #compact(snapshot: NewEntry, at: number): Promise<LogEntry> {
    this.#assertOpen()
    const seq = this.nextSeq
    const prev = this.#hashes.at(-1) ?? null
    const bytes = encodeEntry(this.#signer, { seq, prev, at, kind: snapshot.kind, data: snapshot.data })
    const hash = sha256(bytes)
    const batch = this.#store.batch()
    for (let s = this.#base; s < seq; s++) batch.del(this.#entries, seqKey(s))
    batch.put(this.#entries, seqKey(seq), bytes)
    const head = encodeHead(this.#signer, { seq, hash, base: seq })
    batch.put(this.#head, '', head)
    await batch.write()
    this.#hashes = [hash]
    this.#base = seq
    this.#headBytes = head
    return { seq, prev, at, kind: snapshot.kind, data: snapshot.data, hash }
  }

  /**
   * Every stored entry that still carries a valid device signature, whatever the state of the chain (for a
   * resynchronisation after tampering). `chained` tells whether it sits in an unbroken chain from the first one.
   */
  async salvage(): Promise<{ entries: SalvagedEntry[]; unreadable: number }> {
    const device = this.#signer.publicKey
    const entries: SalvagedEntry[] = []
    let unreadable = 0
    let chainIntact = true
    let previous: LogEntry | undefined
    for await (const [key, bytes] of this.#entries.entries()) {
      const decoded = decodeEntry(bytes, device)
      if (typeof decoded === 'string' || decoded.seq !== Number(key)) {
        unreadable++
        chainIntact = false
        continue
      }
      if (previous !== undefined && (decoded.seq !== previous.seq + 1 || !equal(decoded.prev, previous.hash))) {
        chainIntact = false
      }
      entries.push({ ...decoded, chained: chainIntact })
      previous = decoded
    }
    return { entries, unreadable }
  }

  /**
   * Drop every entry and the head, then write `entries` as a new chain from seq 0, in one batch (a resync starts
   * a fresh chain from what it restored).
   */
  async reset(entries: readonly NewEntry[], at: number): Promise<LogEntry[]> {
    return await this.#locked(() => this.#reset(entries, at))
  }

  async #reset(entries: readonly NewEntry[], at: number): Promise<LogEntry[]> {
    const batch = this.#store.batch()
    for await (const key of this.#entries.keys()) batch.del(this.#entries, key)
    batch.del(this.#head, '')
    const written: LogEntry[] = []
    let prev: Uint8Array | null = null
    entries.forEach((entry, seq) => {
      const bytes = encodeEntry(this.#signer, { seq, prev, at, kind: entry.kind, data: entry.data })
      const hash = sha256(bytes)
      batch.put(this.#entries, seqKey(seq), bytes)
      written.push({ seq, prev, at, kind: entry.kind, data: entry.data, hash })
      prev = hash
    })
    let head: Uint8Array | null = null
    if (written.length > 0) {
      head = encodeHead(this.#signer, { seq: written.length - 1, hash: prev!, base: 0 })
      batch.put(this.#head, '', head)
    }
    await batch.write()
    this.#hashes = written.map((e) => e.hash)
    this.#base = 0
    this.#headBytes = head
    this.#opened = true
    return written
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn)
    this.#lock = run.catch(() => {})
    return run
  }

  #assertOpen(): void {
    if (!this.#opened) throw new StoreTamperedError(null, 'the store has not been verified')
  }
}
