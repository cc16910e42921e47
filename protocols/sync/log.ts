import { createHash, randomBytes } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import type { AbstractSublevel } from 'abstract-level'
import type { Clock } from '../clock.ts'
import type { Acceptance } from '../topics/bus.ts'
import { TOPIC_NAMES, type TopicName } from '../topics/names.ts'
import { SYNC_LOG_MAX_ENTRIES, SYNC_MAX_CURSORS, SYNC_PAGE_BYTES, SYNC_TOPICS } from './constants.ts'
import { SyncLogCorruptError } from './errors.ts'

// biome-ignore lint/suspicious/noExplicitAny: the parent database's type does not matter to a sublevel's user
export type SyncDb = AbstractSublevel<any, string | Uint8Array | Buffer, string, Uint8Array>

/** One message of the log, as kept and as listed. */
export interface LogEntry {
  seq: number
  topic: TopicName
  data: Uint8Array
  /** The lead record's id and type, for listing without decoding. */
  id: string
  type: string
  /** When this node accepted it (its clock, ms). */
  at: number
  via: Acceptance['via']
}

export interface Cursor {
  epoch: string
  after: number
}

const SEQ_DIGITS = 15
const seqKey = (seq: number) => `m!${seq.toString().padStart(SEQ_DIGITS, '0')}`
const hashKey = (hash: string) => `h!${hash}`
const cursorKey = (peer: string) => `c!${peer}`
const META_EPOCH = 'meta!epoch'
const META_FIRST = 'meta!first'

export function messageHash(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * The node's catch-up log: every message it accepted or published on the topics that matter after an absence, in
 * the order it took them in, numbered from 1. A message is kept once (by the hash of its bytes). The log has an
 * epoch, new when the log starts afresh, so that a peer's cursor into an older log is not misread. It is bounded
 * (`SYNC_LOG_MAX_ENTRIES`); the oldest messages go first. Peers' cursors into their logs are kept here too.
 */
export class SyncLog {
  readonly #db: SyncDb
  readonly #clock: Clock
  readonly #maxEntries: number
  #epoch = ''
  #first = 1
  #last = 0
  /** Appends run one at a time, so that sequence numbers and the hash index agree. */
  #tail: Promise<unknown> = Promise.resolve()
  readonly #cursorOrder = new Map<string, true>()

  constructor(init: { db: SyncDb; clock: Clock; maxEntries?: number }) {
    this.#db = init.db
    this.#clock = init.clock
    this.#maxEntries = init.maxEntries ?? SYNC_LOG_MAX_ENTRIES
  }

  get epoch(): string {
    return this.#epoch
  }

  /** Entries held. */
  get size(): number {
    return this.#last - this.#first + 1
  }

  get last(): number {
    return this.#last
  }

  async open(): Promise<void> {
    const epoch = await this.#db.get(META_EPOCH)
    if (epoch == null) {
      // Not the node's injected randomness: an epoch only has to differ from the last one, and drawing it from a
      // simulation's seeded generator would shift every draw after it.
      this.#epoch = randomBytes(16).toString('hex')
      await this.#db.put(META_EPOCH, new TextEncoder().encode(this.#epoch))
    } else {
      this.#epoch = new TextDecoder().decode(epoch)
    }
    const first = await this.#db.get(META_FIRST)
    this.#first = first == null ? 1 : Number(new TextDecoder().decode(first))
    for await (const key of this.#db.keys({ gte: 'm!', lt: 'm"', reverse: true, limit: 1 })) {
      this.#last = Number(key.slice(2))
    }
    if (this.#last < this.#first - 1) this.#last = this.#first - 1
    for await (const key of this.#db.keys({ gte: 'c!', lt: 'c"', limit: SYNC_MAX_CURSORS })) {
      this.#cursorOrder.set(key.slice(2), true)
    }
  }

  async has(data: Uint8Array): Promise<boolean> {
    return (await this.#db.get(hashKey(messageHash(data)))) != null
  }

  /** Append an accepted message unless the log has it; answers its position, or null when it was there already. */
  append(acceptance: Acceptance): Promise<number | null> {
    if (!SYNC_TOPICS.includes(acceptance.topic)) return Promise.resolve(null)
    const run = this.#tail.then(() => this.#append(acceptance))
    this.#tail = run.catch(() => {})
    return run
  }

  async #append(acceptance: Acceptance): Promise<number | null> {
    const hash = messageHash(acceptance.data)
    if ((await this.#db.get(hashKey(hash))) != null) return null
    const seq = this.#last + 1
    const entry = encodeEntry({
      topic: acceptance.topic,
      data: acceptance.data,
      id: acceptance.record.id.toString(),
      type: acceptance.record.type,
      at: this.#clock.now(),
      via: acceptance.via,
    })
    const batch = this.#db
      .batch()
      .put(seqKey(seq), entry)
      .put(hashKey(hash), new TextEncoder().encode(String(seq)))
    let first = this.#first
    const drop: string[] = []
    while (seq - first + 1 > this.#maxEntries) {
      drop.push(seqKey(first))
      first += 1
    }
    for (const key of drop) {
      const old = await this.#db.get(key)
      if (old != null) batch.del(hashKey(messageHash(decodeEntry(key, old).data)))
      batch.del(key)
    }
    if (first !== this.#first) batch.put(META_FIRST, new TextEncoder().encode(String(first)))
    await batch.write()
    this.#last = seq
    this.#first = first
    return seq
  }

  /**
   * Entries on `topics` after position `after`, at most `limit` of them and about `SYNC_PAGE_BYTES` (at least one),
   * with the position the page reached and whether more follow.
   */
  async page(
    topics: readonly string[],
    after: number,
    limit: number,
  ): Promise<{ entries: LogEntry[]; next: number; more: boolean }> {
    const entries: LogEntry[] = []
    let bytes = 0
    let next = Math.max(after, this.#first - 1)
    for await (const [key, value] of this.#db.iterator({ gt: seqKey(next), lt: 'm"' })) {
      const entry = decodeEntry(key, value)
      if (topics.includes(entry.topic)) {
        if (entries.length >= limit || (entries.length > 0 && bytes + entry.data.length > SYNC_PAGE_BYTES)) break
        entries.push(entry)
        bytes += entry.data.length
      }
      next = entry.seq
    }
    return { entries, next, more: next < this.#last }
  }

  /** The newest entries (for `consort sync log`), newest last. */
  async tail(options: { since?: number; limit: number; type?: string }): Promise<LogEntry[]> {
    const out: LogEntry[] = []
    for await (const [key, value] of this.#db.iterator({ gte: 'm!', lt: 'm"', reverse: true })) {
      const entry = decodeEntry(key, value)
      if (options.since != null && entry.at < options.since) break
      if (options.type == null || entry.type === options.type) out.push(entry)
      if (out.length >= options.limit) break
    }
    return out.reverse()
  }

  async cursor(peer: string): Promise<Cursor | null> {
    const value = await this.#db.get(cursorKey(peer))
    if (value == null) return null
    const cursor = dagCbor.decode(value) as Cursor
    return typeof cursor?.epoch === 'string' && Number.isSafeInteger(cursor.after) ? cursor : null
  }

  async setCursor(peer: string, cursor: Cursor): Promise<void> {
    const batch = this.#db.batch().put(cursorKey(peer), dagCbor.encode(cursor))
    this.#cursorOrder.delete(peer)
    this.#cursorOrder.set(peer, true)
    while (this.#cursorOrder.size > SYNC_MAX_CURSORS) {
      const oldest = this.#cursorOrder.keys().next().value as string
      this.#cursorOrder.delete(oldest)
      batch.del(cursorKey(oldest))
    }
    await batch.write()
  }

  /** Wait for appends already asked for. */
  async settled(): Promise<void> {
    await this.#tail
  }
}

/**
 * An entry as kept: format 1 is a marker byte, the topic and the way it came (one byte each, their indexes in
 * `TOPIC_NAMES` and `VIAS`), the time (float64, big-endian), the lead record's id (u16 length, UTF-8) and type (u8
 * length, UTF-8), then the message bytes as they travel. Written by hand because every node appends every accepted
 * offer, release, contract and revocation: DAG-CBOR's encoder was most of the log's cost per message
 * (docs/profiles/offers.md). Format 0, a DAG-CBOR map (first byte 0xa6, never 0x01), is what older logs hold; it is
 * still read.
 */
const ENTRY_FORMAT = 0x01
const VIAS: readonly LogEntry['via'][] = ['gossip', 'sync', 'local']
const HEAD_BYTES = 1 + 1 + 1 + 8 + 2
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

export function encodeEntry(entry: Omit<LogEntry, 'seq'>): Uint8Array {
  const id = utf8.encode(entry.id)
  const type = utf8.encode(entry.type)
  const topic = TOPIC_NAMES.indexOf(entry.topic)
  const via = VIAS.indexOf(entry.via)
  if (topic < 0 || via < 0 || id.length > 0xffff || type.length > 0xff || !Number.isSafeInteger(entry.at)) {
    throw new RangeError(`cannot log entry ${entry.id}: topic ${entry.topic}, via ${entry.via}, at ${entry.at}`)
  }
  const out = new Uint8Array(HEAD_BYTES + id.length + 1 + type.length + entry.data.length)
  const view = new DataView(out.buffer)
  out[0] = ENTRY_FORMAT
  out[1] = topic
  out[2] = via
  view.setFloat64(3, entry.at)
  view.setUint16(11, id.length)
  out.set(id, HEAD_BYTES)
  let at = HEAD_BYTES + id.length
  out[at++] = type.length
  out.set(type, at)
  out.set(entry.data, at + type.length)
  return out
}

export function decodeEntry(key: string, value: Uint8Array): LogEntry {
  const seq = Number(key.slice(2))
  if (value[0] !== ENTRY_FORMAT) {
    const v = dagCbor.decode(value) as Omit<LogEntry, 'seq'>
    return { seq, topic: v.topic, data: v.data, id: v.id, type: v.type, at: v.at, via: v.via }
  }
  const corrupt = (what: string) => new SyncLogCorruptError(`catch-up log entry ${key}: ${what}`)
  if (value.length < HEAD_BYTES + 1) throw corrupt(`${value.length} bytes`)
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength)
  const topic = TOPIC_NAMES[value[1]!]
  const via = VIAS[value[2]!]
  if (topic == null || via == null) throw corrupt(`topic ${value[1]}, via ${value[2]}`)
  const idEnd = HEAD_BYTES + view.getUint16(11)
  if (idEnd + 1 > value.length) throw corrupt('id past the end')
  const typeEnd = idEnd + 1 + value[idEnd]!
  if (typeEnd > value.length) throw corrupt('type past the end')
  return {
    seq,
    topic,
    data: value.subarray(typeEnd),
    id: fromUtf8.decode(value.subarray(HEAD_BYTES, idEnd)),
    type: fromUtf8.decode(value.subarray(idEnd + 1, typeEnd)),
    at: view.getFloat64(3),
    via,
  }
}
