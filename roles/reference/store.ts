import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { Lru } from '../../keys/lru.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import type { Money } from '../../protocols/records/fields.ts'
import type { RoleDb } from '../role.ts'
import { CONTRACT_CACHE_ENTRIES, MAX_CERTIFICATIONS_KEPT_PER_OFFER } from './constants.ts'

/**
 * The reference service's LevelDB layout (string keys, `!` as separator: it never occurs in ids, keys, CIDs or
 * content ids). Prefixes are never reused for another meaning.
 *
 * | key | value |
 * | --- | --- |
 * | `ch!<distributor>!<contractId>` | head of a contract: `{ seq, cid, revokedSeq }` (`revokedSeq` -1: none) |
 * | `cv!<distributor>!<contractId>!<seq, 16 digits>` | one version's record bytes |
 * | `cc!<contract cid>` | `<distributor>!<contractId>!<seq>` (find a version by its record id) |
 * | `ci!<contractId>!<distributor>` | empty (find a contract by id alone) |
 * | `rv!<record cid>` | hex key of whoever revoked that offer, contract or certification (`kind` alongside) |
 * | `of!<retailer>!<offerId>` | the latest certified version known: records and a summary for queries |
 * | `oc!<offer cid>` | `<retailer>!<offerId>` |
 * | `qx!<content id>!<retailer>!<offerId>` | empty (the query index) |
 * | `is!<distributor>!<contractId>!<offer cid>` | an offer this service certified under that contract, and the certifications it issued for it |
 * | `rl!<release content id>` | a release's tracks as content ids, and its seq and signer (from the catalog topic) |
 */

const SEP = '!'
const enc = new TextEncoder()
const dec = new TextDecoder()
const seqKey = (seq: number) => seq.toString().padStart(16, '0')

/** Stored records were verified when they arrived: re-reading them must not fail on the freshness check. */
function storedDecodeOptions(options: DecodeOptions): DecodeOptions {
  return { ...options, now: Number.MAX_SAFE_INTEGER }
}

export interface ContractHead {
  seq: number
  cid: string
  /** Versions up to and including this seq were revoked by the distributor; -1 when none. */
  revokedSeq: number
}

export interface StoredOffer {
  offer: Uint8Array
  certification: Uint8Array
  retailerName: string
  seq: number
  offerCid: CID
  certCid: CID
  certValidUntil: number
  price: Money
  territories: string[]
  excludedTerritories: string[]
  validFrom: number
  validUntil: number | null
  content: string[]
}

export interface IssuedEntry {
  offer: Uint8Array
  /** Certifications this service issued for the offer, oldest first (bounded). */
  certifications: Uint8Array[]
}

export interface ReleaseEntry {
  seq: number
  signer: string
  tracks: string[]
}

type RevocationKind = 'offer' | 'contract' | 'certification'
type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }

export class ReferenceStore {
  readonly #db: RoleDb
  readonly #decodeOptions: () => DecodeOptions
  /** Versions are immutable once stored: decoded ones are kept by `<contractKey>!<seq>`. */
  readonly #contracts = new Lru<string, SignedRecord<'consort/contract'>>(CONTRACT_CACHE_ENTRIES)
  /** Heads, written through on every change (this store is their only writer). */
  readonly #heads = new Lru<string, ContractHead>(CONTRACT_CACHE_ENTRIES)
  /** Contract record id → `<contractKey>!<seq>` (immutable once written). */
  readonly #byCid = new Lru<string, string>(CONTRACT_CACHE_ENTRIES)

  constructor(db: RoleDb, decodeOptions: () => DecodeOptions) {
    this.#db = db
    this.#decodeOptions = decodeOptions
  }

  static contractKey(distributor: Uint8Array, contractId: string): string {
    return `${toHex(distributor)}${SEP}${contractId}`
  }

  static offerKey(retailer: Uint8Array, offerId: string): string {
    return `${toHex(retailer)}${SEP}${offerId}`
  }

  async #get(key: string): Promise<Uint8Array | undefined> {
    return (await this.#db.get(key)) ?? undefined
  }

  // --- contracts ---

  async head(contractKey: string): Promise<ContractHead | undefined> {
    const cached = this.#heads.get(contractKey)
    if (cached != null) return cached
    const value = await this.#get(`ch${SEP}${contractKey}`)
    if (value == null) return undefined
    const head = dagCbor.decode(value) as ContractHead
    this.#heads.set(contractKey, head)
    return head
  }

  async #putHead(contractKey: string, head: ContractHead): Promise<void> {
    await this.#db.put(`ch${SEP}${contractKey}`, dagCbor.encode(head))
    this.#heads.set(contractKey, head)
  }

  async contractVersion(contractKey: string, seq: number): Promise<SignedRecord<'consort/contract'> | undefined> {
    const cacheKey = `${contractKey}${SEP}${seq}`
    const cached = this.#contracts.get(cacheKey)
    if (cached != null) return cached
    const value = await this.#get(`cv${SEP}${contractKey}${SEP}${seqKey(seq)}`)
    if (value == null) return undefined
    const record = decodeRecordAs('consort/contract', value, storedDecodeOptions(this.#decodeOptions()))
    this.#contracts.set(cacheKey, record)
    return record
  }

  /** The version a record id names, with the key of its contract. */
  async contractByCid(
    cid: CID | string,
  ): Promise<{ contractKey: string; record: SignedRecord<'consort/contract'> } | undefined> {
    let text = this.#byCid.get(cid.toString())
    if (text == null) {
      const value = await this.#get(`cc${SEP}${cid.toString()}`)
      if (value == null) return undefined
      text = dec.decode(value)
      this.#byCid.set(cid.toString(), text)
    }
    const cut = text.lastIndexOf(SEP)
    const contractKey = text.slice(0, cut)
    const record = await this.contractVersion(contractKey, Number(text.slice(cut + 1)))
    return record == null ? undefined : { contractKey, record }
  }

  /** The current version of the first contract found under this id (any distributor). */
  async contractById(contractId: string): Promise<SignedRecord<'consort/contract'> | undefined> {
    const prefix = `ci${SEP}${contractId}${SEP}`
    for await (const key of this.#db.keys({ gt: prefix, lt: `${prefix}\xff`, limit: 1 })) {
      const contractKey = `${key.slice(prefix.length)}${SEP}${contractId}`
      const head = await this.head(contractKey)
      if (head != null) return this.contractVersion(contractKey, head.seq)
    }
    return undefined
  }

  /** Store a version; it becomes the head if its seq is higher. Answers the head after the write. */
  async putContract(record: SignedRecord<'consort/contract'>, revokedSeq: number): Promise<ContractHead> {
    const contractKey = ReferenceStore.contractKey(record.body.distributor, record.body.contractId)
    const head = await this.head(contractKey)
    const next: ContractHead =
      head == null || record.body.seq > head.seq
        ? { seq: record.body.seq, cid: record.id.toString(), revokedSeq: Math.max(head?.revokedSeq ?? -1, revokedSeq) }
        : { ...head, revokedSeq: Math.max(head.revokedSeq, revokedSeq) }
    await this.#db.batch([
      { type: 'put', key: `cv${SEP}${contractKey}${SEP}${seqKey(record.body.seq)}`, value: record.bytes },
      {
        type: 'put',
        key: `cc${SEP}${record.id.toString()}`,
        value: enc.encode(`${contractKey}${SEP}${record.body.seq}`),
      },
      {
        type: 'put',
        key: `ci${SEP}${record.body.contractId}${SEP}${toHex(record.body.distributor)}`,
        value: new Uint8Array(),
      },
      { type: 'put', key: `ch${SEP}${contractKey}`, value: dagCbor.encode(next) },
    ])
    this.#heads.set(contractKey, next)
    return next
  }

  async setRevokedSeq(contractKey: string, revokedSeq: number): Promise<ContractHead | undefined> {
    const head = await this.head(contractKey)
    if (head == null || head.revokedSeq >= revokedSeq) return head
    const next = { ...head, revokedSeq }
    await this.#putHead(contractKey, next)
    return next
  }

  // --- revocations ---

  async putRevocation(target: CID, kind: RevocationKind, by: Uint8Array): Promise<void> {
    await this.#db.put(`rv${SEP}${target.toString()}`, dagCbor.encode({ kind, by: toHex(by) }))
  }

  /** Who revoked this record, if anyone did. */
  async revokedBy(target: CID | string): Promise<string | undefined> {
    const value = await this.#get(`rv${SEP}${target.toString()}`)
    return value == null ? undefined : (dagCbor.decode(value) as { by: string }).by
  }

  /** Every certification this service revoked (fed back into the node's trust at start). */
  async *revokedCertifications(): AsyncGenerator<string> {
    const prefix = `rv${SEP}`
    for await (const [key, value] of this.#db.iterator({ gt: prefix, lt: `${prefix}\xff` })) {
      if ((dagCbor.decode(value) as { kind: string }).kind === 'certification') yield key.slice(prefix.length)
    }
  }

  // --- offers known to the market ---

  async storedOffer(offerKey: string): Promise<StoredOffer | undefined> {
    const value = await this.#get(`of${SEP}${offerKey}`)
    if (value == null) return undefined
    const entry = dagCbor.decode(value) as StoredOffer
    // DAG-CBOR gives small integers back as numbers; money is always bigint in the domain.
    return { ...entry, price: { amount: BigInt(entry.price.amount), currency: entry.price.currency } }
  }

  async offerKeyOf(offerCid: CID | string): Promise<string | undefined> {
    const value = await this.#get(`oc${SEP}${offerCid.toString()}`)
    return value == null ? undefined : dec.decode(value)
  }

  /** Record a certified offer for queries; replaces an older version (and its index entries). */
  async putOffer(
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
    retailerName: string,
  ): Promise<void> {
    const offerKey = ReferenceStore.offerKey(offer.signer, offer.body.offerId)
    const previous = await this.storedOffer(offerKey)
    const ops: BatchOp[] = []
    if (previous != null) {
      for (const content of previous.content) ops.push({ type: 'del', key: `qx${SEP}${content}${SEP}${offerKey}` })
    }
    const entry: StoredOffer = {
      offer: offer.bytes,
      certification: certification.bytes,
      retailerName,
      seq: offer.body.seq,
      offerCid: offer.id,
      certCid: certification.id,
      certValidUntil: certification.body.validUntil,
      price: offer.body.price,
      territories: offer.body.territories,
      excludedTerritories: offer.body.excludedTerritories,
      validFrom: offer.body.validFrom,
      validUntil: offer.body.validUntil,
      content: offer.body.content,
    }
    ops.push({ type: 'put', key: `of${SEP}${offerKey}`, value: dagCbor.encode(entry) })
    ops.push({ type: 'put', key: `oc${SEP}${offer.id.toString()}`, value: enc.encode(offerKey) })
    for (const content of offer.body.content) {
      ops.push({ type: 'put', key: `qx${SEP}${content}${SEP}${offerKey}`, value: new Uint8Array() })
    }
    await this.#db.batch(ops)
  }

  /** Drop an offer from the market (revoked). */
  async removeOffer(offerKey: string): Promise<void> {
    const previous = await this.storedOffer(offerKey)
    if (previous == null) return
    await this.#db.batch([
      { type: 'del', key: `of${SEP}${offerKey}` },
      ...previous.content.map((content) => ({ type: 'del' as const, key: `qx${SEP}${content}${SEP}${offerKey}` })),
    ])
  }

  /** Offer keys listed for one content id, at most `limit`. */
  async offersFor(content: string, limit: number): Promise<string[]> {
    const prefix = `qx${SEP}${content}${SEP}`
    const keys: string[] = []
    for await (const key of this.#db.keys({ gt: prefix, lt: `${prefix}\xff`, limit })) {
      keys.push(key.slice(prefix.length))
    }
    return keys
  }

  // --- what this service certified, per contract ---

  async issued(contractKey: string, offerCid: CID | string): Promise<IssuedEntry | undefined> {
    const value = await this.#get(`is${SEP}${contractKey}${SEP}${offerCid.toString()}`)
    return value == null ? undefined : (dagCbor.decode(value) as IssuedEntry)
  }

  async addIssued(
    contractKey: string,
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
    supersedes: CID | null,
  ): Promise<void> {
    const known = await this.issued(contractKey, offer.id)
    const certifications = [...(known?.certifications ?? []), certification.bytes].slice(
      -MAX_CERTIFICATIONS_KEPT_PER_OFFER,
    )
    const ops: BatchOp[] = [
      {
        type: 'put',
        key: `is${SEP}${contractKey}${SEP}${offer.id.toString()}`,
        value: dagCbor.encode({ offer: offer.bytes, certifications } satisfies IssuedEntry),
      },
    ]
    if (supersedes != null && !supersedes.equals(offer.id)) {
      ops.push({ type: 'del', key: `is${SEP}${contractKey}${SEP}${supersedes.toString()}` })
    }
    await this.#db.batch(ops)
  }

  async removeIssued(contractKey: string, offerCids: Iterable<string>): Promise<void> {
    await this.#db.batch(
      [...offerCids].map((cid) => ({ type: 'del' as const, key: `is${SEP}${contractKey}${SEP}${cid}` })),
    )
  }

  /** A page of what this service certified under a contract, after `after` (an offer cid). */
  async issuedPage(
    contractKey: string,
    after: string | null,
    limit: number,
  ): Promise<Array<{ offerCid: string; entry: IssuedEntry }>> {
    const prefix = `is${SEP}${contractKey}${SEP}`
    const page: Array<{ offerCid: string; entry: IssuedEntry }> = []
    const range = after == null ? { gt: prefix } : { gt: `${prefix}${after}` }
    for await (const [key, value] of this.#db.iterator({ ...range, lt: `${prefix}\xff`, limit })) {
      page.push({ offerCid: key.slice(prefix.length), entry: dagCbor.decode(value) as IssuedEntry })
    }
    return page
  }

  decodeOffer(bytes: Uint8Array): SignedRecord<'consort/offer'> {
    return decodeRecordAs('consort/offer', bytes, storedDecodeOptions(this.#decodeOptions()))
  }

  decodeCertification(bytes: Uint8Array): SignedRecord<'consort/certification'> {
    return decodeRecordAs('consort/certification', bytes, storedDecodeOptions(this.#decodeOptions()))
  }

  // --- releases (to cover a release offer by a contract naming its tracks) ---

  async release(releaseId: string): Promise<ReleaseEntry | undefined> {
    const value = await this.#get(`rl${SEP}${releaseId}`)
    return value == null ? undefined : (dagCbor.decode(value) as ReleaseEntry)
  }

  async putRelease(releaseIds: string[], entry: ReleaseEntry): Promise<void> {
    await this.#db.batch(
      releaseIds.map((id) => ({ type: 'put' as const, key: `rl${SEP}${id}`, value: dagCbor.encode(entry) })),
    )
  }
}
