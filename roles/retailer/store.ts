import type { CID } from 'multiformats/cid'
import { z } from 'zod'
import { toHex } from '../../keys/hex.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import { type ClauseFailure, clauseFailure } from '../../protocols/reference/index.ts'
import { codecs, defineLayout, type Repository, type RoleStore, repository } from '../store.ts'

/**
 * The retailer's store (`RETAILER_LAYOUT`; string keys, `!` as separator: it occurs in no id, key, CID or content id).
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

const bytes = z.instanceof(Uint8Array)
const time = z.number().int().nonnegative()

const offerEntry: z.ZodType<OfferEntry> = z.strictObject({
  offerId: z.string().min(1),
  live: z.strictObject({ offer: bytes, certification: bytes, previous: bytes.nullable() }).nullable(),
  latest: bytes,
  status: z.enum(OFFER_STATUSES),
  failures: z.array(clauseFailure),
  note: z.string().nullable(),
  updatedAt: time,
})

const purchaseEntry: z.ZodType<PurchaseEntry> = z.strictObject({
  purchaseId: z.string().min(1),
  state: z.enum(PURCHASE_STATES),
  order: bytes,
  device: bytes,
  offer: bytes,
  certification: bytes,
  authorisation: z.string().nullable(),
  authorisationExpiresAt: time.nullable(),
  receipt: bytes.nullable(),
  payment: bytes.nullable().optional(),
  licence: bytes.nullable(),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  history: z.array(z.strictObject({ state: z.enum(PURCHASE_STATES), at: time })),
  createdAt: time,
  updatedAt: time,
})

/** The layout above as the role's store (version 1: the layout it has had since it began, recorded from now on). */
export const RETAILER_LAYOUT = defineLayout({
  role: 'retailer',
  version: 1,
  versionKey: 'meta!layout-version',
  repositories: {
    offers: repository(`of${SEP}`, codecs.cbor(offerEntry)),
    offerIds: repository(`oc${SEP}`, codecs.text),
    contracts: repository(`ct${SEP}`, codecs.record('consort/contract')),
    contractKeys: repository(`cc${SEP}`, codecs.text),
    contractIds: repository(`ci${SEP}`, codecs.marker),
    revokedContracts: repository(`cr${SEP}`, codecs.marker),
    renewals: repository(RENEWAL_PREFIX, codecs.marker),
    pendingOffers: repository(`pd${SEP}`, codecs.marker),
    purchases: repository(`pu${SEP}`, codecs.cbor(purchaseEntry)),
    unfinished: repository(`pp${SEP}`, codecs.marker),
  },
})

export type RetailerRoleStore = RoleStore<(typeof RETAILER_LAYOUT)['repositories']>

function storedDecodeOptions(options: DecodeOptions): DecodeOptions {
  return { ...options, now: Number.MAX_SAFE_INTEGER }
}

export class RetailerStore {
  readonly #store: RetailerRoleStore
  readonly #repos: RetailerRoleStore['repositories']
  readonly #decodeOptions: () => DecodeOptions

  constructor(store: RetailerRoleStore, decodeOptions: () => DecodeOptions) {
    this.#store = store
    this.#repos = store.repositories
    this.#decodeOptions = decodeOptions
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
    return this.#repos.offers.get(offerId)
  }

  async offerIdOf(offerCid: CID | string): Promise<string | undefined> {
    return this.#repos.offerIds.get(offerCid.toString())
  }

  /** Write an offer's state, with its renewal (`rx!`) and pending (`pd!`) index entries, atomically. */
  async putOffer(entry: OfferEntry, signed: CID[] = []): Promise<void> {
    const previous = await this.offer(entry.offerId)
    const before = previous != null ? this.#indexKeys(previous) : []
    const after = this.#indexKeys(entry)
    const batch = this.#store.batch()
    for (const [repository, key] of before) {
      if (!after.some(([r, k]) => r === repository && k === key)) batch.del(repository, key)
    }
    for (const [repository, key] of after) batch.put(repository, key, true)
    batch.put(this.#repos.offers, entry.offerId, entry)
    for (const cid of signed) batch.put(this.#repos.offerIds, cid.toString(), entry.offerId)
    await batch.write()
  }

  /** An on-sale offer is indexed by when its certification expires; a pending one is listed to retry. */
  #indexKeys(entry: OfferEntry): Array<[Repository<true>, string]> {
    if (entry.status === 'pending') return [[this.#repos.pendingOffers, entry.offerId]]
    if (entry.status !== 'certified' || entry.live == null) return []
    const until = this.decode('consort/certification', entry.live.certification).body.validUntil
    return [[this.#repos.renewals, `${timeKey(until)}${SEP}${entry.offerId}`]]
  }

  /** Offers whose certification expires before `until`, soonest first, at most `limit`. */
  async renewalsDue(until: number, limit: number): Promise<string[]> {
    const ids: string[] = []
    for await (const key of this.#repos.renewals.keys({ lt: `${timeKey(until)}${SEP}\xff`, limit })) {
      ids.push(key.slice(17))
    }
    return ids
  }

  /** Stop renewing an offer (its own window is over): its entry leaves the renewal index. */
  async dropRenewal(entry: OfferEntry): Promise<void> {
    const batch = this.#store.batch()
    for (const [repository, key] of this.#indexKeys(entry)) batch.del(repository, key)
    await batch.write()
  }

  /** Offers waiting for a reference service to answer, at most `limit`. */
  async pendingOffers(limit: number): Promise<string[]> {
    const ids: string[] = []
    for await (const key of this.#repos.pendingOffers.keys({ limit })) ids.push(key)
    return ids
  }

  /** Offers in id order after `after`, at most `limit`. */
  async offers(after: string | null, limit: number): Promise<OfferEntry[]> {
    const out: OfferEntry[] = []
    for await (const entry of this.#repos.offers.values({ ...(after == null ? {} : { gt: after }), limit })) {
      out.push(entry)
    }
    return out
  }

  async countOffers(max: number): Promise<number> {
    return this.#repos.offers.count(max)
  }

  // --- contracts that let this retailer sell ---

  static contractKey(distributor: Uint8Array, contractId: string): string {
    return `${toHex(distributor)}${SEP}${contractId}`
  }

  async contract(contractKey: string): Promise<SignedRecord<'consort/contract'> | undefined> {
    return this.#repos.contracts.get(contractKey)
  }

  async contractByCid(cid: CID | string): Promise<SignedRecord<'consort/contract'> | undefined> {
    const key = await this.#repos.contractKeys.get(cid.toString())
    if (key == null) return undefined
    const current = await this.contract(key)
    return current?.id.toString() === cid.toString() ? current : undefined
  }

  /** The latest version of the first contract found under this id (any distributor). */
  async contractById(contractId: string): Promise<SignedRecord<'consort/contract'> | undefined> {
    const prefix = `${contractId}${SEP}`
    for await (const key of this.#repos.contractIds.keys({ gt: prefix, lt: `${prefix}\xff`, limit: 1 })) {
      return this.contract(`${key.slice(prefix.length)}${SEP}${contractId}`)
    }
    return undefined
  }

  async putContract(record: SignedRecord<'consort/contract'>): Promise<void> {
    const key = RetailerStore.contractKey(record.body.distributor, record.body.contractId)
    await this.#store
      .batch()
      .put(this.#repos.contracts, key, record)
      .put(this.#repos.contractKeys, record.id.toString(), key)
      .put(this.#repos.contractIds, `${record.body.contractId}${SEP}${toHex(record.body.distributor)}`, true)
      .write()
  }

  async contracts(limit: number): Promise<SignedRecord<'consort/contract'>[]> {
    const out: SignedRecord<'consort/contract'>[] = []
    for await (const record of this.#repos.contracts.values({ limit })) out.push(record)
    return out
  }

  async markContractRevoked(cid: CID): Promise<void> {
    await this.#repos.revokedContracts.put(cid.toString(), true)
  }

  async isContractRevoked(cid: CID | string): Promise<boolean> {
    return this.#repos.revokedContracts.has(cid.toString())
  }

  // --- purchases ---

  async purchase(purchaseId: string): Promise<PurchaseEntry | undefined> {
    return this.#repos.purchases.get(purchaseId)
  }

  /** Write a purchase's state atomically with its "unfinished" marker. */
  async putPurchase(entry: PurchaseEntry): Promise<void> {
    const finished = entry.state === 'licensed' || entry.state === 'voided' || entry.state === 'refunded'
    const batch = this.#store.batch().put(this.#repos.purchases, entry.purchaseId, entry)
    if (finished) batch.del(this.#repos.unfinished, entry.purchaseId)
    else batch.put(this.#repos.unfinished, entry.purchaseId, true)
    await batch.write()
  }

  /** Purchase ids not yet licensed, voided or refunded, at most `limit`. */
  async unfinishedPurchases(limit: number): Promise<string[]> {
    const ids: string[] = []
    for await (const key of this.#repos.unfinished.keys({ limit })) ids.push(key)
    return ids
  }
}
