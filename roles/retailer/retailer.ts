import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { Random } from '../../keys/random.ts'
import type { Clock } from '../../protocols/clock.ts'
import { isTerritory } from '../../protocols/identifiers/territories.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { Metrics } from '../../protocols/metrics.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { buyRequest, PURCHASE_DEADLINE_MS, PURCHASE_OPS, PURCHASE_PROTOCOL } from '../../protocols/purchase/index.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import { describeVerifiedOffer, queryCertifiedOffers } from '../../protocols/reference/offers.ts'
import { registerRpc } from '../../protocols/rpc/server.ts'
import type { TopicBus } from '../../protocols/topics/bus.ts'
import { offerRevokedHere } from '../../protocols/topics/offers.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import type { ControlRoute, Credentials, Role } from '../role.ts'
import { DEFAULT_RENEW_CHECK_INTERVAL_MS } from './constants.ts'
import { normaliseContentId, parseOfferInput } from './draft.ts'
import { OfferInputError } from './errors.ts'
import { OfferDesk } from './offers.ts'
import { describePurchase, type OfferLookup, PurchaseDesk } from './purchase.ts'
import { type RetailerRoleStore, RetailerStore } from './store.ts'

const log = logger('consort:retailer')

/** What the retailer needs from the node. */
export interface RetailerComponents {
  libp2p: Libp2p
  /** Its store (`RETAILER_LAYOUT`), opened with its version checked before `start()`. */
  store: RetailerRoleStore
  keys: NodeKeys
  clock: Clock
  random: Random
  network: NetworkContext
  topics: TopicBus
  trust: CertificateTrust
  records: RecordStore
  credentials: Credentials
  metrics?: Metrics
}

/** Optional settings (all have defaults). */
export interface RetailerInit {
  /** How often the renewal and recovery timer reads the clock (default 30 s; 0 disables the timer). */
  renewCheckIntervalMs?: number
}

/**
 * The retailer role (`--roles retailer`): writes offers within its contracts and has them certified and
 * gossiped (`offers`), renews certifications, withdraws offers, and sells them over `/purchase/1`.
 */
export class RetailerService extends EventTarget implements Role {
  readonly name = 'retailer' as const
  readonly controlRoutes: readonly ControlRoute[]
  readonly offers: OfferDesk
  readonly purchases: PurchaseDesk
  readonly #c: RetailerComponents
  readonly #store: RetailerStore
  readonly #interval: number
  readonly #unsubscribe: Array<() => void> = []
  #unregister: (() => Promise<void>) | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #ticking: Promise<void> | undefined
  #running = false

  constructor(components: RetailerComponents, init: RetailerInit = {}) {
    super()
    this.#c = components
    this.#interval = init.renewCheckIntervalMs ?? DEFAULT_RENEW_CHECK_INTERVAL_MS
    this.#store = new RetailerStore(components.store, () => ({
      network: components.network.name,
      now: components.clock.now(),
      caps: components.network.caps,
    }))
    this.offers = new OfferDesk(components, this.#store)
    this.purchases = new PurchaseDesk(components, this.#store, this.#offerLookup())
    this.controlRoutes = this.#routes()
  }

  get store(): RetailerStore {
    return this.#store
  }

  async start(): Promise<void> {
    if (this.#running) return
    const topics = this.#c.topics
    // Each topic's rule decides what arrives (protocols/topics); the store tells it the contracts this retailer holds.
    this.#unsubscribe.push(
      topics.subscribe('contracts', {
        lookups: {
          latest: async (record) => {
            const contract = record as SignedRecord<'consort/contract'>
            const known = await this.#store.contract(
              RetailerStore.contractKey(contract.signer, contract.body.contractId),
            )
            return known == null ? undefined : { seq: known.body.seq, id: known.id.toString() }
          },
        },
        onMessage: (d) => this.#learnContract(d.record as SignedRecord<'consort/contract'>),
      }),
      topics.subscribe('revocations', {
        onMessage: (d) => this.#applyRevocation(d.record as SignedRecord<'consort/revocation'>),
      }),
      // Followed so that this node passes offers on and remembers who revoked which (its topic memory).
      topics.subscribe('offers', { onMessage: () => {} }),
    )
    this.#unregister = await registerRpc(
      this.#c.libp2p,
      this.#c.network.protocol(PURCHASE_PROTOCOL),
      { [PURCHASE_OPS.buy]: async (body) => this.#buy(body) },
      { deadlineMs: PURCHASE_DEADLINE_MS },
    )
    this.purchases.addEventListener('purchase', this.#countPurchase)
    this.#running = true
    if (this.#interval > 0) {
      this.#timer = setInterval(() => {
        this.#ticking ??= this.tick().finally(() => {
          this.#ticking = undefined
        })
      }, this.#interval)
      this.#timer.unref?.()
    }
    // Finish what a crash interrupted (captures owed, voids owed) without holding up the node's start.
    this.#ticking = this.purchases
      .recover()
      .then(() => {})
      .catch((err) => log.error('purchase recovery failed: %e', err))
      .finally(() => {
        this.#ticking = undefined
      })
  }

  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    if (this.#timer != null) clearInterval(this.#timer)
    this.#timer = undefined
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe()
    this.purchases.removeEventListener('purchase', this.#countPurchase)
    await this.#unregister?.()
    this.#unregister = undefined
    await this.#ticking
    await this.purchases.idle()
  }

  /** A buy request; one refused before its purchase was recorded (nothing held, nothing charged) counts as refused. */
  async #buy(body: unknown): Promise<unknown> {
    let purchaseId: string | undefined
    try {
      const request = parseMessage(buyRequest, body, 'request')
      purchaseId = request.order.order.purchaseId
      return await this.purchases.buy(request)
    } catch (err) {
      const recorded = purchaseId != null && (await this.purchases.status(purchaseId).catch(() => undefined)) != null
      if (!recorded) this.#c.metrics?.increment('consort_purchases_total', { outcome: 'refused' })
      throw err
    }
  }

  /** Purchases that reached an end: licensed (paid and delivered), voided (the hold released) or refunded. */
  readonly #countPurchase = (event: Event): void => {
    const { state } = (event as CustomEvent<{ state: string }>).detail
    if (state === 'licensed' || state === 'voided' || state === 'refunded')
      this.#c.metrics?.increment('consort_purchases_total', { outcome: state })
  }

  /** One round of the timer: renew certifications nearing expiry, retry pending offers, recover purchases. */
  async tick(): Promise<void> {
    try {
      const { renewed, retried } = await this.offers.renewDue()
      if (renewed + retried > 0) log('renewed %d certification(s), retried %d pending offer(s)', renewed, retried)
      await this.purchases.recover()
    } catch (err) {
      log.error('renewal round failed: %e', err)
    }
  }

  #offerLookup(): OfferLookup {
    return {
      live: async (offerCid) => {
        const offerId = await this.#store.offerIdOf(offerCid)
        if (offerId == null) return { status: 'unknown', reason: `offer ${offerCid} is not one of this retailer's` }
        const entry = await this.#store.offer(offerId)
        if (entry == null) return { status: 'unknown', reason: `offer ${offerId} is not one of this retailer's` }
        if (entry.status === 'withdrawn') return { status: 'withdrawn', reason: `offer ${offerId} was withdrawn` }
        if (entry.status === 'revoked' && entry.live == null) {
          return { status: 'revoked', reason: `offer ${offerId} was revoked: ${entry.note ?? ''}` }
        }
        if (entry.live == null) return { status: 'stale', reason: `offer ${offerId} is not on sale (${entry.status})` }
        const offer = this.#store.decode('consort/offer', entry.live.offer)
        if (offer.id.toString() !== offerCid) {
          return { status: 'stale', reason: `offer ${offerId} has a newer version on sale: ${offer.id}` }
        }
        const certifications = [entry.live.certification, entry.live.previous]
          .filter((b): b is Uint8Array => b != null)
          .map((b) => this.#store.decode('consort/certification', b))
        return { status: 'on-sale', offer, certifications }
      },
      isRevoked: (offer) => this.isOfferRevoked(offer),
    }
  }

  /** Is this offer revoked by its retailer or a reference service, as far as this node saw on the revocations topic? */
  isOfferRevoked(offer: SignedRecord<'consort/offer'>): boolean {
    return offerRevokedHere(offer, this.#c.topics.memory, this.#c.trust)
  }

  // --- contracts (so that offers can name a contract by id, and the devnet can make offers from them) ---

  async #learnContract(record: SignedRecord<'consort/contract'>): Promise<void> {
    const retailer = record.body.retailer
    if (retailer != null && toHex(retailer) !== toHex(this.#c.keys.signer.publicKey)) return
    const known = await this.#store.contract(RetailerStore.contractKey(record.signer, record.body.contractId))
    if (known != null && known.body.seq >= record.body.seq) return
    await this.#store.putContract(record)
    await this.#c.records.put(record).catch((err) => log.error('cannot store contract %s: %e', record.id, err))
  }

  async #applyRevocation(record: SignedRecord<'consort/revocation'>): Promise<void> {
    const byReference = this.#c.trust.isReferenceService(record.signer)
    for (const target of record.body.targets) {
      if (target.kind === 'offer' && byReference) {
        await this.offers.markRevoked(target.id, `revoked by a reference service: ${record.body.reason}`)
      } else if (target.kind === 'contract') {
        const contract = await this.#store.contractByCid(target.id)
        if (contract != null && toHex(contract.signer) === toHex(record.signer)) {
          await this.#store.markContractRevoked(target.id as CID)
        }
      }
    }
  }

  // --- control API ---

  #routes(): ControlRoute[] {
    const offers = this.offers
    return [
      {
        method: 'GET',
        path: '/offers',
        handler: async ({ query }) =>
          offers.list(query.after ?? null, query.limit != null ? Number(query.limit) : undefined),
      },
      { method: 'GET', path: '/offers/:id', handler: async ({ params }) => offers.get(params.id ?? '') },
      { method: 'POST', path: '/offers', handler: async ({ body }) => offers.create(parseOfferInput(body)) },
      {
        method: 'POST',
        path: '/offers/from-contracts',
        handler: async ({ body }) => {
          const b = (body ?? {}) as { markupBps?: unknown; content?: unknown }
          if (
            b.markupBps != null &&
            (typeof b.markupBps !== 'number' || !Number.isSafeInteger(b.markupBps) || b.markupBps < 0)
          ) {
            throw new OfferInputError('markupBps', 'expected a non-negative integer of basis points')
          }
          if (b.content != null && !Array.isArray(b.content)) {
            throw new OfferInputError('content', 'expected a list of content ids')
          }
          return offers.fromContracts({
            ...(typeof b.markupBps === 'number' ? { markupBps: b.markupBps } : {}),
            ...(Array.isArray(b.content) ? { content: b.content.map((c) => normaliseContentId(String(c))) } : {}),
          })
        },
      },
      {
        method: 'POST',
        path: '/offers/:id',
        handler: async ({ params, body }) => {
          const current = await offers.get(params.id ?? '')
          return offers.update(current.offerId, parseOfferInput(body, current.price.currency))
        },
      },
      {
        method: 'DELETE',
        path: '/offers/:id',
        handler: async ({ params, query }) =>
          offers.withdraw(params.id ?? '', (query.reason ?? 'withdrawn by the retailer').slice(0, 512)),
      },
      {
        method: 'POST',
        path: '/renew',
        handler: async () => {
          const result = await offers.renewDue()
          return result
        },
      },
      {
        method: 'GET',
        path: '/market',
        handler: async ({ query, signal }) => {
          const content = normaliseContentId(query.content ?? '')
          const territory = query.territory ?? 'Worldwide'
          if (!isTerritory(territory)) throw new OfferInputError('territory', `not a territory: ${territory}`)
          const answer = await queryCertifiedOffers(
            {
              libp2p: this.#c.libp2p,
              network: this.#c.network,
              trust: this.#c.trust,
              clock: this.#c.clock,
              isOfferRevoked: (offer) => this.isOfferRevoked(offer),
            },
            { content, territory },
            { signal },
          )
          return { content, territory, ...answer, offers: answer.offers.map(describeVerifiedOffer) }
        },
      },
      {
        method: 'GET',
        path: '/contracts',
        handler: async () =>
          (await this.#store.contracts(1000)).map((c) => ({
            id: c.id,
            contractId: c.body.contractId,
            seq: c.body.seq,
            content: c.body.content,
            useTypes: c.body.useTypes,
            territories: c.body.territories,
            excludedTerritories: c.body.excludedTerritories,
            wholesale: c.body.wholesale,
            validFrom: c.body.validFrom,
            validUntil: c.body.validUntil,
          })),
      },
      {
        method: 'GET',
        path: '/purchases/:id',
        handler: async ({ params }) => {
          const entry = await this.purchases.status(params.id ?? '')
          return entry == null ? null : describePurchase(entry)
        },
      },
    ]
  }
}
