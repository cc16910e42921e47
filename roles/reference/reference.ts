import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import { Lru } from '../../keys/lru.ts'
import type { Clock } from '../../protocols/clock.ts'
import { canonicalIcpn, tryCanonicalContentId } from '../../protocols/identifiers/content-id.ts'
import { isTerritory, territoryCovers } from '../../protocols/identifiers/territories.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import {
  decodeRecord,
  decodeRecordAs,
  recordId,
  type SignedRecord,
  signRecord,
} from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import { releaseContentId } from '../../protocols/records/types/release.ts'
import { MAX_REVOCATION_TARGETS } from '../../protocols/records/types/revocation.ts'
import {
  type CertifiedOfferMessage,
  type CertifyResponse,
  type ClauseFailure,
  certifyRequest,
  contractRequest,
  MAX_QUERY_RESULTS,
  queryRequest,
  REFERENCE_OPS,
  REFERENCE_PROTOCOL,
} from '../../protocols/reference/index.ts'
import { comparePrices, describeVerifiedOffer, queryCertifiedOffers } from '../../protocols/reference/offers.ts'
import { registerRpc } from '../../protocols/rpc/server.ts'
import type { GossipDelivery, TopicBus } from '../../protocols/topics/bus.ts'
import { checkContract, verifyContract } from '../../protocols/topics/contracts.ts'
import type { TopicLookups } from '../../protocols/topics/knowledge.ts'
import { TRUST_CODES } from '../../protocols/trust/errors.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import { KeyedQueue } from '../common/keyed-queue.ts'
import type { ControlRoute, Role } from '../role.ts'
import { checkOfferClauses, type RetailerStanding } from './clauses.ts'
import {
  ATTACHMENT_CACHE_ENTRIES,
  CERTIFICATION_REUSE_FRACTION,
  CONTRACT_FETCH_TIMEOUT_MS,
  MAX_QUERY_SCAN,
  RECHECK_PAGE,
  REVOCATION_OFFERS_PER_RECORD,
} from './constants.ts'
import { ReferenceNotRunningError, ReferenceRequestError } from './errors.ts'
import { type ContractHead, type ReferenceRoleStore, ReferenceStore } from './store.ts'

const log = logger('consort:reference')

/** What the reference service needs from the node. */
export interface ReferenceComponents {
  libp2p: Libp2p
  /** Its store (`REFERENCE_LAYOUT`), opened with its version checked before `start()`. */
  store: ReferenceRoleStore
  keys: NodeKeys
  clock: Clock
  network: NetworkContext
  topics: TopicBus
  trust: CertificateTrust
  records: RecordStore
}

/** Optional settings (all have defaults). */
export interface ReferenceInit {
  /** Fetch a contract this service has not seen by its CID from the network when an offer names it (default true). */
  fetchUnknownContracts?: boolean
  /** How long such a fetch may take (default `CONTRACT_FETCH_TIMEOUT_MS`). */
  contractFetchTimeoutMs?: number
  /** Offers re-checked per page when a contract changes (default `RECHECK_PAGE`). */
  recheckPage?: number
}

export interface CertifiedDetail {
  offer: SignedRecord<'consort/offer'>
  certification: SignedRecord<'consort/certification'>
}
export interface RefusedDetail {
  offer: SignedRecord<'consort/offer'>
  failures: ClauseFailure[]
}
export interface RevokedDetail {
  revocation: SignedRecord<'consort/revocation'>
  /** The offer records revoked. */
  offers: CID[]
  contractKey: string
}
export interface ContractDetail {
  contract: SignedRecord<'consort/contract'>
  head: ContractHead
}

/** Events: `certified`, `refused`, `revoked` (what this service revoked), `contract` (a version stored). */
export interface ReferenceEvents {
  certified: CustomEvent<CertifiedDetail>
  refused: CustomEvent<RefusedDetail>
  revoked: CustomEvent<RevokedDetail>
  contract: CustomEvent<ContractDetail>
}

interface Resolved {
  contractKey: string
  named: SignedRecord<'consort/contract'>
  current: SignedRecord<'consort/contract'>
  head: ContractHead
}

/**
 * The Reference Service: holds every contract's versions, certifies offers that conform to the contract in force
 * and refuses the rest naming every failed clause, re-checks what it certified whenever a contract changes and
 * revokes (by gossip) exactly what no longer conforms, and answers market queries from its store.
 */
export class ReferenceService extends EventTarget implements Role {
  readonly name = 'reference' as const
  readonly controlRoutes: readonly ControlRoute[]
  readonly #c: ReferenceComponents
  readonly #init: Required<ReferenceInit>
  readonly #store: ReferenceStore
  readonly #queue = new KeyedQueue()
  readonly #attachments = new Lru<string, SignedRecord & { body: { created: number } }>(ATTACHMENT_CACHE_ENTRIES)
  readonly #unsubscribe: Array<() => void> = []
  #unregister: (() => Promise<void>) | undefined
  #running = false

  constructor(components: ReferenceComponents, init: ReferenceInit = {}) {
    super()
    this.#c = components
    this.#init = {
      fetchUnknownContracts: init.fetchUnknownContracts ?? true,
      contractFetchTimeoutMs: init.contractFetchTimeoutMs ?? CONTRACT_FETCH_TIMEOUT_MS,
      recheckPage: init.recheckPage ?? RECHECK_PAGE,
    }
    this.#store = new ReferenceStore(components.store, () => this.decodeOptions())
    this.controlRoutes = this.#routes()
  }

  get store(): ReferenceStore {
    return this.#store
  }

  async start(): Promise<void> {
    if (this.#running) return
    const revoked: CID[] = []
    for await (const id of this.#store.revokedCertifications()) revoked.push(CID.parse(id))
    this.#c.trust.revoke(revoked)
    const topics = this.#c.topics
    // Each topic's rule decides what arrives (protocols/topics); the store tells it what this service knows.
    const lookups = this.#lookups()
    this.#unsubscribe.push(
      topics.subscribe('contracts', {
        lookups,
        onMessage: (d) => this.learnContract(d.record as SignedRecord<'consort/contract'>),
      }),
      topics.subscribe('revocations', {
        lookups,
        onMessage: (d) => this.applyRevocation(d.record as SignedRecord<'consort/revocation'>),
      }),
      topics.subscribe('offers', { lookups, onMessage: (d) => this.#learnOffer(d) }),
      topics.subscribe('catalog', { onMessage: (d) => this.#learnRelease(d.record) }),
    )
    this.#unregister = await registerRpc(this.#c.libp2p, this.#c.network.protocol(REFERENCE_PROTOCOL), {
      [REFERENCE_OPS.certify]: async (body) => this.certify(parseMessage(certifyRequest, body, 'request')),
      [REFERENCE_OPS.query]: async (body) => ({
        offers: await this.query(parseMessage(queryRequest, body, 'request')),
      }),
      [REFERENCE_OPS.contract]: async (body) => {
        const request = parseMessage(contractRequest, body, 'request')
        const record =
          request.cid != null
            ? (await this.#store.contractByCid(request.cid))?.record
            : await this.#store.contractById(request.contractId!)
        return { contract: record?.bytes ?? null }
      },
    })
    this.#running = true
    log('reference service started')
  }

  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe()
    await this.#unregister?.()
    this.#unregister = undefined
    await this.#queue.idle()
  }

  /** Resolves once every queued contract update, revocation and re-check has been applied. */
  async idle(): Promise<void> {
    await this.#queue.idle()
  }

  // --- certify ---

  /** Certify an offer or say which clauses it breaks (the `certify` op). */
  async certify(request: { offer: Uint8Array; attachments: Uint8Array[] }): Promise<CertifyResponse> {
    if (!this.#running) throw new ReferenceNotRunningError('the reference service is not running')
    const options = this.decodeOptions()
    const offer = decodeRecordAs('consort/offer', request.offer, options)
    const attachments = request.attachments.map((bytes) => this.#decodeAttachment(bytes, options))
    const verdict = this.#c.trust.check(offer, attachments)
    const retailer: RetailerStanding = verdict.ok
      ? { ok: true }
      : { ok: false, revoked: verdict.code === TRUST_CODES.revoked, reason: `retailer: ${verdict.reason}` }
    const now = this.#c.clock.now()
    const resolved = await this.#resolve(offer.body.contract)
    const failures = await this.#judge(offer, resolved, retailer, now)
    if (failures.length > 0) {
      this.#emit('refused', { offer, failures })
      return { status: 'refused', failures }
    }
    const { contractKey, current, head } = resolved!
    const ttl = this.#c.network.body.policy.certificationTtlMs
    const reusable = await this.#reusableCertification(contractKey, offer, head, now, ttl)
    if (reusable != null) return { status: 'certified', certification: reusable.bytes }

    const validUntil = Math.min(
      now + ttl,
      offer.body.validUntil ?? Number.MAX_SAFE_INTEGER,
      current.body.validUntil ?? Number.MAX_SAFE_INTEGER,
    )
    const certification = signRecord(
      'consort/certification',
      {
        network: this.#c.network.name,
        created: now,
        offer: offer.id,
        offerId: offer.body.offerId,
        contract: current.id,
        contractId: current.body.contractId,
        contractSeq: current.body.seq,
        validUntil,
      },
      this.#c.keys.signer,
      this.#c.network.caps,
    )
    await this.#store.addIssued(contractKey, offer, certification, null)
    const offerKey = ReferenceStore.offerKey(offer.signer, offer.body.offerId)
    const known = await this.#store.storedOffer(offerKey)
    if (known == null || known.seq <= offer.body.seq) {
      await this.#store.putOffer(offer, certification, this.#retailerName(offer, attachments))
    }

    // A contract update or revocation may have landed while this certification was being made: the re-check it
    // started could not see it, so check it again here against whatever is now in force.
    const after = await this.#store.head(contractKey)
    if (after != null && (after.seq !== head.seq || after.revokedSeq !== head.revokedSeq)) {
      const again = await this.#judge(
        offer,
        await this.#resolve(offer.body.contract, false),
        retailer,
        this.#c.clock.now(),
      )
      if (again.length > 0) {
        await this.#revoke(contractKey, [{ offer, certifications: [certification] }], again)
        this.#emit('refused', { offer, failures: again })
        return { status: 'refused', failures: again }
      }
    }
    this.#emit('certified', { offer, certification })
    return { status: 'certified', certification: certification.bytes }
  }

  /**
   * A retailer sends the same certificate with every request: decode and verify it once. The cache is keyed by the
   * bytes' id, so it only ever answers with exactly the record those bytes are. The node's trust still judges the
   * certificate (expiry, revocation) on every request.
   */
  #decodeAttachment(bytes: Uint8Array, options: ReturnType<ReferenceService['decodeOptions']>): SignedRecord {
    const id = recordId(bytes).toString()
    const cached = this.#attachments.get(id)
    if (cached != null && cached.body.created <= options.now + options.caps.clockSkewMs) return cached
    const record = decodeRecord(bytes, options)
    this.#attachments.set(id, record as SignedRecord & { body: { created: number } })
    return record
  }

  async #reusableCertification(
    contractKey: string,
    offer: SignedRecord<'consort/offer'>,
    head: ContractHead,
    now: number,
    ttl: number,
  ): Promise<SignedRecord<'consort/certification'> | undefined> {
    const issued = await this.#store.issued(contractKey, offer.id)
    const last = issued?.certifications.at(-1)
    if (last == null) return undefined
    const certification = this.#store.decodeCertification(last)
    const fresh = certification.body.validUntil - now > ttl * CERTIFICATION_REUSE_FRACTION
    return fresh && certification.body.contractSeq === head.seq && !this.#c.trust.isRevoked(certification.id)
      ? certification
      : undefined
  }

  async #judge(
    offer: SignedRecord<'consort/offer'>,
    resolved: Resolved | undefined,
    retailer: RetailerStanding,
    now: number,
  ): Promise<ClauseFailure[]> {
    return checkOfferClauses({
      offer,
      now,
      retailer,
      named: resolved?.named ?? null,
      current: resolved?.current ?? null,
      contractRevoked: resolved != null && resolved.head.revokedSeq >= resolved.head.seq,
      offerRevoked: await this.#isOfferRevoked(offer),
      releaseTracks: await this.#releaseTracks(offer.body.content),
      ruleDefaults: this.#c.network.body.policy.ruleDefaults,
    })
  }

  /** The contract an offer names, the current version of it, and its head; fetched by CID if unknown here. */
  async #resolve(cid: CID, fetch = true): Promise<Resolved | undefined> {
    let found = await this.#store.contractByCid(cid)
    if (found == null && fetch && this.#init.fetchUnknownContracts) {
      try {
        const record = await this.#c.records.getAs('consort/contract', cid, {
          signal: AbortSignal.timeout(this.#init.contractFetchTimeoutMs),
        })
        if (verifyContract(record, this.#c.trust).result === 'accept') {
          await this.learnContract(record)
          found = await this.#store.contractByCid(cid)
        }
      } catch (err) {
        log('contract %s not found on the network: %e', cid, err)
      }
    }
    if (found == null) return undefined
    const head = await this.#store.head(found.contractKey)
    if (head == null) return undefined
    const current =
      head.seq === found.record.body.seq ? found.record : await this.#store.contractVersion(found.contractKey, head.seq)
    if (current == null) return undefined
    return { contractKey: found.contractKey, named: found.record, current, head }
  }

  async #releaseTracks(content: readonly string[]): Promise<Map<string, readonly string[]>> {
    const tracks = new Map<string, readonly string[]>()
    for (const item of content) {
      if (item.startsWith('isrc:')) continue
      const release = await this.#store.release(item)
      if (release != null) tracks.set(item, release.tracks)
    }
    return tracks
  }

  async #isOfferRevoked(offer: SignedRecord<'consort/offer'>): Promise<boolean> {
    const by = await this.#store.revokedBy(offer.id)
    if (by == null) return false
    return by === toHex(offer.signer) || this.#c.trust.isReferenceService(Buffer.from(by, 'hex'))
  }

  #retailerName(offer: SignedRecord<'consort/offer'>, attachments: readonly SignedRecord[]): string {
    const attached = attachments.find(
      (a): a is SignedRecord<'consort/cert'> =>
        a.type === 'consort/cert' &&
        Buffer.compare((a as SignedRecord<'consort/cert'>).body.subject, offer.signer) === 0,
    )
    return attached?.body.name ?? this.#c.trust.certOf(offer.signer)?.body.name ?? 'unnamed retailer'
  }

  // --- contracts ---

  /**
   * Store a contract version (from the contracts topic, or fetched). A higher seq becomes the version in force
   * and everything this service certified under the contract is re-checked against it.
   */
  async learnContract(record: SignedRecord<'consort/contract'>): Promise<void> {
    if (checkContract(record).result !== 'accept') return
    const contractKey = ReferenceStore.contractKey(record.signer, record.body.contractId)
    await this.#queue.run(contractKey, async () => {
      const before = await this.#store.head(contractKey)
      if (before?.cid === record.id.toString()) return
      const revokedEarlier = (await this.#store.revokedBy(record.id)) === toHex(record.signer)
      const head = await this.#store.putContract(record, revokedEarlier ? record.body.seq : -1)
      await this.#c.records.put(record).catch((err) => log.error('cannot store contract %s: %e', record.id, err))
      this.#emit('contract', { contract: record, head })
      if (before != null && (head.seq !== before.seq || head.revokedSeq !== before.revokedSeq)) {
        await this.#recheck(contractKey)
      }
    })
  }

  // --- revocations ---

  /** Apply a revocation from the revocations topic: offers leave the market, revoked contracts are re-checked. */
  async applyRevocation(record: SignedRecord<'consort/revocation'>): Promise<void> {
    const signer = toHex(record.signer)
    const byReference = this.#c.trust.isReferenceService(record.signer)
    for (const target of record.body.targets) {
      if (target.kind === 'offer') {
        const offerKey = await this.#store.offerKeyOf(target.id)
        if (offerKey != null && !byReference && !offerKey.startsWith(`${signer}!`)) continue
        await this.#store.putRevocation(target.id, 'offer', record.signer)
        if (offerKey != null) {
          const stored = await this.#store.storedOffer(offerKey)
          if (stored?.offerCid.equals(target.id) === true) await this.#store.removeOffer(offerKey)
        }
      } else if (target.kind === 'contract') {
        const found = await this.#store.contractByCid(target.id)
        if (found == null) {
          // Not seen yet: remember who revoked it; it counts if the contract turns out to be theirs.
          await this.#store.putRevocation(target.id, 'contract', record.signer)
          continue
        }
        if (toHex(found.record.signer) !== signer) continue
        await this.#store.putRevocation(target.id, 'contract', record.signer)
        await this.#queue.run(found.contractKey, async () => {
          const before = await this.#store.head(found.contractKey)
          const after = await this.#store.setRevokedSeq(found.contractKey, found.record.body.seq)
          if (after != null && after.revokedSeq !== before?.revokedSeq) await this.#recheck(found.contractKey)
        })
      }
    }
  }

  /**
   * Re-check every offer this service certified under a contract against the version now in force, and revoke
   * exactly those that no longer conform (each offer and its still-valid certifications). Runs inside the
   * contract's queue.
   */
  async #recheck(contractKey: string): Promise<void> {
    let after: string | null = null
    const expired: string[] = []
    const failing: Array<{
      offer: SignedRecord<'consort/offer'>
      certifications: SignedRecord<'consort/certification'>[]
      failures: ClauseFailure[]
    }> = []
    const now = this.#c.clock.now()
    for (;;) {
      const page = await this.#store.issuedPage(contractKey, after, this.#init.recheckPage)
      if (page.length === 0) break
      after = page.at(-1)!.offerCid
      for (const { offerCid, entry } of page) {
        const offer = this.#store.decodeOffer(entry.offer)
        const live = entry.certifications
          .map((bytes) => this.#store.decodeCertification(bytes))
          .filter((c) => c.body.validUntil > now && !this.#c.trust.isRevoked(c.id))
        if (live.length === 0) {
          expired.push(offerCid)
          continue
        }
        const verdict = this.#c.trust.check(offer)
        const retailer: RetailerStanding =
          !verdict.ok && verdict.code === TRUST_CODES.revoked
            ? { ok: false, revoked: true, reason: `retailer: ${verdict.reason}` }
            : { ok: true }
        const failures = await this.#judge(offer, await this.#resolve(offer.body.contract, false), retailer, now)
        if (failures.length > 0) failing.push({ offer, certifications: live, failures })
      }
    }
    if (expired.length > 0) await this.#store.removeIssued(contractKey, expired)
    for (let i = 0; i < failing.length; i += REVOCATION_OFFERS_PER_RECORD) {
      const batch = failing.slice(i, i + REVOCATION_OFFERS_PER_RECORD)
      await this.#revoke(
        contractKey,
        batch,
        batch.flatMap((b) => b.failures),
      )
    }
  }

  /** Sign, apply and gossip the revocation of offers and their certifications. */
  async #revoke(
    contractKey: string,
    offers: Array<{ offer: SignedRecord<'consort/offer'>; certifications: SignedRecord<'consort/certification'>[] }>,
    failures: ClauseFailure[],
  ): Promise<void> {
    const targets = offers
      .flatMap(({ offer, certifications }) => [
        { kind: 'offer' as const, id: offer.id },
        ...certifications.map((c) => ({ kind: 'certification' as const, id: c.id })),
      ])
      .slice(0, MAX_REVOCATION_TARGETS)
    const clauses = [...new Set(failures.map((f) => f.clause))]
    const first = failures[0]?.message ?? ''
    const reason = `no longer conforms to its contract (${clauses.join(', ')}): ${first}`.slice(0, 512)
    const revocation = signRecord(
      'consort/revocation',
      { network: this.#c.network.name, created: this.#c.clock.now(), targets, reason },
      this.#c.keys.signer,
      this.#c.network.caps,
    )
    const certificationIds = targets.filter((t) => t.kind === 'certification').map((t) => t.id)
    this.#c.trust.revoke(certificationIds)
    for (const target of targets) await this.#store.putRevocation(target.id, target.kind, this.#c.keys.signer.publicKey)
    for (const { offer } of offers) {
      const offerKey = ReferenceStore.offerKey(offer.signer, offer.body.offerId)
      const stored = await this.#store.storedOffer(offerKey)
      if (stored?.offerCid.equals(offer.id) === true) await this.#store.removeOffer(offerKey)
    }
    await this.#store.removeIssued(
      contractKey,
      offers.map(({ offer }) => offer.id.toString()),
    )
    try {
      await this.#c.topics.publish('revocations', revocation)
    } catch (err) {
      log.error('cannot publish revocation %s: %e', revocation.id, err)
    }
    log('revoked %d offer(s) under %s: %s', offers.length, contractKey, reason)
    this.#emit('revoked', { revocation, offers: offers.map((o) => o.offer.id), contractKey })
  }

  /** What this service's store knows, for the topics' rules: newest versions, who revoked what, whose record is whose. */
  #lookups(): TopicLookups {
    return {
      latest: async (record) => {
        if (record.type === 'consort/contract') {
          const contract = record as SignedRecord<'consort/contract'>
          const head = await this.#store.head(ReferenceStore.contractKey(contract.signer, contract.body.contractId))
          return head == null ? undefined : { seq: head.seq, id: head.cid }
        }
        if (record.type === 'consort/offer') {
          const offer = record as SignedRecord<'consort/offer'>
          const stored = await this.#store.storedOffer(ReferenceStore.offerKey(offer.signer, offer.body.offerId))
          return stored == null ? undefined : { seq: stored.seq, id: stored.offerCid.toString() }
        }
        return undefined
      },
      revokers: async (id) => {
        const by = await this.#store.revokedBy(id)
        return by == null ? [] : [by]
      },
      signerOf: async (id) => {
        const contract = await this.#store.contractByCid(id)
        if (contract != null) return toHex(contract.record.signer)
        return (await this.#store.offerKeyOf(id))?.split('!')[0]
      },
    }
  }

  // --- offers and releases from gossip ---

  async #learnOffer(delivery: GossipDelivery): Promise<void> {
    const offer = delivery.record as SignedRecord<'consort/offer'>
    const certification = delivery.attachments.find(
      (a): a is SignedRecord<'consort/certification'> =>
        a.type === 'consort/certification' && (a as SignedRecord<'consort/certification'>).body.offer.equals(offer.id),
    )
    if (certification == null) return
    const offerKey = ReferenceStore.offerKey(offer.signer, offer.body.offerId)
    const known = await this.#store.storedOffer(offerKey)
    if (known != null) {
      if (known.seq > offer.body.seq) return
      if (known.offerCid.equals(offer.id) && known.certValidUntil >= certification.body.validUntil) return
    }
    await this.#store.putOffer(offer, certification, this.#retailerName(offer, delivery.attachments))
  }

  async #learnRelease(record: SignedRecord): Promise<void> {
    if (record.type !== 'consort/release') return
    const release = record as SignedRecord<'consort/release'>
    const ids = [
      release.body.icpn != null ? `icpn:${canonicalIcpn(release.body.icpn)}` : null,
      release.body.grid != null ? `grid:${release.body.grid}` : null,
    ].filter((id): id is string => id != null)
    const known = await this.#store.release(releaseContentId(release.body))
    if (known != null && (known.signer !== toHex(release.signer) || known.seq >= release.body.seq)) return
    await this.#store.putRelease(ids, {
      seq: release.body.seq,
      signer: toHex(release.signer),
      tracks: release.body.tracks.map((t) => `isrc:${t.isrc}`),
    })
  }

  // --- query ---

  /** The certified, unexpired, unrevoked offers for one content id in one territory, cheapest first. */
  async query(request: {
    content: string
    territory: string
    at: number | null
    limit: number
  }): Promise<CertifiedOfferMessage[]> {
    const now = this.#c.clock.now()
    const at = request.at ?? now
    const found: Array<{ message: CertifiedOfferMessage; offerCid: string }> = []
    for (const offerKey of await this.#store.offersFor(request.content, MAX_QUERY_SCAN)) {
      const entry = await this.#store.storedOffer(offerKey)
      if (entry == null) continue
      if (entry.certValidUntil <= now) continue
      if (entry.validFrom > at || (entry.validUntil != null && at >= entry.validUntil)) continue
      if (!territoryCovers(entry.territories, entry.excludedTerritories, request.territory)) continue
      if (this.#c.trust.isRevoked(entry.certCid)) continue
      const by = await this.#store.revokedBy(entry.offerCid)
      if (by != null && (offerKey.startsWith(`${by}!`) || this.#c.trust.isReferenceService(Buffer.from(by, 'hex'))))
        continue
      found.push({
        offerCid: entry.offerCid.toString(),
        message: {
          offer: entry.offer,
          certification: entry.certification,
          retailerName: entry.retailerName,
          price: entry.price,
        },
      })
    }
    found.sort((a, b) => comparePrices(a.message.price, b.message.price) || a.offerCid.localeCompare(b.offerCid))
    return found.slice(0, Math.min(request.limit, MAX_QUERY_RESULTS)).map((f) => f.message)
  }

  // --- control API ---

  #routes(): ControlRoute[] {
    return [
      {
        method: 'GET',
        path: '/market',
        handler: async ({ query, signal }) => {
          const content = tryCanonicalContentId(query.content ?? '')
          const territory = query.territory ?? 'Worldwide'
          if (content == null) throw new ReferenceRequestError('content', `not a content id: ${query.content ?? ''}`)
          if (!isTerritory(territory)) throw new ReferenceRequestError('territory', `not a territory: ${territory}`)
          const answer = await queryCertifiedOffers(
            {
              libp2p: this.#c.libp2p,
              network: this.#c.network,
              trust: this.#c.trust,
              clock: this.#c.clock,
            },
            { content, territory },
            { signal },
          )
          return { content, territory, ...answer, offers: answer.offers.map(describeVerifiedOffer) }
        },
      },
      {
        method: 'GET',
        path: '/contracts/:id',
        handler: async ({ params }) => {
          const id = params.id ?? ''
          let record: SignedRecord<'consort/contract'> | undefined
          try {
            record = (await this.#store.contractByCid(CID.parse(id)))?.record
          } catch {
            record = await this.#store.contractById(id)
          }
          if (record == null) return null
          const head = await this.#store.head(ReferenceStore.contractKey(record.signer, record.body.contractId))
          return { id: record.id, head, body: record.body }
        },
      },
    ]
  }

  decodeOptions() {
    return { network: this.#c.network.name, now: this.#c.clock.now(), caps: this.#c.network.caps }
  }

  #emit<K extends keyof ReferenceEvents>(type: K, detail: ReferenceEvents[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }
}
