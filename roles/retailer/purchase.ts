import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { equals as bytesEqual } from 'uint8arrays/equals'
import type { NodeKeys } from '../../keys/keystore.ts'
import {
  authoriseResponse,
  CLEARING_CODES,
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  captureResponse,
  voidResponse,
} from '../../protocols/clearing/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import { territoryCovers } from '../../protocols/identifiers/territories.ts'
import { issueResponse, LICENCE_OPS, LICENCE_PROTOCOL, withdrawResponse } from '../../protocols/licence/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import {
  PURCHASE_CODES,
  type PurchaseOrder,
  purchaseOrder,
  verifyPurchaseOrder,
} from '../../protocols/purchase/index.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import { OFFER_CHECK_CODES, offerInWindow, verifyCertification } from '../../protocols/reference/offers.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { RpcRemoteError } from '../../protocols/rpc/errors.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import { KeyedQueue } from '../common/keyed-queue.ts'
import type { Credentials } from '../role.ts'
import {
  ABANDONED_PURCHASE_MS,
  MAX_CONCURRENT_PURCHASES,
  MAX_PURCHASE_HISTORY,
  MAX_RECOVERIES_PER_ROUND,
  PURCHASE_STEP_DEADLINE_MS,
} from './constants.ts'
import { PurchaseError, RetailerBusyError } from './errors.ts'
import type { PurchaseEntry, PurchaseState, RetailerStore } from './store.ts'

const log = logger('consort:retailer:purchase')

export interface PurchaseDeskComponents {
  libp2p: Libp2p
  keys: NodeKeys
  clock: Clock
  network: NetworkContext
  trust: CertificateTrust
  records: RecordStore
  credentials: Credentials
}

/** What the purchase desk needs to know about this retailer's offers. */
export interface OfferLookup {
  /** The version on sale of the offer a record id belongs to, and its certifications still accepted. */
  live(offerCid: string): Promise<
    | {
        status: 'on-sale'
        offer: SignedRecord<'consort/offer'>
        certifications: SignedRecord<'consort/certification'>[]
      }
    | { status: 'unknown' | 'withdrawn' | 'revoked' | 'stale'; reason: string }
  >
  /** A revocation of this offer record seen on the revocations topic (its retailer's or a reference's). */
  isRevoked(offer: SignedRecord<'consort/offer'>): boolean
}

export interface PurchaseResult {
  receipt: Uint8Array
  licence: Uint8Array
}

/** Events: `purchase` (a purchase changed state). */
export interface PurchaseEvents {
  purchase: CustomEvent<{ purchaseId: string; state: PurchaseState }>
}

/** Thrown by a step when the service it calls gave a definite answer "no" (as opposed to no answer). */
class StepRefused extends Error {
  override name = 'StepRefused'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/**
 * The retailer's side of `/purchase/1` `buy`. Each purchase is a durable state machine in the retailer's
 * sublevel, keyed by the buyer's purchase id:
 *
 *   started → authorised → receipted → licensed → captured
 *       ╰──────────┴────────────┴───────────┴──→ voiding → voided
 *
 * Every state is written before the next service is called, so a retry after a timeout, or after the retailer
 * restarted, resumes where it stopped: the clearinghouse and the registrar are idempotent by purchase id and the
 * receipt is signed once and stored, so nothing is charged or issued twice. Any refusal voids the authorisation.
 * The buyer gets the receipt and licence only once the payment is captured.
 */
export class PurchaseDesk extends EventTarget {
  readonly #c: PurchaseDeskComponents
  readonly #store: RetailerStore
  readonly #offers: OfferLookup
  readonly #queue = new KeyedQueue()
  #inFlight = 0
  #recovering = false

  constructor(components: PurchaseDeskComponents, store: RetailerStore, offers: OfferLookup) {
    super()
    this.#c = components
    this.#store = store
    this.#offers = offers
  }

  /** The `buy` op. Throws a `PurchaseError` with a purchase protocol code on refusal. */
  async buy(request: { order: PurchaseOrder; device: Uint8Array }): Promise<PurchaseResult> {
    if (this.#inFlight >= MAX_CONCURRENT_PURCHASES) {
      throw new RetailerBusyError(`${this.#inFlight} purchases in progress; retry shortly`)
    }
    this.#inFlight++
    try {
      return await this.#queue.run(request.order.order.purchaseId, () => this.#buy(request))
    } finally {
      this.#inFlight--
    }
  }

  async #buy(request: { order: PurchaseOrder; device: Uint8Array }): Promise<PurchaseResult> {
    const order = request.order
    const orderBytes = dagCbor.encode(order)
    const existing = await this.#store.purchase(order.order.purchaseId)
    if (existing != null) {
      if (!bytesEqual(existing.order, orderBytes)) {
        throw new PurchaseError(
          'ERR_PURCHASE_CONFLICT',
          `purchase ${order.order.purchaseId} exists with another order; choose a new purchase id`,
        )
      }
      return this.#advance(existing)
    }
    const checked = await this.#check(order, request.device)
    const now = this.#c.clock.now()
    const entry: PurchaseEntry = {
      purchaseId: order.order.purchaseId,
      state: 'started',
      order: orderBytes,
      device: request.device,
      offer: checked.offer.bytes,
      certification: checked.certification.bytes,
      authorisation: null,
      authorisationExpiresAt: null,
      receipt: null,
      licence: null,
      error: null,
      history: [{ state: 'started', at: now }],
      createdAt: now,
      updatedAt: now,
    }
    await this.#save(entry)
    return this.#advance(entry)
  }

  /** Everything checked before any money moves: a refusal here leaves no trace. */
  async #check(
    order: PurchaseOrder,
    deviceBytes: Uint8Array,
  ): Promise<{ offer: SignedRecord<'consort/offer'>; certification: SignedRecord<'consort/certification'> }> {
    const o = order.order
    const now = this.#c.clock.now()
    if (o.network !== this.#c.network.name || !verifyPurchaseOrder(order)) {
      throw new PurchaseError(CLEARING_CODES.orderInvalid, 'the purchase order is not signed by its account')
    }
    if (!bytesEqual(o.retailer, this.#c.keys.signer.publicKey)) {
      throw new PurchaseError(PURCHASE_CODES.offerUnknown, 'the order is addressed to another retailer')
    }
    if (!this.#c.trust.isClearinghouse(o.clearinghouse)) {
      throw new PurchaseError(CLEARING_CODES.orderInvalid, 'the order names a clearinghouse the network does not list')
    }
    let device: SignedRecord<'consort/device'>
    try {
      device = decodeRecordAs('consort/device', deviceBytes, this.#decodeOptions())
    } catch (err) {
      throw new PurchaseError(CLEARING_CODES.orderInvalid, `device: ${(err as Error).message}`)
    }
    const standing = this.#c.trust.learnDevice(device)
    if (!standing.ok) throw new PurchaseError(CLEARING_CODES.orderInvalid, `device: ${standing.reason}`)
    if (!bytesEqual(device.body.device, o.device) || !bytesEqual(device.body.account, o.account)) {
      throw new PurchaseError(
        CLEARING_CODES.orderInvalid,
        'the device registration is not for the ordering device and account',
      )
    }

    const live = await this.#offers.live(o.offer.toString())
    if (live.status !== 'on-sale') {
      const code =
        live.status === 'unknown'
          ? PURCHASE_CODES.offerUnknown
          : live.status === 'stale'
            ? PURCHASE_CODES.offerStale
            : PURCHASE_CODES.offerRevoked
      throw new PurchaseError(code, live.reason)
    }
    const offer = live.offer
    if (this.#offers.isRevoked(offer))
      throw new PurchaseError(PURCHASE_CODES.offerRevoked, `offer ${offer.id} is revoked`)
    const certification = live.certifications.find((c) => c.id.equals(o.certification))
    if (certification == null) {
      throw new PurchaseError(
        PURCHASE_CODES.notCertified,
        `certification ${o.certification} is not one this offer holds`,
      )
    }
    const verdict = verifyCertification(offer, certification, this.#c.trust, now)
    if (!verdict.ok) {
      throw new PurchaseError(
        verdict.code === OFFER_CHECK_CODES.certificationRevoked
          ? PURCHASE_CODES.offerRevoked
          : PURCHASE_CODES.notCertified,
        verdict.reason,
      )
    }
    if (!offerInWindow(offer, now))
      throw new PurchaseError(PURCHASE_CODES.offerStale, `offer ${offer.id} is not valid now`)
    if (!territoryCovers(offer.body.territories, offer.body.excludedTerritories, o.territory)) {
      throw new PurchaseError(PURCHASE_CODES.territory, `offer ${offer.body.offerId} is not sold in ${o.territory}`)
    }
    if (o.price.amount !== offer.body.price.amount || o.price.currency !== offer.body.price.currency) {
      throw new PurchaseError(
        PURCHASE_CODES.priceMismatch,
        `the order says ${o.price.amount} ${o.price.currency}, the offer ${offer.body.price.amount} ${offer.body.price.currency}`,
      )
    }
    return { offer, certification }
  }

  /** Drive a purchase from its stored state to captured or voided. */
  async #advance(start: PurchaseEntry): Promise<PurchaseResult> {
    let entry = start
    const order = parseMessage(purchaseOrder, dagCbor.decode(entry.order), 'order')
    try {
      while (true) {
        switch (entry.state) {
          case 'started': {
            const auth = await this.#authorise(order, entry)
            entry = await this.#move(entry, 'authorised', {
              authorisation: auth.authorisation,
              authorisationExpiresAt: auth.expiresAt,
            })
            break
          }
          case 'authorised': {
            const receipt = signRecord(
              'consort/receipt',
              {
                network: this.#c.network.name,
                created: this.#c.clock.now(),
                purchaseId: order.order.purchaseId,
                offer: order.order.offer,
                certification: order.order.certification,
                account: order.order.account,
                device: order.order.device,
                price: order.order.price,
                clearinghouse: order.order.clearinghouse,
                authorisation: entry.authorisation!,
              },
              this.#c.keys.signer,
              this.#c.network.caps,
            )
            await this.#c.records.put(receipt)
            entry = await this.#move(entry, 'receipted', { receipt: receipt.bytes })
            break
          }
          case 'receipted': {
            const licence = await this.#issue(order, entry)
            entry = await this.#move(entry, 'licensed', { licence: licence.bytes })
            break
          }
          case 'licensed': {
            await this.#capture(order, entry)
            entry = await this.#move(entry, 'captured', {})
            break
          }
          case 'captured':
            return { receipt: entry.receipt!, licence: entry.licence! }
          case 'voiding': {
            await this.#withdraw(order, entry, entry.error?.message ?? 'purchase failed')
            await this.#void(order, entry.error?.message ?? 'purchase failed')
            entry = await this.#move(entry, 'voided', {})
            break
          }
          case 'voided':
            throw new PurchaseError(
              entry.error?.code ?? PURCHASE_CODES.paymentRefused,
              entry.error?.message ?? 'voided',
            )
        }
      }
    } catch (err) {
      if (err instanceof PurchaseError) throw err
      if (err instanceof StepRefused) {
        // A definite "no" from a service: release the money, then tell the buyer why (on every retry too).
        entry = await this.#move(entry, 'voiding', { error: { code: err.code, message: err.message } })
        try {
          await this.#withdraw(order, entry, err.message)
          await this.#void(order, err.message)
          entry = await this.#move(entry, 'voided', {})
        } catch (voidErr) {
          log.error('purchase %s: void not delivered yet (the recovery round retries): %e', entry.purchaseId, voidErr)
        }
        throw new PurchaseError(err.code, err.message)
      }
      // No answer (timeout, unreachable): the state is saved; a retry of the same purchase resumes from it.
      throw new PurchaseError(
        'ERR_PURCHASE_PENDING',
        `purchase ${entry.purchaseId} is ${entry.state}; retry the same purchase to finish it (${(err as Error).message})`,
      )
    }
  }

  async #authorise(order: PurchaseOrder, entry: PurchaseEntry) {
    const cert = this.#c.credentials.cert()
    try {
      const body = await rpcCall(
        this.#c.libp2p,
        peerIdOfKey(order.order.clearinghouse),
        this.#c.network.protocol(CLEARING_PROTOCOL),
        CLEARING_OPS.authorise,
        {
          order,
          offer: entry.offer,
          certification: entry.certification,
          attachments: cert != null ? [cert.bytes] : [],
        },
        { deadlineMs: PURCHASE_STEP_DEADLINE_MS },
      )
      return parseMessage(authoriseResponse, body, 'response')
    } catch (err) {
      if (err instanceof RpcRemoteError) throw new StepRefused(PURCHASE_CODES.paymentRefused, err.message)
      throw err
    }
  }

  /** Ask the registration managers, in the network record's order, for the licence; the first answer counts. */
  async #issue(order: PurchaseOrder, entry: PurchaseEntry): Promise<SignedRecord<'consort/licence'>> {
    const cert = this.#c.credentials.cert()
    const request = {
      receipt: entry.receipt!,
      offer: entry.offer,
      certification: entry.certification,
      device: entry.device,
      attachments: cert != null ? [cert.bytes] : [],
    }
    let lastError: unknown
    for (const anchor of this.#c.network.body.registrars) {
      try {
        const body = await rpcCall(
          this.#c.libp2p,
          peerIdOfKey(anchor.key),
          this.#c.network.protocol(LICENCE_PROTOCOL),
          LICENCE_OPS.issue,
          request,
          { deadlineMs: PURCHASE_STEP_DEADLINE_MS },
        )
        const answer = parseMessage(issueResponse, body, 'response')
        const licence = decodeRecordAs('consort/licence', answer.licence, this.#decodeOptions())
        const receipt = this.#store.decode('consort/receipt', entry.receipt!)
        const l = licence.body
        if (
          !this.#c.trust.isRegistrar(licence.signer) ||
          l.purchaseId !== order.order.purchaseId ||
          !l.receipt.equals(receipt.id) ||
          !l.offer.equals(order.order.offer) ||
          !bytesEqual(l.device, order.order.device)
        ) {
          throw new StepRefused(
            PURCHASE_CODES.licenceRefused,
            `${anchor.name} answered with a licence for something else`,
          )
        }
        return licence
      } catch (err) {
        if (err instanceof StepRefused) throw err
        if (err instanceof RpcRemoteError) throw new StepRefused(PURCHASE_CODES.licenceRefused, err.message)
        lastError = err
      }
    }
    throw lastError ?? new StepRefused(PURCHASE_CODES.licenceRefused, 'the network lists no registration manager')
  }

  async #capture(order: PurchaseOrder, entry: PurchaseEntry): Promise<void> {
    try {
      const body = await rpcCall(
        this.#c.libp2p,
        peerIdOfKey(order.order.clearinghouse),
        this.#c.network.protocol(CLEARING_PROTOCOL),
        CLEARING_OPS.capture,
        { purchaseId: order.order.purchaseId, receipt: entry.receipt!, licence: entry.licence! },
        { deadlineMs: PURCHASE_STEP_DEADLINE_MS },
      )
      parseMessage(captureResponse, body, 'response')
    } catch (err) {
      if (err instanceof RpcRemoteError) {
        if (err.code === CLEARING_CODES.alreadyCaptured) return
        throw new StepRefused(PURCHASE_CODES.paymentRefused, err.message)
      }
      throw err
    }
  }

  /**
   * A purchase voided after its receipt was signed may have a licence (issued, or being issued by a registrar
   * whose answer never came): take it back before releasing the money, so that nobody keeps a licence nobody
   * paid for. The registrar that signed the licence is asked, or every listed one when none answered.
   */
  async #withdraw(order: PurchaseOrder, entry: PurchaseEntry, reason: string): Promise<void> {
    if (entry.receipt == null) return
    const registrars =
      entry.licence != null
        ? [decodeRecordAs('consort/licence', entry.licence, this.#decodeOptions()).signer]
        : this.#c.network.body.registrars.map((anchor) => anchor.key)
    for (const registrar of registrars) {
      try {
        const body = await rpcCall(
          this.#c.libp2p,
          peerIdOfKey(registrar),
          this.#c.network.protocol(LICENCE_PROTOCOL),
          LICENCE_OPS.withdraw,
          { purchaseId: order.order.purchaseId, reason: reason.slice(0, 512) || 'purchase failed' },
          { deadlineMs: PURCHASE_STEP_DEADLINE_MS },
        )
        const { revoked } = parseMessage(withdrawResponse, body, 'response')
        if (revoked) log('purchase %s: its licence is revoked', order.order.purchaseId)
      } catch (err) {
        // A definite refusal will not change on a retry: say so and release the money anyway. No answer at all
        // is retried (the recovery round) before the money is released.
        if (!(err instanceof RpcRemoteError)) throw err
        log.error('purchase %s: registrar refused to withdraw the licence: %s', order.order.purchaseId, err.message)
      }
    }
  }

  async #void(order: PurchaseOrder, reason: string): Promise<void> {
    try {
      const body = await rpcCall(
        this.#c.libp2p,
        peerIdOfKey(order.order.clearinghouse),
        this.#c.network.protocol(CLEARING_PROTOCOL),
        CLEARING_OPS.void,
        { purchaseId: order.order.purchaseId, reason: reason.slice(0, 512) || 'purchase failed' },
        { deadlineMs: PURCHASE_STEP_DEADLINE_MS },
      )
      parseMessage(voidResponse, body, 'response')
    } catch (err) {
      // Nothing to void, or voided already: either way no money is held for this purchase.
      if (
        err instanceof RpcRemoteError &&
        (err.code === CLEARING_CODES.authorisationUnknown || err.code === CLEARING_CODES.alreadyVoided)
      ) {
        return
      }
      throw err
    }
  }

  async #move(entry: PurchaseEntry, state: PurchaseState, changes: Partial<PurchaseEntry>): Promise<PurchaseEntry> {
    const now = this.#c.clock.now()
    const next: PurchaseEntry = {
      ...entry,
      ...changes,
      state,
      history: [...entry.history, { state, at: now }].slice(-MAX_PURCHASE_HISTORY),
      updatedAt: now,
    }
    await this.#save(next)
    return next
  }

  async #save(entry: PurchaseEntry): Promise<void> {
    await this.#store.putPurchase(entry)
    this.dispatchEvent(new CustomEvent('purchase', { detail: { purchaseId: entry.purchaseId, state: entry.state } }))
  }

  /** A purchase's state, for operators. */
  async status(purchaseId: string): Promise<PurchaseEntry | undefined> {
    return this.#store.purchase(purchaseId)
  }

  /**
   * One recovery round (at start and on the renewal timer): deliver voids still owed, capture purchases whose
   * licence was issued, and void purchases nobody finished within `ABANDONED_PURCHASE_MS`. Bounded per round.
   */
  async recover(): Promise<{ resumed: number }> {
    if (this.#recovering) return { resumed: 0 }
    this.#recovering = true
    let resumed = 0
    try {
      const now = this.#c.clock.now()
      for (const purchaseId of await this.#store.unfinishedPurchases(MAX_RECOVERIES_PER_ROUND)) {
        await this.#queue.run(purchaseId, async () => {
          const entry = await this.#store.purchase(purchaseId)
          if (entry == null) return
          const abandoned = now - entry.updatedAt >= ABANDONED_PURCHASE_MS
          if (entry.state === 'voiding' || entry.state === 'licensed') {
            resumed++
            await this.#advance(entry).catch((err) => log('recovery of %s: %e', purchaseId, err))
          } else if (
            abandoned &&
            (entry.state === 'started' || entry.state === 'authorised' || entry.state === 'receipted')
          ) {
            resumed++
            const voiding = await this.#move(entry, 'voiding', {
              error: { code: PURCHASE_CODES.paymentRefused, message: 'the purchase was abandoned before it finished' },
            })
            await this.#advance(voiding).catch((err) => log('recovery of %s: %e', purchaseId, err))
          }
        })
      }
    } finally {
      this.#recovering = false
    }
    return { resumed }
  }

  async idle(): Promise<void> {
    await this.#queue.idle()
  }

  #decodeOptions() {
    return { network: this.#c.network.name, now: this.#c.clock.now(), caps: this.#c.network.caps }
  }
}

/** For display: a purchase entry without its record bytes. */
export function describePurchase(entry: PurchaseEntry) {
  return {
    purchaseId: entry.purchaseId,
    state: entry.state,
    authorisation: entry.authorisation,
    error: entry.error,
    history: entry.history,
    createdAt: entry.createdAt,
    updatedAt: entry.updatedAt,
  }
}
