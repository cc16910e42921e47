import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { equals as bytesEqual } from 'uint8arrays/equals'
import type { NodeKeys } from '../../keys/keystore.ts'
import {
  AlreadyCapturedError,
  AlreadyRefundedError,
  AlreadyVoidedError,
  AuthorisationUnknownError,
  CLEARING_ERRORS,
} from '../../protocols/clearing/errors.ts'
import {
  authoriseResponse,
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  captureResponse,
  refundResponse,
  voidResponse,
} from '../../protocols/clearing/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import { isError } from '../../protocols/errors.ts'
import { territoryCovers } from '../../protocols/identifiers/territories.ts'
import { issueResponse, LICENCE_OPS, LICENCE_PROTOCOL, withdrawResponse } from '../../protocols/licence/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import {
  isPurchaseRefusal,
  LicenceRefusedError,
  NotCertifiedError,
  OfferRevokedError,
  OfferStaleError,
  OfferUnknownError,
  OrderInvalidError,
  PaymentRefusedError,
  PriceMismatchError,
  PurchaseConflictError,
  PurchasePendingError,
  purchaseRefusal,
  TerritoryRefusedError,
} from '../../protocols/purchase/errors.ts'
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
  UNLICENSED_REFUND_AFTER_MS,
} from './constants.ts'
import { RetailerBusyError } from './errors.ts'
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
  static override name = 'StepRefused'
  override name = StepRefused.name

  /** What the buyer is told once the money is released or returned. */
  readonly refusal: PaymentRefusedError | LicenceRefusedError

  constructor(type: typeof PaymentRefusedError | typeof LicenceRefusedError, message: string) {
    super(message)
    this.refusal = new type(message)
  }
}

/**
 * The retailer's side of `/purchase/1` `buy`. Each purchase is a durable state machine in the retailer's
 * sublevel, keyed by the buyer's purchase id (docs/decisions/0303, 0306):
 *
 *   started → authorised → receipted → captured → licensed
 *       ╰──────────┴────────────┴──→ voiding → voided      (before the capture: no licence can exist)
 *                                   captured ─→ refunding → refunded   (licence refused after the capture)
 *
 * Money before keys: the licence is asked for only with the clearinghouse's signed proof that the price was
 * captured, and a captured purchase ends licensed or refunded, never neither. Every state is written before the
 * next service is called, so a retry after a timeout, or after the retailer restarted, resumes where it stopped:
 * the clearinghouse and the registrar are idempotent by purchase id and the receipt is signed once and stored, so
 * nothing is charged or issued twice.
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

  /** The `buy` op. Throws one of the purchase protocol's refusals (`protocols/purchase/errors.ts`). */
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
        throw new PurchaseConflictError(
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
      throw new OrderInvalidError('the purchase order is not signed by its account')
    }
    if (!bytesEqual(o.retailer, this.#c.keys.signer.publicKey)) {
      throw new OfferUnknownError('the order is addressed to another retailer')
    }
    if (!this.#c.trust.isClearinghouse(o.clearinghouse)) {
      throw new OrderInvalidError('the order names a clearinghouse the network does not list')
    }
    let device: SignedRecord<'consort/device'>
    try {
      device = decodeRecordAs('consort/device', deviceBytes, this.#decodeOptions())
    } catch (err) {
      throw new OrderInvalidError(`device: ${(err as Error).message}`)
    }
    const standing = this.#c.trust.learnDevice(device)
    if (!standing.ok) throw new OrderInvalidError(`device: ${standing.reason}`)
    if (!bytesEqual(device.body.device, o.device) || !bytesEqual(device.body.account, o.account)) {
      throw new OrderInvalidError('the device registration is not for the ordering device and account')
    }
    // Sold where the account is, as its registrar attested it in the device record: never the buyer's word.
    const attested = device.body.territory ?? 'Worldwide'
    if (o.territory !== attested) {
      throw new TerritoryRefusedError(
        `the order is for ${o.territory}, but the account's territory (attested by its registration manager) is ${attested}`,
      )
    }

    const live = await this.#offers.live(o.offer.toString())
    if (live.status !== 'on-sale') {
      if (live.status === 'unknown') throw new OfferUnknownError(live.reason)
      if (live.status === 'stale') throw new OfferStaleError(live.reason)
      throw new OfferRevokedError(live.reason)
    }
    const offer = live.offer
    if (this.#offers.isRevoked(offer)) throw new OfferRevokedError(`offer ${offer.id} is revoked`)
    const certification = live.certifications.find((c) => c.id.equals(o.certification))
    if (certification == null) {
      throw new NotCertifiedError(`certification ${o.certification} is not one this offer holds`)
    }
    const verdict = verifyCertification(offer, certification, this.#c.trust, now)
    if (!verdict.ok) {
      if (verdict.code === OFFER_CHECK_CODES.certificationRevoked) throw new OfferRevokedError(verdict.reason)
      throw new NotCertifiedError(verdict.reason)
    }
    if (!offerInWindow(offer, now)) throw new OfferStaleError(`offer ${offer.id} is not valid now`)
    if (!territoryCovers(offer.body.territories, offer.body.excludedTerritories, o.territory)) {
      throw new TerritoryRefusedError(`offer ${offer.body.offerId} is not sold in ${o.territory}`)
    }
    if (o.price.amount !== offer.body.price.amount || o.price.currency !== offer.body.price.currency) {
      throw new PriceMismatchError(
        `the order says ${o.price.amount} ${o.price.currency}, the offer ${offer.body.price.amount} ${offer.body.price.currency}`,
      )
    }
    return { offer, certification }
  }

  /**
   * Drive a purchase from its stored state to an end: licensed, voided or refunded. Before the capture a definite
   * refusal voids (no licence can exist: a registrar licenses only against the capture's payment record); after it,
   * a licence that cannot be delivered is withdrawn and the payment refunded.
   */
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
            const payment = await this.#capture(order, entry)
            entry = await this.#move(entry, 'captured', { payment })
            break
          }
          case 'captured': {
            const licence = await this.#issue(order, entry)
            entry = await this.#move(entry, 'licensed', { licence: licence.bytes })
            break
          }
          case 'licensed':
            return { receipt: entry.receipt!, licence: entry.licence! }
          case 'voiding': {
            const captured = await this.#void(order, entry.error?.message ?? 'purchase failed')
            // The capture went through although its answer never came: the buyer paid, so the licence follows.
            entry = await this.#move(entry, captured ? 'receipted' : 'voided', captured ? { error: null } : {})
            break
          }
          case 'refunding': {
            await this.#refund(order, entry, entry.error?.message ?? 'the licence could not be delivered')
            entry = await this.#move(entry, 'refunded', {})
            break
          }
          case 'voided':
          case 'refunded':
            throw purchaseRefusal(
              entry.error?.code ?? PURCHASE_CODES.paymentRefused,
              entry.error?.message ?? entry.state,
            )
        }
      }
    } catch (err) {
      if (isPurchaseRefusal(err)) throw err
      if (isError(err, StepRefused)) {
        // A definite "no" from a service: release or return the money, then tell the buyer why (on every retry).
        const after = entry.state === 'captured' ? 'refunding' : 'voiding'
        entry = await this.#move(entry, after, { error: { code: err.refusal.code, message: err.message } })
        try {
          if (after === 'refunding') {
            await this.#refund(order, entry, err.message)
            entry = await this.#move(entry, 'refunded', {})
          } else if (await this.#void(order, err.message)) {
            entry = await this.#move(entry, 'receipted', { error: null })
            return await this.#advance(entry)
          } else {
            entry = await this.#move(entry, 'voided', {})
          }
        } catch (endErr) {
          if (isPurchaseRefusal(endErr)) throw endErr
          log.error(
            'purchase %s: %s not finished yet (the recovery round retries): %e',
            entry.purchaseId,
            after,
            endErr,
          )
        }
        throw err.refusal
      }
      // No answer (timeout, unreachable): the state is saved; a retry of the same purchase resumes from it.
      throw new PurchasePendingError(
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
          device: entry.device,
          attachments: cert != null ? [cert.bytes] : [],
        },
        { deadlineMs: PURCHASE_STEP_DEADLINE_MS },
      )
      return parseMessage(authoriseResponse, body, 'response')
    } catch (err) {
      if (isError(err, RpcRemoteError)) throw new StepRefused(PaymentRefusedError, err.message)
      throw err
    }
  }

  /** Capture the payment against the receipt; returns the clearinghouse's signed `consort/payment`. */
  async #capture(order: PurchaseOrder, entry: PurchaseEntry): Promise<Uint8Array> {
    let payment: SignedRecord<'consort/payment'>
    try {
      const body = await rpcCall(
        this.#c.libp2p,
        peerIdOfKey(order.order.clearinghouse),
        this.#c.network.protocol(CLEARING_PROTOCOL),
        CLEARING_OPS.capture,
        { purchaseId: order.order.purchaseId, receipt: entry.receipt! },
        { deadlineMs: PURCHASE_STEP_DEADLINE_MS },
      )
      const answer = parseMessage(captureResponse, body, 'response')
      payment = decodeRecordAs('consort/payment', answer.payment, this.#decodeOptions())
    } catch (err) {
      if (isError(err, RpcRemoteError)) throw new StepRefused(PaymentRefusedError, err.message)
      throw err
    }
    const receipt = this.#store.decode('consort/receipt', entry.receipt!)
    if (
      !bytesEqual(payment.signer, order.order.clearinghouse) ||
      payment.body.purchaseId !== order.order.purchaseId ||
      !payment.body.receipt.equals(receipt.id)
    ) {
      // Not a proof any registrar would take: nothing to license against. The money stays captured at the
      // clearinghouse, which is asked again (a retry answers the record it signed).
      throw new Error(`the clearinghouse answered the capture of ${order.order.purchaseId} with another payment`)
    }
    return payment.bytes
  }

  /** Ask the registration managers, in the network record's order, for the licence; the first answer counts. */
  async #issue(order: PurchaseOrder, entry: PurchaseEntry): Promise<SignedRecord<'consort/licence'>> {
    const cert = this.#c.credentials.cert()
    const request = {
      receipt: entry.receipt!,
      payment: entry.payment!,
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
          throw new StepRefused(LicenceRefusedError, `${anchor.name} answered with a licence for something else`)
        }
        return licence
      } catch (err) {
        if (isError(err, StepRefused)) throw err
        if (isError(err, RpcRemoteError)) throw new StepRefused(LicenceRefusedError, err.message)
        lastError = err
      }
    }
    throw lastError ?? new StepRefused(LicenceRefusedError, 'the network lists no registration manager')
  }

  /**
   * A captured purchase whose licence cannot be delivered: every registrar of the network withdraws the receipt (a
   * signed revocation of it and of any licence issued for it, gossiped), then the clearinghouse refunds against one
   * of those revocations. One is enough: a revoked receipt revokes every licence made from it, wherever.
   */
  async #refund(order: PurchaseOrder, entry: PurchaseEntry, reason: string): Promise<void> {
    let withdrawal: Uint8Array | null = null
    let lastError: unknown
    for (const anchor of this.#c.network.body.registrars) {
      try {
        const body = await rpcCall(
          this.#c.libp2p,
          peerIdOfKey(anchor.key),
          this.#c.network.protocol(LICENCE_PROTOCOL),
          LICENCE_OPS.withdraw,
          {
            purchaseId: order.order.purchaseId,
            reason: reason.slice(0, 512) || 'the licence could not be delivered',
            receipt: entry.receipt!,
          },
          { deadlineMs: PURCHASE_STEP_DEADLINE_MS },
        )
        const answer = parseMessage(withdrawResponse, body, 'response')
        if (answer.revoked) log('purchase %s: its licence is revoked by %s', order.order.purchaseId, anchor.name)
        withdrawal ??= answer.revocation
      } catch (err) {
        lastError = err
        log.error('purchase %s: %s did not withdraw the receipt: %e', order.order.purchaseId, anchor.name, err)
      }
    }
    // Without a registrar's word that no licence is valid, the money stays where it is: retried later.
    if (withdrawal === null) throw lastError ?? new Error('the network lists no registration manager')
    try {
      const body = await rpcCall(
        this.#c.libp2p,
        peerIdOfKey(order.order.clearinghouse),
        this.#c.network.protocol(CLEARING_PROTOCOL),
        CLEARING_OPS.refund,
        { purchaseId: order.order.purchaseId, withdrawal },
        { deadlineMs: PURCHASE_STEP_DEADLINE_MS, errors: CLEARING_ERRORS },
      )
      parseMessage(refundResponse, body, 'response')
    } catch (err) {
      if (isError(err, AlreadyRefundedError)) return
      throw err
    }
  }

  /**
   * Release the held money (before any capture). Returns true when the clearinghouse says the purchase was captured
   * after all (its answer to the capture was lost): the purchase then goes on to its licence.
   */
  async #void(order: PurchaseOrder, reason: string): Promise<boolean> {
    try {
      const body = await rpcCall(
        this.#c.libp2p,
        peerIdOfKey(order.order.clearinghouse),
        this.#c.network.protocol(CLEARING_PROTOCOL),
        CLEARING_OPS.void,
        { purchaseId: order.order.purchaseId, reason: reason.slice(0, 512) || 'purchase failed', order },
        { deadlineMs: PURCHASE_STEP_DEADLINE_MS, errors: CLEARING_ERRORS },
      )
      parseMessage(voidResponse, body, 'response')
      return false
    } catch (err) {
      // Voided already, or nothing held: either way no money is held for this purchase.
      if (isError(err, AuthorisationUnknownError) || isError(err, AlreadyVoidedError)) return false
      if (isError(err, AlreadyCapturedError)) return true
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
   * One recovery round (at start and on the renewal timer): deliver voids and refunds still owed, ask again for the
   * licence of purchases already captured (refunding them after `UNLICENSED_REFUND_AFTER_MS` without one), and void
   * purchases nobody finished before their capture within `ABANDONED_PURCHASE_MS`. Bounded per round.
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
          if (entry.state === 'captured' && now - entry.updatedAt >= UNLICENSED_REFUND_AFTER_MS) {
            // Paid, and no registrar answered for hours: the buyer gets the money back rather than waiting forever.
            resumed++
            const refunding = await this.#move(entry, 'refunding', {
              error: { code: PURCHASE_CODES.licenceRefused, message: 'no registration manager issued the licence' },
            })
            await this.#advance(refunding).catch((err) => log('recovery of %s: %e', purchaseId, err))
          } else if (entry.state === 'voiding' || entry.state === 'refunding' || entry.state === 'captured') {
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
