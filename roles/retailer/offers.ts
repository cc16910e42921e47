import type { Libp2p } from '@libp2p/interface'
import { NotFoundError } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { Random } from '../../keys/random.ts'
import type { Clock } from '../../protocols/clock.ts'
import { formatMinorUnits } from '../../protocols/identifiers/currencies.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import type { OfferBody } from '../../protocols/records/types/offer.ts'
import { REFERENCE_ERRORS } from '../../protocols/reference/errors.ts'
import {
  type ClauseFailure,
  certifyResponse,
  contractResponse,
  REFERENCE_OPS,
  REFERENCE_PROTOCOL,
} from '../../protocols/reference/index.ts'
import { verifyCertification } from '../../protocols/reference/offers.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import type { TopicBus } from '../../protocols/topics/bus.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import type { RuleBounds, UsageRules } from '../../protocols/usage-rules/index.ts'
import { KeyedQueue } from '../common/keyed-queue.ts'
import type { Credentials } from '../role.ts'
import {
  CERTIFY_DEADLINE_MS,
  DEFAULT_MARKUP_BPS,
  MAX_LIST_OFFERS,
  MAX_OFFERS,
  MAX_OFFERS_FROM_CONTRACTS,
  MAX_RENEWALS_PER_ROUND,
  PLAYS_PER_PASS,
  RENEW_BEFORE_FRACTION,
} from './constants.ts'
import type { OfferChanges } from './draft.ts'
import {
  ContractUnknownError,
  OfferExistsError,
  OfferInputError,
  OfferWithdrawnError,
  RetailerBusyError,
  RetailerNotCertifiedError,
} from './errors.ts'
import type { OfferEntry, OfferStatus, RetailerStore } from './store.ts'

const log = logger('consort:retailer:offers')

export interface OfferDeskComponents {
  libp2p: Libp2p
  keys: NodeKeys
  clock: Clock
  random: Random
  network: NetworkContext
  topics: TopicBus
  trust: CertificateTrust
  records: RecordStore
  credentials: Credentials
}

/** The outcome of asking the reference services. */
export type CertifyOutcome =
  | { status: 'certified'; certification: SignedRecord<'consort/certification'>; certifier: string }
  | { status: 'refused'; failures: ClauseFailure[]; certifier: string }
  | { status: 'pending'; reason: string }

/** An offer as the retailer reports it (CLI, control API). */
export interface OfferView {
  offerId: string
  status: OfferStatus
  onSale: boolean
  /** The version on sale, else the latest attempt. */
  offer: string
  seq: number
  content: string[]
  contract: string
  price: { amount: bigint; currency: string }
  priceText: string
  useType: string
  rules: UsageRules
  territories: string[]
  excludedTerritories: string[]
  validFrom: number
  validUntil: number | null
  promotion: OfferBody['promotion']
  certification: string | null
  certifiedUntil: number | null
  failures: ClauseFailure[]
  note: string | null
}

/**
 * The retailer's offers: writes them (within its contracts), has them certified by the reference services,
 * gossips the certified ones with their certification and the retailer's certificate, renews certifications
 * before they expire, and withdraws offers by revocation. Every change to one offer is serialised.
 */
export class OfferDesk {
  readonly #c: OfferDeskComponents
  readonly #store: RetailerStore
  readonly #queue = new KeyedQueue()
  #renewing = false
  /** Offers held, counted once (bounded scan) and kept up to date by `create`. */
  #count: number | undefined

  constructor(components: OfferDeskComponents, store: RetailerStore) {
    this.#c = components
    this.#store = store
  }

  // --- create, update, withdraw, list ---

  async create(changes: OfferChanges): Promise<OfferView> {
    const offerId = changes.offerId ?? `offer-${toHex(this.#c.random.bytes(8))}`
    return this.#queue.run(offerId, async () => {
      if ((await this.#store.offer(offerId)) != null) throw new OfferExistsError(`offer ${offerId} already exists`)
      this.#count ??= await this.#store.countOffers(MAX_OFFERS)
      if (this.#count >= MAX_OFFERS) throw new RetailerBusyError(`this retailer already holds ${MAX_OFFERS} offers`)
      const contract = await this.resolveContract(changes.contract)
      const body = this.#compose(offerId, 0, changes, null, contract)
      const view = await this.#submit(offerId, body, null)
      this.#count++
      return view
    })
  }

  async update(offerId: string, changes: OfferChanges): Promise<OfferView> {
    return this.#queue.run(offerId, async () => {
      const entry = await this.#store.offer(offerId)
      if (entry == null) throw new NotFoundError(`no offer ${offerId}`)
      if (entry.status === 'withdrawn') throw new OfferWithdrawnError(`offer ${offerId} was withdrawn`)
      const latest = this.#store.decode('consort/offer', entry.latest)
      const contract = await this.resolveContract(changes.contract ?? latest.body.contract.toString())
      const body = this.#compose(offerId, latest.body.seq + 1, changes, latest.body, contract)
      return this.#submit(offerId, body, entry)
    })
  }

  /** Withdraw an offer: a revocation of kind `offer` for the version on sale, gossiped. */
  async withdraw(offerId: string, reason: string): Promise<OfferView> {
    return this.#queue.run(offerId, async () => {
      const entry = await this.#store.offer(offerId)
      if (entry == null) throw new NotFoundError(`no offer ${offerId}`)
      if (entry.status === 'withdrawn') return this.#view(entry)
      const targets = [entry.live?.offer, entry.latest]
        .filter((b): b is Uint8Array => b != null)
        .map((bytes) => this.#store.decode('consort/offer', bytes).id)
        .filter((id, i, all) => all.findIndex((other) => other.equals(id)) === i)
        .map((id) => ({ kind: 'offer' as const, id }))
      const revocation = signRecord(
        'consort/revocation',
        { network: this.#c.network.name, created: this.#c.clock.now(), targets, reason },
        this.#c.keys.signer,
        this.#c.network.caps,
      )
      const next: OfferEntry = {
        ...entry,
        live: null,
        status: 'withdrawn',
        note: reason,
        updatedAt: this.#c.clock.now(),
      }
      await this.#store.putOffer(next)
      await this.#c.topics.publish('revocations', revocation, this.#c.credentials.attachments())
      return this.#view(next)
    })
  }

  async get(offerId: string): Promise<OfferView> {
    const entry = await this.#store.offer(offerId)
    if (entry == null) throw new NotFoundError(`no offer ${offerId}`)
    return this.#view(entry)
  }

  /** The signed records of an offer: the version on sale and its certification, else the latest attempt. */
  async records(offerId: string): Promise<{
    offer: SignedRecord<'consort/offer'>
    certification: SignedRecord<'consort/certification'> | null
  }> {
    const entry = await this.#store.offer(offerId)
    if (entry == null) throw new NotFoundError(`no offer ${offerId}`)
    return {
      offer: this.#store.decode('consort/offer', entry.live?.offer ?? entry.latest),
      certification: entry.live != null ? this.#store.decode('consort/certification', entry.live.certification) : null,
    }
  }

  async list(after: string | null = null, limit = MAX_LIST_OFFERS): Promise<OfferView[]> {
    const entries = await this.#store.offers(after, Math.min(limit, MAX_LIST_OFFERS))
    return entries.map((e) => this.#view(e))
  }

  /** A reference service revoked one of this retailer's offers (or its certification): it is off sale. */
  async markRevoked(offerCid: CID, reason: string): Promise<void> {
    const offerId = await this.#store.offerIdOf(offerCid)
    if (offerId == null) return
    await this.#queue.run(offerId, async () => {
      const entry = await this.#store.offer(offerId)
      if (entry?.live == null) return
      const live = this.#store.decode('consort/offer', entry.live.offer)
      if (!live.id.equals(offerCid)) return
      await this.#store.putOffer({
        ...entry,
        live: null,
        status: 'revoked',
        note: reason,
        updatedAt: this.#c.clock.now(),
      })
    })
  }

  // --- renewal ---

  /**
   * One renewal round: certifications with less than a quarter of the network's TTL left are renewed (the same
   * offer record, a fresh certification, gossiped again) and pending offers are submitted again. Bounded per round.
   */
  async renewDue(): Promise<{ renewed: number; retried: number }> {
    if (this.#renewing) return { renewed: 0, retried: 0 }
    this.#renewing = true
    try {
      const now = this.#c.clock.now()
      const renewBefore = Math.floor(this.#c.network.body.policy.certificationTtlMs * RENEW_BEFORE_FRACTION)
      let renewed = 0
      let retried = 0
      for (const offerId of await this.#store.renewalsDue(now + renewBefore, MAX_RENEWALS_PER_ROUND)) {
        if (await this.#renew(offerId)) renewed++
      }
      for (const offerId of await this.#store.pendingOffers(MAX_RENEWALS_PER_ROUND)) {
        await this.#queue.run(offerId, async () => {
          const current = await this.#store.offer(offerId)
          if (current?.status !== 'pending') return
          const offer = this.#store.decode('consort/offer', current.latest)
          await this.#afterCertify(offer, current, await this.certify(offer))
        })
        retried++
      }
      return { renewed, retried }
    } finally {
      this.#renewing = false
    }
  }

  async #renew(offerId: string): Promise<boolean> {
    return this.#queue.run(offerId, async () => {
      const entry = await this.#store.offer(offerId)
      if (entry?.live == null || entry.status !== 'certified') return false
      const offer = this.#store.decode('consort/offer', entry.live.offer)
      if (offer.body.validUntil != null && offer.body.validUntil <= this.#c.clock.now()) {
        // The offer's own window is over: nothing to renew, ever.
        await this.#store.dropRenewal(entry)
        return false
      }
      const outcome = await this.certify(offer)
      if (outcome.status === 'certified') {
        const next: OfferEntry = {
          ...entry,
          live: { offer: offer.bytes, certification: outcome.certification.bytes, previous: entry.live.certification },
          note: `renewed by ${outcome.certifier}`,
          updatedAt: this.#c.clock.now(),
        }
        await this.#store.putOffer(next)
        await this.#publish(offer, outcome.certification)
        return true
      }
      if (outcome.status === 'refused') {
        // The offer no longer conforms (the reference service will revoke it too): take it off sale.
        await this.#store.putOffer({
          ...entry,
          live: null,
          status: 'refused',
          failures: outcome.failures,
          note: `renewal refused by ${outcome.certifier}`,
          updatedAt: this.#c.clock.now(),
        })
      }
      log('renewal of %s: %s', offerId, outcome.status)
      return false
    })
  }

  // --- certification ---

  /**
   * Ask the reference services, in the network record's order, to certify an offer. The first certification
   * wins. A refusal is final unless the only failure is that the contract is unknown there (gossip may not have
   * reached that service yet), in which case the next service is asked. Unreachable services are skipped; when
   * none answers, the offer is pending and the renewal round submits it again.
   */
  async certify(offer: SignedRecord<'consort/offer'>): Promise<CertifyOutcome> {
    const cert = this.#c.credentials.cert()
    const attachments = cert != null ? [cert.bytes] : []
    const protocol = this.#c.network.protocol(REFERENCE_PROTOCOL)
    const options = { network: this.#c.network.name, now: this.#c.clock.now(), caps: this.#c.network.caps }
    let refusal: CertifyOutcome | undefined
    const problems: string[] = []
    for (const anchor of this.#c.network.body.references) {
      try {
        const body = await rpcCall(
          this.#c.libp2p,
          peerIdOfKey(anchor.key),
          protocol,
          REFERENCE_OPS.certify,
          { offer: offer.bytes, attachments },
          { deadlineMs: CERTIFY_DEADLINE_MS, errors: REFERENCE_ERRORS },
        )
        const answer = parseMessage(certifyResponse, body, 'response')
        if (answer.status === 'certified') {
          const certification = decodeRecordAs('consort/certification', answer.certification, options)
          const verdict = verifyCertification(offer, certification, this.#c.trust, this.#c.clock.now())
          if (!verdict.ok) {
            problems.push(`${anchor.name}: ${verdict.reason}`)
            continue
          }
          return { status: 'certified', certification, certifier: anchor.name }
        }
        refusal ??= { status: 'refused', failures: answer.failures, certifier: anchor.name }
        if (!answer.failures.every((f) => f.clause === 'contract-exists')) {
          return { status: 'refused', failures: answer.failures, certifier: anchor.name }
        }
      } catch (err) {
        // Whatever went wrong (a refusal such as `ReferenceNotRunningError`, no answer), the next service is asked.
        problems.push(`${anchor.name}: ${(err as Error).message}`)
      }
    }
    return (
      refusal ?? {
        status: 'pending',
        reason:
          problems.length > 0
            ? `no reference service certified it: ${problems.join('; ')}`
            : 'the network lists no reference service',
      }
    )
  }

  async #submit(offerId: string, body: OfferBody, previous: OfferEntry | null): Promise<OfferView> {
    if (this.#c.credentials.cert() == null) {
      throw new RetailerNotCertifiedError('this node holds no retailer certificate; its offers cannot be certified')
    }
    const offer = signRecord('consort/offer', body, this.#c.keys.signer, this.#c.network.caps)
    await this.#c.records.put(offer)
    const entry: OfferEntry = previous ?? {
      offerId,
      live: null,
      latest: offer.bytes,
      status: 'pending',
      failures: [],
      note: null,
      updatedAt: this.#c.clock.now(),
    }
    const outcome = await this.certify(offer)
    return this.#afterCertify(offer, { ...entry, latest: offer.bytes }, outcome)
  }

  async #afterCertify(
    offer: SignedRecord<'consort/offer'>,
    entry: OfferEntry,
    outcome: CertifyOutcome,
  ): Promise<OfferView> {
    const now = this.#c.clock.now()
    let next: OfferEntry
    if (outcome.status === 'certified') {
      next = {
        ...entry,
        live: { offer: offer.bytes, certification: outcome.certification.bytes, previous: null },
        latest: offer.bytes,
        status: 'certified',
        failures: [],
        note: `certified by ${outcome.certifier}`,
        updatedAt: now,
      }
    } else if (outcome.status === 'refused') {
      next = {
        ...entry,
        latest: offer.bytes,
        status: 'refused',
        failures: outcome.failures,
        note: `refused by ${outcome.certifier}${entry.live != null ? '; the previous version stays on sale' : ''}`,
        updatedAt: now,
      }
    } else {
      next = { ...entry, latest: offer.bytes, status: 'pending', failures: [], note: outcome.reason, updatedAt: now }
    }
    await this.#store.putOffer(next, [offer.id])
    if (outcome.status === 'certified') await this.#publish(offer, outcome.certification)
    return this.#view(next)
  }

  async #publish(
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
  ): Promise<void> {
    await this.#c.records.put(certification)
    const cert = this.#c.credentials.cert()
    try {
      await this.#c.topics.publish('offers', offer, cert != null ? [certification, cert] : [certification])
    } catch (err) {
      log.error('cannot publish offer %s: %e', offer.id, err)
    }
  }

  // --- composing offer bodies ---

  /** The contract an input names: a record CID, or a contract id (its latest version known here or to a reference). */
  async resolveContract(ref: string | undefined): Promise<SignedRecord<'consort/contract'> | null> {
    if (ref == null) throw new OfferInputError('contract', 'an offer must name its contract (a CID or a contract id)')
    let cid: CID | null = null
    try {
      cid = CID.parse(ref)
    } catch {}
    const local = cid != null ? await this.#store.contractByCid(cid) : await this.#store.contractById(ref)
    if (local != null) return local
    const fromReference = await this.#askReference(
      cid != null ? { contractId: null, cid } : { contractId: ref, cid: null },
    )
    if (fromReference != null) return fromReference
    if (cid != null) return null
    throw new ContractUnknownError(`contract ${ref} is known neither here nor to the reference services`)
  }

  async #askReference(request: { contractId: string | null; cid: CID | null }) {
    const protocol = this.#c.network.protocol(REFERENCE_PROTOCOL)
    const options = { network: this.#c.network.name, now: this.#c.clock.now(), caps: this.#c.network.caps }
    for (const anchor of this.#c.network.body.references) {
      try {
        const body = await rpcCall(this.#c.libp2p, peerIdOfKey(anchor.key), protocol, REFERENCE_OPS.contract, request, {
          errors: REFERENCE_ERRORS,
        })
        const answer = parseMessage(contractResponse, body, 'response')
        if (answer.contract != null) return decodeRecordAs('consort/contract', answer.contract, options)
      } catch (err) {
        log('reference %s cannot answer contract %o: %e', anchor.name, request, err)
      }
    }
    return undefined
  }

  /**
   * An offer body from the changes, the previous version (on update) and the contract's terms (defaults for
   * territories and window when neither the changes nor a previous version set them).
   */
  #compose(
    offerId: string,
    seq: number,
    changes: OfferChanges,
    previous: OfferBody | null,
    contract: SignedRecord<'consort/contract'> | null,
  ): OfferBody {
    const now = this.#c.clock.now()
    const c = contract?.body
    const pick = <T>(field: string, value: T | undefined, before: T | undefined, fallback: T | undefined): T => {
      const chosen = value !== undefined ? value : before !== undefined ? before : fallback
      if (chosen === undefined) throw new OfferInputError(field, 'is required')
      return chosen
    }
    const contractCid = contract?.id ?? (changes.contract != null ? CID.parse(changes.contract) : previous?.contract)
    return {
      network: this.#c.network.name,
      created: now,
      offerId,
      seq,
      content: pick('content', changes.content, previous?.content, undefined),
      contract: pick('contract', contractCid, undefined, undefined),
      price: pick('price', changes.price, previous?.price, undefined),
      useType: pick(
        'useType',
        changes.useType,
        previous?.useType,
        c?.useTypes.length === 1 ? c.useTypes[0] : undefined,
      ),
      rules: pick('rules', changes.rules, previous?.rules, c != null ? rulesWithin(c.ruleBounds) : {}),
      territories: pick('territories', changes.territories, previous?.territories, c?.territories),
      // Exclusions go with the territory list they belong to: new territories without exclusions exclude nothing.
      excludedTerritories: pick(
        'excludedTerritories',
        changes.excludedTerritories ?? (changes.territories != null ? [] : undefined),
        previous?.excludedTerritories,
        c?.excludedTerritories ?? [],
      ),
      validFrom: pick(
        'validFrom',
        changes.validFrom ?? undefined,
        previous?.validFrom,
        Math.max(c?.validFrom ?? now, 0),
      ),
      validUntil: pick('validUntil', changes.validUntil, previous?.validUntil, c?.validUntil ?? null),
      promotion: pick('promotion', changes.promotion, previous?.promotion, null),
    } as OfferBody
  }

  // --- offers from contracts (the devnet's sample offers) ---

  /**
   * Create an offer for every content item of every contract in force that lets this retailer sell and that it
   * has no offer for yet: one per use type (Preview aside), at the wholesale price plus `markupBps`, with usage
   * rules at the contract's bounds. The devnet calls this after the label has published its contracts.
   */
  async fromContracts(options: { markupBps?: number; content?: string[] } = {}): Promise<OfferView[]> {
    const markup = BigInt(options.markupBps ?? DEFAULT_MARKUP_BPS)
    const now = this.#c.clock.now()
    const existing = new Set<string>()
    for (const view of await this.list()) {
      if (view.status !== 'withdrawn') existing.add(`${view.contract}|${view.content.join(',')}|${view.useType}`)
    }
    const created: OfferView[] = []
    for (const contract of await this.#store.contracts(MAX_OFFERS_FROM_CONTRACTS)) {
      const c = contract.body
      if (await this.#store.isContractRevoked(contract.id)) continue
      if (c.validUntil != null && c.validUntil <= now) continue
      if (c.retailer != null && toHex(c.retailer) !== toHex(this.#c.keys.signer.publicKey)) continue
      // Per unit: the wholesale price plus the markup. Per play only: a pass of plays (the contract's bound, else
      // `PLAYS_PER_PASS`) priced at the plays' wholesale plus the markup. No wholesale at all (free, subscription
      // and ad-supported models): free.
      const rules = rulesWithin(c.ruleBounds)
      const wholesale = c.wholesale.find((w) => w.per === 'unit') ?? c.wholesale[0]
      let base = 0n
      if (wholesale?.per === 'unit') base = wholesale.amount
      else if (wholesale?.per === 'play') {
        rules.plays ??= PLAYS_PER_PASS
        base = wholesale.amount * BigInt(rules.plays)
      }
      const price = {
        amount: (base * (10_000n + markup) + 9_999n) / 10_000n,
        currency: wholesale?.currency ?? 'EUR',
      }
      for (const item of c.content) {
        if (options.content != null && !options.content.includes(item)) continue
        for (const useType of c.useTypes) {
          if (useType === 'Preview') continue
          if (created.length >= MAX_OFFERS_FROM_CONTRACTS) return created
          const key = `${contract.id}|${item}|${useType}`
          if (existing.has(key)) continue
          existing.add(key)
          const suffix = toHex(this.#c.random.bytes(4))
          created.push(
            await this.create({
              offerId: `${c.contractId}-${item.replace(':', '-')}-${useType}-${suffix}`.slice(0, 128),
              content: [item],
              contract: contract.id.toString(),
              price,
              useType,
              rules,
              validFrom: Math.max(c.validFrom, now - 1),
            }),
          )
        }
      }
    }
    return created
  }

  #view(entry: OfferEntry): OfferView {
    const shown = this.#store.decode('consort/offer', entry.live?.offer ?? entry.latest)
    const certification =
      entry.live != null ? this.#store.decode('consort/certification', entry.live.certification) : null
    const o = shown.body
    return {
      offerId: entry.offerId,
      status: entry.status,
      onSale: entry.live != null,
      offer: shown.id.toString(),
      seq: o.seq,
      content: o.content,
      contract: o.contract.toString(),
      price: o.price,
      priceText: `${formatMinorUnits(o.price.amount, o.price.currency)} ${o.price.currency}`,
      useType: o.useType,
      rules: o.rules,
      territories: o.territories,
      excludedTerritories: o.excludedTerritories,
      validFrom: o.validFrom,
      validUntil: o.validUntil,
      promotion: o.promotion,
      certification: certification?.id.toString() ?? null,
      certifiedUntil: certification?.body.validUntil ?? null,
      failures: entry.failures,
      note: entry.note,
    }
  }
}

/** Usage rules that sit exactly at a contract's bounds (what a retailer grants when it says nothing else). */
export function rulesWithin(bounds: RuleBounds): UsageRules {
  const rules: UsageRules = {}
  if (bounds.maxPlays != null) rules.plays = bounds.maxPlays
  if (bounds.maxPlaySeconds != null) rules.playSeconds = bounds.maxPlaySeconds
  if (bounds.maxRentalSeconds != null) rules.rentalSeconds = bounds.maxRentalSeconds
  else if (bounds.minRentalSeconds != null) rules.rentalSeconds = bounds.minRentalSeconds
  if (bounds.maxDevices != null) rules.devices = bounds.maxDevices
  if (bounds.maxOfflineDays != null) rules.offline = bounds.maxOfflineDays
  if (bounds.maxExport != null) rules.export = bounds.maxExport
  if (bounds.maxBurn != null) rules.burn = bounds.maxBurn
  if (bounds.maxPreviewSeconds != null) rules.previewSeconds = bounds.maxPreviewSeconds
  if (bounds.transferAllowed === false) rules.transfer = false
  return rules
}
