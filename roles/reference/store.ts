import type { CID } from 'multiformats/cid'
import { z } from 'zod'
import { toHex } from '../../keys/hex.ts'
import { Lru } from '../../keys/lru.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import { type Money, money } from '../../protocols/records/fields.ts'
import { codecs, defineLayout, type RoleStore, repository, stored } from '../store.ts'
import { CONTRACT_CACHE_ENTRIES, MAX_CERTIFICATIONS_KEPT_PER_OFFER } from './constants.ts'

/**
 * The reference service's store (`REFERENCE_LAYOUT`; string keys, `!` as separator: it never occurs in ids, keys,
 * CIDs or content ids). Prefixes are never reused for another meaning.
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

const contractHead: z.ZodType<ContractHead> = z.strictObject({
  seq: stored.count,
  cid: z.string().min(1),
  revokedSeq: z.number().int().min(-1),
})

const revocationEntry = z.strictObject({ kind: z.enum(['offer', 'contract', 'certification']), by: z.string() })

const storedOffer = z.strictObject({
  offer: stored.bytes,
  certification: stored.bytes,
  retailerName: z.string(),
  seq: stored.count,
  offerCid: stored.cid,
  certCid: stored.cid,
  certValidUntil: stored.count,
  /** DAG-CBOR gives small amounts back as numbers: the record's own `money` makes them bigint again. */
  price: money,
  territories: z.array(z.string()),
  excludedTerritories: z.array(z.string()),
  validFrom: stored.count,
  validUntil: stored.count.nullable(),
  content: z.array(z.string()),
})

const issuedEntry: z.ZodType<IssuedEntry> = z.strictObject({
  offer: stored.bytes,
  certifications: z.array(stored.bytes),
})

const releaseEntry: z.ZodType<ReleaseEntry> = z.strictObject({
  seq: stored.count,
  signer: z.string(),
  tracks: z.array(z.string()),
})

/** The layout above as the role's store (version 1: the layout it has had since it began, recorded from now on). */
export const REFERENCE_LAYOUT = defineLayout({
  role: 'reference',
  version: 1,
  versionKey: 'meta!layout-version',
  repositories: {
    heads: repository(`ch${SEP}`, codecs.cbor(contractHead)),
    versions: repository(`cv${SEP}`, codecs.record('consort/contract')),
    versionKeys: repository(`cc${SEP}`, codecs.text),
    contractIds: repository(`ci${SEP}`, codecs.marker),
    revocations: repository(`rv${SEP}`, codecs.cbor(revocationEntry)),
    offers: repository(`of${SEP}`, codecs.cbor(storedOffer)),
    offerKeys: repository(`oc${SEP}`, codecs.text),
    query: repository(`qx${SEP}`, codecs.marker),
    issued: repository(`is${SEP}`, codecs.cbor(issuedEntry)),
    releases: repository(`rl${SEP}`, codecs.cbor(releaseEntry)),
  },
})

export type ReferenceRoleStore = RoleStore<(typeof REFERENCE_LAYOUT)['repositories']>

export class ReferenceStore {
  readonly #store: ReferenceRoleStore
  readonly #repos: ReferenceRoleStore['repositories']
  readonly #decodeOptions: () => DecodeOptions
  /** Versions are immutable once stored: decoded ones are kept by `<contractKey>!<seq>`. */
  readonly #contracts = new Lru<string, SignedRecord<'consort/contract'>>(CONTRACT_CACHE_ENTRIES)
  /** Heads, written through on every change (this store is their only writer). */
  readonly #heads = new Lru<string, ContractHead>(CONTRACT_CACHE_ENTRIES)
  /** Contract record id → `<contractKey>!<seq>` (immutable once written). */
  readonly #byCid = new Lru<string, string>(CONTRACT_CACHE_ENTRIES)

  constructor(store: ReferenceRoleStore, decodeOptions: () => DecodeOptions) {
    this.#store = store
    this.#repos = store.repositories
    this.#decodeOptions = decodeOptions
  }

  static contractKey(distributor: Uint8Array, contractId: string): string {
    return `${toHex(distributor)}${SEP}${contractId}`
  }

  static offerKey(retailer: Uint8Array, offerId: string): string {
    return `${toHex(retailer)}${SEP}${offerId}`
  }

  // --- contracts ---

  async head(contractKey: string): Promise<ContractHead | undefined> {
    const cached = this.#heads.get(contractKey)
    if (cached != null) return cached
    const head = await this.#repos.heads.get(contractKey)
    if (head == null) return undefined
    this.#heads.set(contractKey, head)
    return head
  }

  async #putHead(contractKey: string, head: ContractHead): Promise<void> {
    await this.#repos.heads.put(contractKey, head)
    this.#heads.set(contractKey, head)
  }

  async contractVersion(contractKey: string, seq: number): Promise<SignedRecord<'consort/contract'> | undefined> {
    const cacheKey = `${contractKey}${SEP}${seq}`
    const cached = this.#contracts.get(cacheKey)
    if (cached != null) return cached
    const record = await this.#repos.versions.get(`${contractKey}${SEP}${seqKey(seq)}`)
    if (record == null) return undefined
    this.#contracts.set(cacheKey, record)
    return record
  }

  /** The version a record id names, with the key of its contract. */
  async contractByCid(
    cid: CID | string,
  ): Promise<{ contractKey: string; record: SignedRecord<'consort/contract'> } | undefined> {
    let text = this.#byCid.get(cid.toString())
    if (text == null) {
      text = await this.#repos.versionKeys.get(cid.toString())
      if (text == null) return undefined
      this.#byCid.set(cid.toString(), text)
    }
    const cut = text.lastIndexOf(SEP)
    const contractKey = text.slice(0, cut)
    const record = await this.contractVersion(contractKey, Number(text.slice(cut + 1)))
    return record == null ? undefined : { contractKey, record }
  }

  /** The current version of the first contract found under this id (any distributor). */
  async contractById(contractId: string): Promise<SignedRecord<'consort/contract'> | undefined> {
    const prefix = `${contractId}${SEP}`
    for await (const key of this.#repos.contractIds.keys({ gt: prefix, lt: `${prefix}\xff`, limit: 1 })) {
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
    const repos = this.#repos
    await this.#store
      .batch()
      .put(repos.versions, `${contractKey}${SEP}${seqKey(record.body.seq)}`, record)
      .put(repos.versionKeys, record.id.toString(), `${contractKey}${SEP}${record.body.seq}`)
      .put(repos.contractIds, `${record.body.contractId}${SEP}${toHex(record.body.distributor)}`, true)
      .put(repos.heads, contractKey, next)
      .write()
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
    await this.#repos.revocations.put(target.toString(), { kind, by: toHex(by) })
  }

  /** Who revoked this record, if anyone did. */
  async revokedBy(target: CID | string): Promise<string | undefined> {
    return (await this.#repos.revocations.get(target.toString()))?.by
  }

  /** Every certification this service revoked (fed back into the node's trust at start). */
  async *revokedCertifications(): AsyncGenerator<string> {
    for await (const [target, entry] of this.#repos.revocations.entries()) {
      if (entry.kind === 'certification') yield target
    }
  }

  // --- offers known to the market ---

  async storedOffer(offerKey: string): Promise<StoredOffer | undefined> {
    return this.#repos.offers.get(offerKey)
  }

  async offerKeyOf(offerCid: CID | string): Promise<string | undefined> {
    return this.#repos.offerKeys.get(offerCid.toString())
  }

  /** Record a certified offer for queries; replaces an older version (and its index entries). */
  async putOffer(
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
    retailerName: string,
  ): Promise<void> {
    const repos = this.#repos
    const offerKey = ReferenceStore.offerKey(offer.signer, offer.body.offerId)
    const previous = await this.storedOffer(offerKey)
    const batch = this.#store.batch()
    for (const content of previous?.content ?? []) batch.del(repos.query, `${content}${SEP}${offerKey}`)
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
    batch.put(repos.offers, offerKey, entry)
    batch.put(repos.offerKeys, offer.id.toString(), offerKey)
    for (const content of offer.body.content) batch.put(repos.query, `${content}${SEP}${offerKey}`, true)
    await batch.write()
  }

  /** Drop an offer from the market (revoked). */
  async removeOffer(offerKey: string): Promise<void> {
    const previous = await this.storedOffer(offerKey)
    if (previous == null) return
    const batch = this.#store.batch().del(this.#repos.offers, offerKey)
    for (const content of previous.content) batch.del(this.#repos.query, `${content}${SEP}${offerKey}`)
    await batch.write()
  }

  /** Offer keys listed for one content id, at most `limit`. */
  async offersFor(content: string, limit: number): Promise<string[]> {
    const prefix = `${content}${SEP}`
    const keys: string[] = []
    for await (const key of this.#repos.query.keys({ gt: prefix, lt: `${prefix}\xff`, limit })) {
      keys.push(key.slice(prefix.length))
    }
    return keys
  }

  // --- what this service certified, per contract ---

  async issued(contractKey: string, offerCid: CID | string): Promise<IssuedEntry | undefined> {
    return this.#repos.issued.get(`${contractKey}${SEP}${offerCid.toString()}`)
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
    const batch = this.#store
      .batch()
      .put(this.#repos.issued, `${contractKey}${SEP}${offer.id.toString()}`, { offer: offer.bytes, certifications })
    if (supersedes != null && !supersedes.equals(offer.id)) {
      batch.del(this.#repos.issued, `${contractKey}${SEP}${supersedes.toString()}`)
    }
    await batch.write()
  }

  async removeIssued(contractKey: string, offerCids: Iterable<string>): Promise<void> {
    const batch = this.#store.batch()
    for (const cid of offerCids) batch.del(this.#repos.issued, `${contractKey}${SEP}${cid}`)
    await batch.write()
  }

  /** A page of what this service certified under a contract, after `after` (an offer cid). */
  async issuedPage(
    contractKey: string,
    after: string | null,
    limit: number,
  ): Promise<Array<{ offerCid: string; entry: IssuedEntry }>> {
    const prefix = `${contractKey}${SEP}`
    const page: Array<{ offerCid: string; entry: IssuedEntry }> = []
    const range = { gt: after == null ? prefix : `${prefix}${after}`, lt: `${prefix}\xff`, limit }
    for await (const [key, entry] of this.#repos.issued.entries(range)) {
      page.push({ offerCid: key.slice(prefix.length), entry })
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
    return this.#repos.releases.get(releaseId)
  }

  async putRelease(releaseIds: string[], entry: ReleaseEntry): Promise<void> {
    const batch = this.#store.batch()
    for (const id of releaseIds) batch.put(this.#repos.releases, id, entry)
    await batch.write()
  }
}
