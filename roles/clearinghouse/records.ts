/**
 * The records settlement relies on (offers, certifications, receipts, licences, contracts), kept in the role's
 * state by CID so that settling never waits on the network, and fetched by CID (Helia/bitswap) when missing.
 * Contracts are also indexed by `contractId`: the highest `seq` known is the contract in force.
 */
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { Lru } from '../../keys/lru.ts'
import { withDeadline } from '../../protocols/deadline.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import { RECORD_CACHE_ENTRIES, RECORD_FETCH_TIMEOUT_MS } from './constants.ts'
import { contractVersionRow, StateKeys, type StoreOp } from './state.ts'
import { put, putBytes, type StateStore } from './store.ts'

const log = logger('consort:clearinghouse:records')

/** Fetches a record by CID from the network (the node's record store); undefined where there is none. */
export type RecordFetcher = (cid: CID, signal: AbortSignal) => Promise<SignedRecord | undefined>

export class RecordBook {
  readonly #store: StateStore
  readonly #decodeOptions: () => DecodeOptions
  readonly #fetch: RecordFetcher | undefined
  readonly #cache = new Lru<string, SignedRecord>(RECORD_CACHE_ENTRIES)
  readonly #contracts = new Lru<string, { seq: number; cid: string }>(RECORD_CACHE_ENTRIES)

  constructor(store: StateStore, decodeOptions: () => DecodeOptions, fetch?: RecordFetcher) {
    this.#store = store
    this.#decodeOptions = decodeOptions
    this.#fetch = fetch
  }

  /** Remember a verified record (cache now; the returned ops store it). */
  remember(record: SignedRecord): StoreOp[] {
    const cid = record.id.toString()
    this.#cache.set(cid, record)
    return [putBytes(StateKeys.record(cid), record.bytes)]
  }

  /** Store a record at once (outside any other change). */
  async keep(record: SignedRecord): Promise<void> {
    await this.#store.write(this.remember(record), { sync: false })
  }

  /** A known record of a type, from memory or the state; undefined if unknown or of another type. */
  async get<T extends RecordType>(type: T, cid: string): Promise<SignedRecord<T> | undefined> {
    const cached = this.#cache.get(cid)
    if (cached !== undefined) return cached.type === type ? (cached as SignedRecord<T>) : undefined
    const bytes = await this.#store.raw(StateKeys.record(cid))
    if (bytes === undefined) return undefined
    try {
      const record = decodeRecordAs(type, bytes, this.#decodeOptions())
      this.#cache.set(cid, record)
      return record
    } catch (err) {
      log.error('stored record %s no longer decodes: %e', cid, err)
      return undefined
    }
  }

  /** Many at once (a group's licences): one read for the misses. */
  async getMany<T extends RecordType>(type: T, cids: readonly string[]): Promise<Map<string, SignedRecord<T>>> {
    const out = new Map<string, SignedRecord<T>>()
    const misses: string[] = []
    for (const cid of new Set(cids)) {
      const cached = this.#cache.get(cid)
      if (cached === undefined) misses.push(cid)
      else if (cached.type === type) out.set(cid, cached as SignedRecord<T>)
    }
    const rows = await this.#store.rawMany(misses.map((cid) => StateKeys.record(cid)))
    for (const [i, cid] of misses.entries()) {
      const bytes = rows[i]
      if (bytes === undefined) continue
      try {
        const record = decodeRecordAs(type, bytes, this.#decodeOptions())
        this.#cache.set(cid, record)
        out.set(cid, record)
      } catch (err) {
        log.error('stored record %s no longer decodes: %e', cid, err)
      }
    }
    return out
  }

  /** A known record, else fetched over the network (and kept). */
  async fetch<T extends RecordType>(type: T, cid: string, signal?: AbortSignal): Promise<SignedRecord<T> | undefined> {
    const known = await this.get(type, cid)
    if (known !== undefined || this.#fetch === undefined) return known
    let parsed: CID
    try {
      parsed = CID.parse(cid)
    } catch {
      return undefined
    }
    try {
      const record = await this.#fetch(parsed, withDeadline(RECORD_FETCH_TIMEOUT_MS, signal).signal)
      if (record === undefined || record.type !== type || !record.id.equals(parsed)) return undefined
      await this.keep(record)
      if (record.type === 'consort/contract') await this.learnContract(record as SignedRecord<'consort/contract'>)
      return record as SignedRecord<T>
    } catch (err) {
      log('could not fetch %s %s: %e', type, cid, err)
      return undefined
    }
  }

  /** The ops that index a contract version, if it is the highest `seq` known for its `contractId`. */
  async contractOps(contract: SignedRecord<'consort/contract'>): Promise<StoreOp[]> {
    const cid = contract.id.toString()
    const known = await this.#contractVersion(contract.body.contractId)
    const ops = this.remember(contract)
    if (known === undefined || contract.body.seq > known.seq) {
      const version = { seq: contract.body.seq, cid }
      this.#contracts.set(contract.body.contractId, version)
      ops.push(put(StateKeys.contractVersion(contract.body.contractId), { v: 1, ...version }))
    }
    return ops
  }

  /** Learn a contract (from the topic, or fetched): kept, and indexed if it is the newest version. */
  async learnContract(contract: SignedRecord<'consort/contract'>): Promise<void> {
    await this.#store.write(await this.contractOps(contract), { sync: false })
  }

  /** The version in force of a contract: the highest `seq` known for its `contractId`. */
  async contractInForce(contractId: string): Promise<SignedRecord<'consort/contract'> | undefined> {
    const version = await this.#contractVersion(contractId)
    return version === undefined ? undefined : this.get('consort/contract', version.cid)
  }

  async #contractVersion(contractId: string): Promise<{ seq: number; cid: string } | undefined> {
    const cached = this.#contracts.get(contractId)
    if (cached !== undefined) return cached
    const row = await this.#store.get(contractVersionRow, StateKeys.contractVersion(contractId))
    if (row === undefined) return undefined
    const version = { seq: row.seq, cid: row.cid }
    this.#contracts.set(contractId, version)
    return version
  }
}
