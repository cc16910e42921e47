import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { toString as bytesToHex } from 'uint8arrays/to-string'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import type { ClauseFailure } from '../../protocols/reference/index.ts'
import type { RoleDb } from '../role.ts'

/**
 * The retailer's LevelDB layout (string keys, `!` as separator: it occurs in no id, key, CID or content id).
 * Prefixes are never reused for another meaning.
 *
 * | key | value |
 * | --- | --- |
 * | `of!<offerId>` | an offer's state: the version on sale with its certification, the latest attempt, status |
 * | `oc!<offer cid>` | the offerId of every version this retailer signed |
 * | `ct!<distributor>!<contractId>` | the latest version of a contract that lets this retailer sell |
 * | `cc!<contract cid>` | `<distributor>!<contractId>` |
 * | `ci!<contractId>!<distributor>` | empty (find a contract by id alone) |
 * | `cr!<contract cid>` | the contract version was revoked by its distributor |
 * | `rx!<certification end, 16 digits>!<offerId>` | empty: an offer on sale, by when its certification expires |
 * | `pd!<offerId>` | empty: an offer waiting for a reference service |
 * | `pu!<purchaseId>` | a purchase's durable state (see `purchase.ts`) |
 * | `pp!<purchaseId>` | empty: the purchase is not finished yet (licensed, voided or refunded) |
 */

const SEP = '!'
const RENEWAL_PREFIX = `rx${SEP}`
/** A time as 16 digits, so that keys sort by time. */
const timeKey = (ms: number) => ms.toString().padStart(16, '0')
const enc = new TextEncoder()
const dec = new TextDecoder()
export const hex = (key: Uint8Array): string => bytesToHex(key, 'base16')

export const OFFER_STATUSES = ['certified', 'refused', 'pending', 'withdrawn', 'revoked'] as const
export type OfferStatus = (typeof OFFER_STATUSES)[number]

export interface LiveVersion {
  offer: Uint8Array
  certification: Uint8Array
  /** The certification before the latest renewal: still accepted at purchase until it expires. */
  previous: Uint8Array | null
}

export interface OfferEntry {
  offerId: string
  /** The version on sale, or null when none is (refused, pending, withdrawn, revoked). */
  live: LiveVersion | null
  /** The latest version signed (the live one, or a later attempt that was refused or is pending). */
  latest: Uint8Array
  status: OfferStatus
  /** The failed clauses of the latest refused attempt. */
  failures: ClauseFailure[]
  /** Why the offer is pending, withdrawn or revoked; who refused it. */
  note: string | null
  updatedAt: number
}

/**
 * A purchase at the retailer (docs/decisions/0306-money-before-keys.md): `started → authorised → receipted →
 * captured → licensed`; before the capture any refusal ends in `voiding → voided`; after it, a licence that cannot
 * be delivered ends in `refunding → refunded`. Finished: `licensed`, `voided`, `refunded`.
 */
export const PURCHASE_STATES = [
  'started',
  'authorised',
  'receipted',
  'captured',
  'licensed',
  'voiding',
  'voided',
  'refunding',
  'refunded',
] as const
export type PurchaseState = (typeof PURCHASE_STATES)[number]

export interface PurchaseEntry {
  purchaseId: string
  state: PurchaseState
  /** DAG-CBOR of the signed purchase order: a retry must present exactly this order. */
  order: Uint8Array
  device: Uint8Array
  offer: Uint8Array
  certification: Uint8Array
  authorisation: string | null
  authorisationExpiresAt: number | null
  receipt: Uint8Array | null
  /** The clearinghouse's signed `consort/payment` (absent in entries written before payments were signed). */
  payment?: Uint8Array | null
  licence: Uint8Array | null
  /** Why it was voided or refunded (what the buyer is told on every retry). */
  error: { code: string; message: string } | null
  history: Array<{ state: PurchaseState; at: number }>
  createdAt: number
  updatedAt: number
}

type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }

function storedDecodeOptions(options: DecodeOptions): DecodeOptions {
  return { ...options, now: Number.MAX_SAFE_INTEGER }
}

export class RetailerStore {
  readonly #db: RoleDb
  readonly #decodeOptions: () => DecodeOptions

  constructor(db: RoleDb, decodeOptions: () => DecodeOptions) {
    this.#db = db
    this.#decodeOptions = decodeOptions
  }

  async #get(key: string): Promise<Uint8Array | undefined> {
    return (await this.#db.get(key)) ?? undefined
  }

  decode<
    T extends
      | 'consort/offer'
      | 'consort/certification'
      | 'consort/contract'
      | 'consort/receipt'
      | 'consort/licence'
      | 'consort/device',
  >(type: T, bytes: Uint8Array): SignedRecord<T> {
    return decodeRecordAs(type, bytes, storedDecodeOptions(this.#decodeOptions()))
  }

  // --- offers ---

  async offer(offerId: string): Promise<OfferEntry | undefined> {
    const value = await this.#get(`of${SEP}${offerId}`)
    return value == null ? undefined : (dagCbor.decode(value) as OfferEntry)
  }

  async offerIdOf(offerCid: CID | string): Promise<string | undefined> {
    const value = await this.#get(`oc${SEP}${offerCid.toString()}`)
    return value == null ? undefined : dec.decode(value)
  }

  /** Write an offer's state, with its renewal (`rx!`) and pending (`pd!`) index entries, atomically. */
  async putOffer(entry: OfferEntry, signed: CID[] = []): Promise<void> {
    const previous = await this.offer(entry.offerId)
    const before = previous != null ? this.#indexKeys(previous) : []
    const after = this.#indexKeys(entry)
    await this.#db.batch([
      ...before.filter((k) => !after.includes(k)).map((key) => ({ type: 'del' as const, key })),
      ...after.map((key) => ({ type: 'put' as const, key, value: new Uint8Array() })),
      { type: 'put', key: `of${SEP}${entry.offerId}`, value: dagCbor.encode(entry) },
      ...signed.map((cid) => ({
        type: 'put' as const,
        key: `oc${SEP}${cid.toString()}`,
        value: enc.encode(entry.offerId),
      })),
    ])
  }

  /** An on-sale offer is indexed by when its certification expires; a pending one is listed to retry. */
  #indexKeys(entry: OfferEntry): string[] {
    if (entry.status === 'pending') return [`pd${SEP}${entry.offerId}`]
    if (entry.status !== 'certified' || entry.live == null) return []
    const until = this.decode('consort/certification', entry.live.certification).body.validUntil
    return [`${RENEWAL_PREFIX}${timeKey(until)}${SEP}${entry.offerId}`]
  }

  /** Offers whose certification expires before `until`, soonest first, at most `limit`. */
  async renewalsDue(until: number, limit: number): Promise<string[]> {
    const ids: string[] = []
    const end = `${RENEWAL_PREFIX}${timeKey(until)}${SEP}\xff`
    for await (const key of this.#db.keys({ gt: RENEWAL_PREFIX, lt: end, limit })) {
      ids.push(key.slice(RENEWAL_PREFIX.length + 17))
    }
    return ids
  }

  /** Stop renewing an offer (its own window is over): its entry leaves the renewal index. */
  async dropRenewal(entry: OfferEntry): Promise<void> {
    await this.#db.batch(this.#indexKeys(entry).map((key) => ({ type: 'del' as const, key })))
  }

  /** Offers waiting for a reference service to answer, at most `limit`. */
  async pendingOffers(limit: number): Promise<string[]> {
    const prefix = `pd${SEP}`
    const ids: string[] = []
    for await (const key of this.#db.keys({ gt: prefix, lt: `${prefix}\xff`, limit }))
      ids.push(key.slice(prefix.length))
    return ids
  }

  /** Offers in id order after `after`, at most `limit`. */
  async offers(after: string | null, limit: number): Promise<OfferEntry[]> {
    const prefix = `of${SEP}`
    const out: OfferEntry[] = []
    const range = after == null ? { gt: prefix } : { gt: `${prefix}${after}` }
    for await (const value of this.#db.values({ ...range, lt: `${prefix}\xff`, limit })) {
      out.push(dagCbor.decode(value) as OfferEntry)
    }
    return out
  }

  async countOffers(max: number): Promise<number> {
    const prefix = `of${SEP}`
    let n = 0
    for await (const _ of this.#db.keys({ gt: prefix, lt: `${prefix}\xff`, limit: max })) n++
    return n
  }

  // --- contracts that let this retailer sell ---

  static contractKey(distributor: Uint8Array, contractId: string): string {
    return `${hex(distributor)}${SEP}${contractId}`
  }

  async contract(contractKey: string): Promise<SignedRecord<'consort/contract'> | undefined> {
    const value = await this.#get(`ct${SEP}${contractKey}`)
    return value == null ? undefined : this.decode('consort/contract', value)
  }

  async contractByCid(cid: CID | string): Promise<SignedRecord<'consort/contract'> | undefined> {
    const key = await this.#get(`cc${SEP}${cid.toString()}`)
    if (key == null) return undefined
    const current = await this.contract(dec.decode(key))
    return current?.id.toString() === cid.toString() ? current : undefined
  }

  /** The latest version of the first contract found under this id (any distributor). */
  async contractById(contractId: string): Promise<SignedRecord<'consort/contract'> | undefined> {
    const prefix = `ci${SEP}${contractId}${SEP}`
    for await (const key of this.#db.keys({ gt: prefix, lt: `${prefix}\xff`, limit: 1 })) {
      return this.contract(`${key.slice(prefix.length)}${SEP}${contractId}`)
    }
    return undefined
  }

  async putContract(record: SignedRecord<'consort/contract'>): Promise<void> {
    const key = RetailerStore.contractKey(record.body.distributor, record.body.contractId)
    await this.#db.batch([
      { type: 'put', key: `ct${SEP}${key}`, value: record.bytes },
      { type: 'put', key: `cc${SEP}${record.id.toString()}`, value: enc.encode(key) },
      {
        type: 'put',
        key: `ci${SEP}${record.body.contractId}${SEP}${hex(record.body.distributor)}`,
        value: new Uint8Array(),
      },
    ])
  }

  async contracts(limit: number): Promise<SignedRecord<'consort/contract'>[]> {
    const out: SignedRecord<'consort/contract'>[] = []
    for await (const value of this.#db.values({ gt: `ct${SEP}`, lt: `ct${SEP}\xff`, limit })) {
      out.push(this.decode('consort/contract', value))
    }
    return out
  }

  async markContractRevoked(cid: CID): Promise<void> {
    await this.#db.put(`cr${SEP}${cid.toString()}`, new Uint8Array())
  }

  async isContractRevoked(cid: CID | string): Promise<boolean> {
    return (await this.#get(`cr${SEP}${cid.toString()}`)) != null
  }

  // --- purchases ---

  async purchase(purchaseId: string): Promise<PurchaseEntry | undefined> {
    const value = await this.#get(`pu${SEP}${purchaseId}`)
    return value == null ? undefined : (dagCbor.decode(value) as PurchaseEntry)
  }

  /** Write a purchase's state atomically with its "unfinished" marker. */
  async putPurchase(entry: PurchaseEntry): Promise<void> {
    const finished = entry.state === 'licensed' || entry.state === 'voided' || entry.state === 'refunded'
    const ops: BatchOp[] = [
      { type: 'put', key: `pu${SEP}${entry.purchaseId}`, value: dagCbor.encode(entry) },
      finished
        ? { type: 'del', key: `pp${SEP}${entry.purchaseId}` }
        : { type: 'put', key: `pp${SEP}${entry.purchaseId}`, value: new Uint8Array() },
    ]
    await this.#db.batch(ops)
  }

  /** Purchase ids not yet licensed, voided or refunded, at most `limit`. */
  async unfinishedPurchases(limit: number): Promise<string[]> {
    const prefix = `pp${SEP}`
    const ids: string[] = []
    for await (const key of this.#db.keys({ gt: prefix, lt: `${prefix}\xff`, limit }))
      ids.push(key.slice(prefix.length))
    return ids
  }
}
