/**
 * Purchases: authorise (a pending debit of the buyer's wallet, backed by the buyer's signed order), capture (the
 * retailer's receipt: post the debit, split it by the contract in force, one linked chain, and sign the
 * `consort/payment` a registrar needs before it licenses anything), void, and refund (the registrar withdrew the
 * receipt after the capture: every leg reversed). Each step is idempotent by purchase id and goes through the
 * journal, so that the role's purchase state, the statement lines and the ledger agree whatever crashes. The ends
 * before a capture (voided, expired, refused, cancelled) are final for the purchase id, whoever asks next and in
 * whatever order (docs/decisions/0306-money-before-keys.md).
 */
import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { z } from 'zod'
import type { Signer } from '../../keys/ed25519.ts'
import { toHex } from '../../keys/hex.ts'
import type { authoriseRequest, captureRequest, refundRequest, voidRequest } from '../../protocols/clearing/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { verifyPurchaseOrder } from '../../protocols/purchase/order.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import { isRecordError } from '../../protocols/records/errors.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import { ORDER_MAX_AGE_MS } from './constants.ts'
import {
  AlreadyCapturedError,
  AlreadyRefundedError,
  AlreadyVoidedError,
  AuthorisationExpiredError,
  AuthorisationUnknownError,
  ClearingFailedError,
  ContractNotPricedError,
  ContractUnavailableError,
  InsufficientFundsError,
  LicenceMismatchError,
  NotPermittedError,
  OrderInvalidError,
  WithdrawalInvalidError,
} from './errors.ts'
import type { Journal, JournalEntry } from './journal.ts'
import type { Ledger } from './ledger/ledger.ts'
import {
  accountIdOf,
  accountInputOf,
  distributorParticipant,
  feeParticipant,
  holdingAccountInput,
  retailerParticipant,
  walletParticipant,
} from './participants.ts'
import { planSale, withReferral } from './pricing.ts'
import type { RecordBook } from './records.ts'
import type { ReferralCredit, Referrals } from './referrals.ts'
import { type LineBook, type LineDelta, lineKeyOf, SettlementBatch } from './settlement.ts'
import {
  type JournalTransfer,
  type PurchaseRow,
  periodOf,
  purchaseRow,
  revenueRow,
  StateKeys,
  type StoreOp,
} from './state.ts'
import { del, put, type StateStore } from './store.ts'
import { contractForPlay, sharesOf } from './usage/plays.ts'

const log = logger('consort:clearinghouse:purchases')

export type AuthoriseRequest = z.infer<typeof authoriseRequest>
export type CaptureRequest = z.infer<typeof captureRequest>
export type VoidRequest = z.infer<typeof voidRequest>
export type RefundRequest = z.infer<typeof refundRequest>

export interface PurchaseDeps {
  store: StateStore
  journal: Journal
  ledger: Ledger
  records: RecordBook
  lines: LineBook
  /** Referral credits of orders that carry a share (decision 0512). */
  referrals: Referrals
  trust: CertificateTrust
  network: NetworkContext
  clock: Clock
  /** This clearinghouse's key. */
  clearinghouse: Uint8Array
  /** Signs the `consort/payment` of each capture. */
  signer: Signer
  authorisationTtlMs: number
  serial: <T>(fn: () => Promise<T>) => Promise<T>
  sync: boolean
}

/**
 * The answer a purchase id already has. An end before the capture is final: a voided, expired, refused or cancelled
 * purchase is never authorised again, whoever sends its order (docs/decisions/0306-money-before-keys.md).
 */
function answerAgain(row: PurchaseRow, digest: string): { authorisation: string; expiresAt: number } {
  if (row.orderDigest !== digest) {
    throw new OrderInvalidError(`order.purchaseId: ${row.purchaseId} was already used for another order`)
  }
  const again = `; buy again with a new order`
  switch (row.state) {
    case 'refused':
      throw new InsufficientFundsError(`purchase ${row.purchaseId} was refused: ${row.reason}${again}`)
    case 'voided':
    case 'cancelled':
      throw new AlreadyVoidedError(`purchase ${row.purchaseId} was voided${again}`)
    case 'expired':
      throw new AuthorisationExpiredError(`the authorisation of ${row.purchaseId} expired${again}`)
    case 'refunding':
    case 'refunded':
      throw new AlreadyRefundedError(`purchase ${row.purchaseId} was refunded${again}`)
    default:
      return { authorisation: row.authorisation, expiresAt: row.expiresAt }
  }
}

/** The refusal of a capture (or refund) for a purchase in an end state before the capture, or already refunded. */
function notCapturable(row: PurchaseRow): Error | null {
  switch (row.state) {
    case 'voided':
    case 'cancelled':
      return new AlreadyVoidedError(`purchase ${row.purchaseId} was voided`)
    case 'expired':
      return new AuthorisationExpiredError(`the authorisation of ${row.purchaseId} expired`)
    case 'refused':
      return new AuthorisationUnknownError(`purchase ${row.purchaseId} was refused, not authorised`)
    case 'refunding':
    case 'refunded':
      return new AlreadyRefundedError(`purchase ${row.purchaseId} was refunded`)
    default:
      return null
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The ledger ids of a purchase, from its id (which may hold characters ledger ids may not). */
export function purchaseIds(purchaseId: string) {
  const h = createHash('sha256').update(purchaseId).digest('hex').slice(0, 40)
  return {
    authorisation: `auth:${h}`,
    capture: `cap:${h}`,
    leg: (name: string) => `cap:${h}.${name}`,
    void: `void:${h}`,
    refund: `ref:${h}`,
  }
}

/** Split legs a refund looks for (a contract's splits are capped well below this). */
const MAX_SPLIT_LEGS = 64

export class Purchases {
  readonly #d: PurchaseDeps

  constructor(deps: PurchaseDeps) {
    this.#d = deps
  }

  #decodeOptions(): DecodeOptions {
    return { network: this.#d.network.name, now: this.#d.clock.now(), caps: this.#d.network.caps }
  }

  #decode<T extends RecordType>(
    type: T,
    bytes: Uint8Array,
    field: string,
    Err: new (message: string) => Error,
  ): SignedRecord<T> {
    try {
      return decodeRecordAs(type, bytes, this.#decodeOptions())
    } catch (err) {
      if (isRecordError(err)) throw new Err(`${field}: ${err.message}`)
      throw err
    }
  }

  async get(purchaseId: string): Promise<PurchaseRow | undefined> {
    return this.#d.store.get(purchaseRow, StateKeys.purchase(purchaseId))
  }

  // ---- authorise ----------------------------------------------------------------------------------------------

  async authorise(request: AuthoriseRequest): Promise<{ authorisation: string; expiresAt: number }> {
    const order = request.order
    const o = order.order
    const now = this.#d.clock.now()
    if (!verifyPurchaseOrder(order)) throw new OrderInvalidError("order.sig: the buyer's signature does not verify")
    if (o.network !== this.#d.network.name)
      throw new OrderInvalidError(`order.network: ${o.network} is not this network`)
    if (!equal(o.clearinghouse, this.#d.clearinghouse)) {
      throw new OrderInvalidError('order.clearinghouse: the order is for another clearinghouse')
    }
    const digest = createHash('sha256').update(dagCbor.encode(order)).digest('hex')
    const known = await this.get(o.purchaseId)
    if (known !== undefined) return answerAgain(known, digest)
    if (o.created > now + this.#d.network.caps.clockSkewMs) {
      throw new OrderInvalidError(`order.created: ${o.created} is in the future`)
    }
    if (o.created < now - ORDER_MAX_AGE_MS) {
      throw new OrderInvalidError(`order.created: the order is older than ${ORDER_MAX_AGE_MS / 60_000} minutes`)
    }
    const offer = this.#decode('consort/offer', request.offer, 'offer', OrderInvalidError)
    const certification = this.#decode(
      'consort/certification',
      request.certification,
      'certification',
      OrderInvalidError,
    )
    const attachments = request.attachments.map((bytes, i) =>
      this.#decode('consort/cert', bytes, `attachments.${i}`, OrderInvalidError),
    )
    const device = this.#decode('consort/device', request.device, 'device', OrderInvalidError)
    this.#checkDevice(o, device)
    this.#checkOrder(o, offer, certification, attachments, now)
    // Known from here on as one of the account's devices: a share it signs is the buyer's own (decision 0512).
    this.#d.trust.learnDevice(device)

    const ids = purchaseIds(o.purchaseId)
    const ttl = this.#d.authorisationTtlMs
    const row: PurchaseRow = {
      v: 1,
      purchaseId: o.purchaseId,
      orderDigest: digest,
      account: toHex(o.account),
      retailer: toHex(o.retailer),
      device: toHex(o.device),
      amount: o.price.amount,
      currency: o.price.currency,
      offer: offer.id.toString(),
      certification: certification.id.toString(),
      content: offer.body.content[0]!,
      territory: o.territory,
      promotion: offer.body.promotion !== null,
      authorisation: ids.authorisation,
      expiresAt: now + ttl,
      state: 'authorised',
      authorisedAt: now,
      resolvedAt: null,
      receipt: null,
      licence: null,
      contract: null,
      reason: null,
      payment: null,
    }
    return this.#d.serial(async () => {
      const again = await this.get(o.purchaseId)
      if (again !== undefined) return answerAgain(again, digest)
      const keep: StoreOp[] = [
        ...this.#d.records.remember(offer),
        ...this.#d.records.remember(certification),
        put(StateKeys.purchase(o.purchaseId), row),
        put(StateKeys.purchaseExpiry(row.expiresAt, o.purchaseId), { v: 1 }),
        ...this.#d.referrals.keep(o.purchaseId, o.share),
      ]
      const wallet = walletParticipant(o.account)
      const result = await this.#journalled({
        kind: 'authorise',
        ref: o.purchaseId,
        accounts:
          row.amount > 0n
            ? [accountInputOf(wallet, row.currency), holdingAccountInput(this.#d.clearinghouse, row.currency)]
            : [],
        transfers:
          row.amount > 0n
            ? [
                {
                  kind: 'pending',
                  id: ids.authorisation,
                  debitAccountId: accountIdOf(wallet, row.currency),
                  creditAccountId: holdingAccountInput(this.#d.clearinghouse, row.currency).id,
                  amount: row.amount,
                  timeoutMs: ttl,
                  code: 'authorise',
                  reference: o.purchaseId,
                },
              ]
            : [],
        onSuccess: keep,
        // A refusal is final for this purchase id: every retry gets it again, and the buyer buys anew (a new
        // order) once the wallet holds enough, so that no retry can charge after the buyer was told "refused".
        onFailure: [
          put(StateKeys.purchase(o.purchaseId), {
            ...row,
            state: 'refused',
            resolvedAt: now,
            reason: 'insufficient funds',
          }),
        ],
      })
      if (!result.ok) {
        const code = result.codes.find((c) => c !== 'linked_event_failed')
        if (code === 'exceeds_credits') {
          throw new InsufficientFundsError(`the wallet does not hold ${row.amount} ${row.currency} (minor units)`)
        }
        throw new ClearingFailedError(`the ledger refused the authorisation of ${o.purchaseId}: ${code}`)
      }
      log('authorised %s: %s %s', o.purchaseId, row.amount, row.currency)
      return { authorisation: row.authorisation, expiresAt: row.expiresAt }
    })
  }

  /**
   * The buyer's device registration: a registrar's, current and unrevoked, for the ordering device and account; the
   * order's territory is the one it attests for the account (`Worldwide` when none was attested), not the buyer's word.
   */
  #checkDevice(o: AuthoriseRequest['order']['order'], device: SignedRecord<'consort/device'>): void {
    const trust = this.#d.trust
    const now = this.#d.clock.now()
    if (!trust.isRegistrar(device.signer))
      throw new OrderInvalidError('device: not registered by a registrar of the network')
    if (trust.isRevoked(device.id)) throw new OrderInvalidError(`device: registration ${device.id} is revoked`)
    if (now < device.body.notBefore || now >= device.body.notAfter) throw new OrderInvalidError('device: not valid now')
    if (!equal(device.body.device, o.device) || !equal(device.body.account, o.account)) {
      throw new OrderInvalidError('device: the registration is not for the ordering device and account')
    }
    const attested = device.body.territory ?? 'Worldwide'
    if (o.territory !== attested) {
      throw new OrderInvalidError(
        `order.territory: ${o.territory} is not the territory the account's registration attests (${attested})`,
      )
    }
  }

  #checkOrder(
    o: AuthoriseRequest['order']['order'],
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
    attachments: SignedRecord<'consort/cert'>[],
    now: number,
  ): void {
    const trust = this.#d.trust
    if (!offer.id.equals(o.offer)) throw new OrderInvalidError('offer: it is not the offer the order names')
    if (!certification.id.equals(o.certification)) {
      throw new OrderInvalidError('certification: it is not the certification the order names')
    }
    if (!equal(offer.signer, o.retailer)) {
      throw new OrderInvalidError("order.retailer: the offer is signed by another retailer than the order's")
    }
    const verdict = trust.check(offer, attachments)
    if (!verdict.ok) throw new OrderInvalidError(`offer: ${verdict.code}: ${verdict.reason}`)
    if (trust.isRevoked(offer.id)) throw new OrderInvalidError(`offer: ${offer.id} is revoked`)
    if (!trust.isReferenceService(certification.signer)) {
      throw new OrderInvalidError('certification: not signed by a reference service of the network')
    }
    if (!certification.body.offer.equals(offer.id)) {
      throw new OrderInvalidError('certification.body.offer: it certifies another offer')
    }
    if (certification.body.validUntil <= now) {
      throw new OrderInvalidError(`certification.body.validUntil: it expired at ${certification.body.validUntil}`)
    }
    if (trust.isRevoked(certification.id)) throw new OrderInvalidError(`certification: ${certification.id} is revoked`)
    const price = offer.body.price
    if (price.amount !== o.price.amount || price.currency !== o.price.currency) {
      throw new OrderInvalidError(
        `order.price: ${o.price.amount} ${o.price.currency} is not the offer's price ${price.amount} ${price.currency}`,
      )
    }
    if (offer.body.validFrom > now || (offer.body.validUntil !== null && offer.body.validUntil < now)) {
      throw new OrderInvalidError('offer: it is not valid now')
    }
    const territories = offer.body.territories
    const inside = territories.includes(o.territory) || territories.includes('Worldwide')
    if (!inside || offer.body.excludedTerritories.includes(o.territory)) {
      throw new OrderInvalidError(`order.territory: the offer is not sold in ${o.territory}`)
    }
  }

  // ---- capture ------------------------------------------------------------------------------------------------

  /**
   * Capture a purchase against its retailer's receipt: the held money is posted and split by the contract in force,
   * and a `consort/payment` is signed — the proof a registrar needs before it licenses anything. A retry answers the
   * same record.
   */
  async capture(request: CaptureRequest): Promise<{ captured: true; payment: Uint8Array }> {
    const purchaseId = request.purchaseId
    const first = await this.get(purchaseId)
    if (first === undefined) throw new AuthorisationUnknownError(`no authorisation for purchase ${purchaseId}`)
    if (first.state === 'captured') return this.#captured(first)
    const end = notCapturable(first)
    if (end !== null) throw end
    const receipt = this.#decode('consort/receipt', request.receipt, 'receipt', LicenceMismatchError)
    this.#checkReceipt(first, receipt)
    const contract = await this.#contractOf(first)

    return this.#d.serial(async () => {
      const row = await this.get(purchaseId)
      if (row === undefined) throw new AuthorisationUnknownError(`no authorisation for purchase ${purchaseId}`)
      if (row.state === 'captured') return this.#captured(row)
      const ended = notCapturable(row)
      if (ended !== null) throw ended
      const now = this.#d.clock.now()
      const sale = this.#plan(row, contract)
      // A share the order carried: its referrer's credit comes out of the payer's share of this very sale.
      const referral = await this.#d.referrals.decide(row, contract, sale, now)
      const credit = referral?.credit ?? null
      const from = contract.body.referral?.from ?? 'retailer'
      const plan = credit === null ? sale : withReferral(sale, credit.amount, from, sharesOf(contract))
      const ids = purchaseIds(purchaseId)
      const batch = new SettlementBatch()
      const transfers: JournalTransfer[] = []
      const lines = this.#saleLines(row, contract, plan, credit, now, batch)
      const wallet = walletParticipant(row.account)
      const retailer = retailerParticipant(row.retailer)
      const distributor = distributorParticipant(contract.body.distributor)
      const fee = feeParticipant(this.#d.clearinghouse)
      const holding = holdingAccountInput(this.#d.clearinghouse, row.currency)
      const posted = (id: string, debit: string, credit: string, amount: bigint, code: string) => {
        if (amount > 0n)
          transfers.push({
            kind: 'posted',
            id,
            debitAccountId: debit,
            creditAccountId: credit,
            amount,
            code,
            reference: purchaseId,
          })
      }
      const cur = row.currency
      // The retailer pays wholesale and fee even on a free or below-cost sale: its account must exist for them (a
      // first sale at price 0 was refused by the ledger for want of it — found by the retries property test).
      batch.account(retailer, cur)
      if (row.amount > 0n) {
        batch.account(wallet, cur)
        transfers.push({
          kind: 'post_pending',
          id: ids.capture,
          pendingId: ids.authorisation,
          code: 'capture',
          reference: purchaseId,
        })
        posted(ids.leg('r'), holding.id, batch.account(retailer, cur), row.amount, 'sale')
      }
      if (plan.wholesale > 0n)
        posted(ids.leg('w'), accountIdOf(retailer, cur), batch.account(distributor, cur), plan.wholesale, 'wholesale')
      if (plan.fee > 0n) posted(ids.leg('f'), accountIdOf(retailer, cur), batch.account(fee, cur), plan.fee, 'fee')
      if (credit !== null) {
        const payer = accountIdOf(credit.payer, cur)
        posted(ids.leg('x'), payer, batch.account(credit.payee, cur), credit.amount, 'referral')
      }
      for (const [i, s] of plan.splits.entries()) {
        if (s.amount > 0n)
          posted(ids.leg(`s${i}`), accountIdOf(distributor, cur), batch.account(s.party, cur), s.amount, 'royalty')
      }
      const m = await this.#d.lines.materialise(batch)
      const revenueOps: StoreOp[] = []
      const revertRevenue: StoreOp[] = []
      if (contract.body.commercialModel === 'subscription' || contract.body.commercialModel === 'ad-supported') {
        const key = StateKeys.revenue(periodOf(now), row.retailer, cur)
        const before = await this.#d.store.get(revenueRow, key)
        revenueOps.push(put(key, { v: 1, amount: (before?.amount ?? 0n) + row.amount }))
        revertRevenue.push(before === undefined ? del(key) : put(key, before))
      }
      // Signed before the ledger moves, kept in the same batch as the intent: once the capture is applied the proof
      // exists, and every retry answers these bytes.
      const payment = signRecord(
        'consort/payment',
        {
          network: this.#d.network.name,
          created: now,
          purchaseId,
          receipt: receipt.id,
          offer: receipt.body.offer,
          retailer: receipt.signer,
          account: receipt.body.account,
          device: receipt.body.device,
          price: receipt.body.price,
          authorisation: receipt.body.authorisation,
        },
        this.#d.signer,
        this.#d.network.caps,
      )
      const capturing: PurchaseRow = {
        ...row,
        state: 'capturing',
        receipt: receipt.id.toString(),
        contract: contract.id.toString(),
        payment: payment.id.toString(),
      }
      const captured: PurchaseRow = { ...capturing, state: 'captured', resolvedAt: now }
      const result = await this.#journalled(
        {
          kind: 'capture',
          ref: purchaseId,
          accounts: [...(row.amount > 0n ? [holding] : []), ...m.accounts],
          transfers,
          onSuccess: [
            put(StateKeys.purchase(purchaseId), captured),
            del(StateKeys.purchaseExpiry(row.expiresAt, purchaseId)),
            ...(referral?.onSuccess ?? []),
          ],
          // The lines of a sale are its own (their ref is the purchase id): a refused capture takes them back.
          onFailure: [put(StateKeys.purchase(purchaseId), row), ...lines.map((k) => del(k)), ...revertRevenue],
        },
        [
          put(StateKeys.purchase(purchaseId), capturing),
          ...m.ops,
          ...revenueOps,
          ...this.#d.records.remember(receipt),
          ...this.#d.records.remember(payment),
        ],
      )
      if (result.ok) {
        this.#d.lines.commit(m)
        log('captured %s: fee %s, wholesale %s, margin %s %s', purchaseId, plan.fee, plan.wholesale, plan.margin, cur)
        if (referral !== undefined)
          log('referral of %s: %s', purchaseId, referral.row.reason ?? `credited ${referral.row.detail}`)
        return { captured: true as const, payment: payment.bytes }
      }
      this.#d.lines.reset()
      const status = await this.#d.ledger.pendingStatus(ids.authorisation)
      if (status?.state === 'expired') {
        await this.#resolve(row, 'expired', now, 'the authorisation expired before the capture')
        throw new AuthorisationExpiredError(`the authorisation of ${purchaseId} expired`)
      }
      if (status?.state === 'voided') {
        await this.#resolve(row, 'voided', now, null)
        throw new AlreadyVoidedError(`purchase ${purchaseId} was voided`)
      }
      throw new ClearingFailedError(`the ledger refused the capture of ${purchaseId}: ${result.codes.join(', ')}`)
    })
  }

  /** The answer to a capture retried after it succeeded: the payment record signed then. */
  async #captured(row: PurchaseRow): Promise<{ captured: true; payment: Uint8Array }> {
    const payment = row.payment == null ? undefined : await this.#d.records.get('consort/payment', row.payment)
    if (payment === undefined) {
      // Captured before payments were signed (a row of an older build): no registrar will license it without one.
      throw new ClearingFailedError(`purchase ${row.purchaseId} was captured without a payment record`)
    }
    return { captured: true, payment: payment.bytes }
  }

  /**
   * The contract the sale is split under: the newest version of the certification's contract when it is in force now
   * (signed by the same distributor), else the version the reference service certified the offer against.
   */
  async #contractOf(row: PurchaseRow): Promise<SignedRecord<'consort/contract'>> {
    const certification = await this.#d.records.get('consort/certification', row.certification)
    if (certification === undefined) {
      throw new ContractUnavailableError(`the certification of purchase ${row.purchaseId} is not kept here`)
    }
    const named = await this.#d.records.fetch('consort/contract', certification.body.contract.toString())
    if (named === undefined) throw new ContractUnavailableError(`contract ${certification.body.contract} is not known`)
    if (!equal(named.signer, named.body.distributor)) {
      throw new LicenceMismatchError('contract: it is not signed by its distributor')
    }
    const newest = await this.#d.records.contractInForce(certification.body.contractId)
    return contractForPlay(named, newest, this.#d.clock.now())
  }

  /** The receipt is the purchase's retailer's, for exactly what was authorised. */
  #checkReceipt(row: PurchaseRow, receipt: SignedRecord<'consort/receipt'>): void {
    const r = receipt.body
    const fail = (field: string, why: string) => new LicenceMismatchError(`${field}: ${why}`)
    if (toHex(receipt.signer) !== row.retailer) throw fail('receipt', "not signed by the purchase's retailer")
    if (r.purchaseId !== row.purchaseId) throw fail('receipt.body.purchaseId', 'another purchase')
    if (r.offer.toString() !== row.offer) throw fail('receipt.body.offer', 'another offer')
    if (r.certification.toString() !== row.certification)
      throw fail('receipt.body.certification', 'another certification')
    if (toHex(r.account) !== row.account || toHex(r.device) !== row.device)
      throw fail('receipt.body.account', 'another buyer')
    if (r.price.amount !== row.amount || r.price.currency !== row.currency)
      throw fail('receipt.body.price', 'another price')
    if (!equal(r.clearinghouse, this.#d.clearinghouse))
      throw fail('receipt.body.clearinghouse', 'another clearinghouse')
    if (r.authorisation !== row.authorisation) throw fail('receipt.body.authorisation', 'another authorisation')
    if (row.receipt !== null && row.receipt !== receipt.id.toString()) {
      throw fail('receipt', 'another receipt than the one this purchase was captured under')
    }
  }

  /** How the price is divided under the contract (see pricing.ts and docs/decisions/0501). */
  #plan(row: PurchaseRow, contract: SignedRecord<'consort/contract'>) {
    const c = contract.body
    let wholesale: bigint | null = null
    if (c.commercialModel === 'pay-as-you-go') {
      const unit = c.wholesale.find((w) => w.per === 'unit' && w.currency === row.currency)
      if (unit !== undefined) wholesale = unit.amount
      else if (!c.wholesale.some((w) => w.per === 'play')) {
        throw new ContractNotPricedError(`contract ${c.contractId} has no wholesale price in ${row.currency}`)
      }
    }
    return planSale({
      price: row.amount,
      wholesale,
      feeBps: this.#d.network.body.policy.clearingFeeBps,
      promotion: row.promotion,
      shares: sharesOf(contract),
    })
  }

  /** The statement lines of a sale; returns their keys. */
  #saleLines(
    row: PurchaseRow,
    contract: SignedRecord<'consort/contract'>,
    plan: ReturnType<typeof planSale>,
    credit: ReferralCredit | null,
    now: number,
    batch: SettlementBatch,
  ): string[] {
    const wallet = walletParticipant(row.account)
    const retailer = retailerParticipant(row.retailer)
    const distributor = distributorParticipant(contract.body.distributor)
    const fee = feeParticipant(this.#d.clearinghouse)
    const period = periodOf(now)
    const keys: string[] = []
    const line = (participant: string, kind: LineDelta['kind'], amount: bigint, counterparty: string) => {
      const d: LineDelta = {
        period,
        participant,
        currency: row.currency,
        kind,
        ref: row.purchaseId,
        content: row.content,
        counterparty,
        units: 1,
        amount,
        at: now,
      }
      batch.line(d)
      keys.push(lineKeyOf(d))
    }
    for (const s of sharesOf(contract)) batch.participant(s.party, s.key)
    line(wallet, 'sale', -row.amount, retailer)
    line(retailer, 'sale', row.amount, wallet)
    line(retailer, 'sale', -plan.wholesale, distributor)
    line(distributor, 'sale', plan.wholesale, retailer)
    if (plan.fee > 0n) {
      line(retailer, 'fee', -plan.fee, fee)
      line(fee, 'fee', plan.fee, retailer)
    }
    if (credit !== null) {
      line(credit.payer, 'referral', -credit.amount, credit.payee)
      line(credit.payee, 'referral', credit.amount, credit.payer)
    }
    for (const s of plan.splits) {
      if (s.amount === 0n) continue
      line(distributor, 'split', -s.amount, s.party)
      line(s.party, 'split', s.amount, distributor)
    }
    return [...new Set(keys)]
  }

  // ---- void ---------------------------------------------------------------------------------------------------

  /**
   * Release a purchase's reservation. Only its retailer or its buyer (or this node) may, and only before the capture:
   * after it, only a refund against the registrar's withdrawal gives the money back. A void is final: the purchase
   * id is never authorised again. With the signed order, a void of a purchase not seen here yet is kept
   * (`cancelled`), so that its authorisation arriving later is refused and holds nothing.
   */
  async void(request: VoidRequest, caller?: PeerId): Promise<{ voided: boolean }> {
    const purchaseId = request.purchaseId
    return this.#d.serial(async () => {
      const row = await this.get(purchaseId)
      if (row === undefined) return this.#cancelUnseen(request, caller)
      if (caller !== undefined && !this.#mayVoid(row.retailer, row.account, caller)) {
        throw new NotPermittedError(`only the retailer or the buyer may void purchase ${purchaseId}`)
      }
      if (row.state === 'voided' || row.state === 'cancelled') return { voided: true }
      if (row.state === 'expired' || row.state === 'refused') return { voided: false }
      if (row.state === 'refunding' || row.state === 'refunded') {
        throw new AlreadyRefundedError(`purchase ${purchaseId} was refunded`)
      }
      if (row.state === 'captured' || row.state === 'capturing') {
        throw new AlreadyCapturedError(`purchase ${purchaseId} was captured`)
      }
      const now = this.#d.clock.now()
      const ids = purchaseIds(purchaseId)
      const voided: PurchaseRow = { ...row, state: 'voided', resolvedAt: now, reason: request.reason }
      const result = await this.#journalled({
        kind: 'void',
        ref: purchaseId,
        accounts: [],
        transfers:
          row.amount > 0n
            ? [
                {
                  kind: 'void_pending',
                  id: ids.void,
                  pendingId: ids.authorisation,
                  code: 'void',
                  reference: purchaseId,
                },
              ]
            : [],
        onSuccess: [
          put(StateKeys.purchase(purchaseId), voided),
          del(StateKeys.purchaseExpiry(row.expiresAt, purchaseId)),
          ...this.#d.referrals.forget(purchaseId),
        ],
        onFailure: [],
      })
      if (result.ok) return { voided: true }
      const status = await this.#d.ledger.pendingStatus(ids.authorisation)
      if (status?.state === 'expired') {
        await this.#resolve(row, 'expired', now, 'the authorisation expired')
        return { voided: false }
      }
      if (status?.state === 'posted') throw new AlreadyCapturedError(`purchase ${purchaseId} was captured`)
      throw new ClearingFailedError(`the ledger refused the void of ${purchaseId}: ${result.codes.join(', ')}`)
    })
  }

  #mayVoid(retailer: string, account: string, caller: PeerId): boolean {
    return [retailer, account].some((k) => peerIdOfKey(Buffer.from(k, 'hex')).equals(caller))
  }

  /**
   * A void of a purchase this clearinghouse has not seen: with the purchase's signed order (for this clearinghouse,
   * fresh, asked by its buyer or retailer) the end is kept, nothing held; without one there is nothing to keep (no
   * row is written for a stranger's purchase id).
   */
  async #cancelUnseen(request: VoidRequest, caller?: PeerId): Promise<{ voided: boolean }> {
    const order = request.order
    const purchaseId = request.purchaseId
    if (order === null) throw new AuthorisationUnknownError(`no authorisation for purchase ${purchaseId}`)
    const o = order.order
    const now = this.#d.clock.now()
    if (o.purchaseId !== purchaseId) throw new OrderInvalidError('order.purchaseId: another purchase')
    if (!verifyPurchaseOrder(order)) throw new OrderInvalidError("order.sig: the buyer's signature does not verify")
    if (o.network !== this.#d.network.name || !equal(o.clearinghouse, this.#d.clearinghouse)) {
      throw new OrderInvalidError('order: not an order for this clearinghouse')
    }
    if (o.created > now + this.#d.network.caps.clockSkewMs || o.created < now - ORDER_MAX_AGE_MS) {
      // Too old to be authorised anyway, or not yet valid: nothing to guard against, nothing kept.
      throw new AuthorisationUnknownError(`no authorisation for purchase ${purchaseId}`)
    }
    if (caller !== undefined && !this.#mayVoid(toHex(o.retailer), toHex(o.account), caller)) {
      throw new NotPermittedError(`only the retailer or the buyer may void purchase ${purchaseId}`)
    }
    const row: PurchaseRow = {
      v: 1,
      purchaseId,
      orderDigest: createHash('sha256').update(dagCbor.encode(order)).digest('hex'),
      account: toHex(o.account),
      retailer: toHex(o.retailer),
      device: toHex(o.device),
      amount: o.price.amount,
      currency: o.price.currency,
      offer: o.offer.toString(),
      certification: o.certification.toString(),
      content: '',
      territory: o.territory,
      promotion: false,
      authorisation: purchaseIds(purchaseId).authorisation,
      expiresAt: now,
      state: 'cancelled',
      authorisedAt: now,
      resolvedAt: now,
      receipt: null,
      licence: null,
      contract: null,
      reason: request.reason,
      payment: null,
    }
    await this.#d.store.write([put(StateKeys.purchase(purchaseId), row)], { sync: this.#d.sync })
    log('cancelled %s before its authorisation arrived', purchaseId)
    return { voided: true }
  }

  // ---- refund -------------------------------------------------------------------------------------------------

  /**
   * Reverse a capture whose licence could not be delivered: every leg of the sale goes back (retailer, distributor,
   * fee, rights holders) and the price returns to the wallet, with `refund` lines on each statement. Only against a
   * registration manager's signed revocation of the purchase's receipt — the registrar's word that no licence of the
   * purchase is or will be valid — so a captured payment ends in a licence or a refund, never both. Whoever presents
   * the revocation may ask; a retry answers the same.
   */
  async refund(request: RefundRequest): Promise<{ refunded: true }> {
    const purchaseId = request.purchaseId
    const first = await this.get(purchaseId)
    if (first === undefined) throw new AuthorisationUnknownError(`no purchase ${purchaseId} here`)
    if (first.state === 'refunded') return { refunded: true }
    this.#checkWithdrawal(first, request.withdrawal)
    return this.#d.serial(async () => {
      const row = await this.get(purchaseId)
      if (row === undefined) throw new AuthorisationUnknownError(`no purchase ${purchaseId} here`)
      if (row.state === 'refunded') return { refunded: true as const }
      if (row.state !== 'captured') {
        throw new AuthorisationUnknownError(
          `purchase ${purchaseId} is ${row.state}: only a captured purchase is refunded (void one that is not)`,
        )
      }
      const now = this.#d.clock.now()
      const ids = purchaseIds(purchaseId)
      const cur = row.currency
      const legs: Array<{ id: string; debit: string; credit: string; amount: bigint; code: string }> = []
      const batch = new SettlementBatch()
      const period = periodOf(now)
      const keys: string[] = []
      const line = (participant: string, counterparty: string, amount: bigint) => {
        const d: LineDelta = {
          period,
          participant,
          currency: cur,
          kind: 'refund',
          ref: purchaseId,
          content: row.content,
          counterparty,
          units: 1,
          amount,
          at: now,
        }
        batch.line(d)
        keys.push(lineKeyOf(d))
      }
      // Wholesale, fee and royalties: each leg of the capture goes back the way it came.
      for (const name of ['w', 'f', 'x', ...Array.from({ length: MAX_SPLIT_LEGS }, (_, i) => `s${i}`)]) {
        const leg = await this.#d.ledger.getTransfer(ids.leg(name))
        if (leg === undefined) continue
        // A referral credit goes back only while the referrer's wallet still holds it: a refund the referrer could
        // block by spending its credit would be worse than the payer bearing the credit of a sale it failed to deliver.
        if (name === 'x' && !(await this.#canGiveBack(leg.creditAccountId, leg.amount))) continue
        const payer = (await this.#d.ledger.getAccount(leg.creditAccountId))?.owner
        const payee = (await this.#d.ledger.getAccount(leg.debitAccountId))?.owner
        if (payer === undefined || payee === undefined) {
          throw new ClearingFailedError(`refund of ${purchaseId}: an account of its capture is gone`)
        }
        legs.push({
          id: `${ids.refund}.${name}`,
          debit: leg.creditAccountId,
          credit: leg.debitAccountId,
          amount: leg.amount,
          code: `refund-${leg.code}`,
        })
        line(payer, payee, -leg.amount)
        line(payee, payer, leg.amount)
      }
      // The price: from the retailer back through the holding account to the wallet.
      const wallet = walletParticipant(row.account)
      const retailer = retailerParticipant(row.retailer)
      if (row.amount > 0n) {
        const holding = holdingAccountInput(this.#d.clearinghouse, cur).id
        legs.push(
          {
            id: `${ids.refund}.r`,
            debit: accountIdOf(retailer, cur),
            credit: holding,
            amount: row.amount,
            code: 'refund',
          },
          { id: ids.refund, debit: holding, credit: accountIdOf(wallet, cur), amount: row.amount, code: 'refund' },
        )
        line(retailer, wallet, -row.amount)
        line(wallet, retailer, row.amount)
      }
      batch.account(wallet, cur)
      const m = await this.#d.lines.materialise(batch)
      const refunding: PurchaseRow = { ...row, state: 'refunding' }
      const refunded: PurchaseRow = { ...row, state: 'refunded', resolvedAt: now, reason: 'licence withdrawn' }
      const result = await this.#journalled(
        {
          kind: 'refund',
          ref: purchaseId,
          accounts: m.accounts,
          transfers: legs.map((l) => ({
            kind: 'posted' as const,
            id: l.id,
            debitAccountId: l.debit,
            creditAccountId: l.credit,
            amount: l.amount,
            code: l.code,
            reference: purchaseId,
          })),
          onSuccess: [put(StateKeys.purchase(purchaseId), refunded)],
          onFailure: [put(StateKeys.purchase(purchaseId), row), ...[...new Set(keys)].map((k) => del(k))],
        },
        [put(StateKeys.purchase(purchaseId), refunding), ...m.ops],
      )
      if (!result.ok) {
        this.#d.lines.reset()
        throw new ClearingFailedError(`the ledger refused the refund of ${purchaseId}: ${result.codes.join(', ')}`)
      }
      this.#d.lines.commit(m)
      log('refunded %s: %s %s back to the wallet', purchaseId, row.amount, cur)
      return { refunded: true as const }
    })
  }

  /** Whether an account may be debited `amount` now: always, unless it is a wallet (never below zero). */
  async #canGiveBack(accountId: string, amount: bigint): Promise<boolean> {
    const account = await this.#d.ledger.getAccount(accountId)
    if (account?.flags.debitsMustNotExceedCredits !== true) return true
    const b = await this.#d.ledger.balance(accountId)
    return b.creditsPosted - b.debitsPosted - b.debitsPending >= amount
  }

  /** The withdrawal is a registrar's revocation of exactly this purchase's receipt. */
  #checkWithdrawal(row: PurchaseRow, bytes: Uint8Array): void {
    const revocation = this.#decode('consort/revocation', bytes, 'withdrawal', WithdrawalInvalidError)
    if (!this.#d.trust.isRegistrar(revocation.signer)) {
      throw new WithdrawalInvalidError('withdrawal: not signed by a registration manager of the network')
    }
    if (row.receipt === null) {
      throw new AuthorisationUnknownError(`purchase ${row.purchaseId} has no receipt here: it was never captured`)
    }
    const receipt = row.receipt
    if (!revocation.body.targets.some((t) => t.kind === 'receipt' && t.id.toString() === receipt)) {
      throw new WithdrawalInvalidError(
        `withdrawal: it does not revoke receipt ${receipt} of purchase ${row.purchaseId}`,
      )
    }
  }

  // ---- expiry -------------------------------------------------------------------------------------------------

  /** Mark the authorisations whose reservation the ledger released as expired. Returns how many. */
  async expire(limit = 256): Promise<number> {
    return this.#d.serial(async () => {
      const now = this.#d.clock.now()
      let count = 0
      for await (const key of this.#d.store.keys(StateKeys.purchaseExpiryPrefix, { limit })) {
        const rest = key.slice(StateKeys.purchaseExpiryPrefix.length)
        const expiresAt = Number(rest.slice(0, 16))
        if (expiresAt > now) break
        const purchaseId = rest.slice(17)
        const row = await this.get(purchaseId)
        if (row === undefined || row.state !== 'authorised') {
          await this.#d.store.write([del(key)], { sync: false })
          continue
        }
        if (row.amount === 0n) {
          await this.#resolve(row, 'expired', now, 'the authorisation expired')
          count++
          continue
        }
        const status = await this.#d.ledger.pendingStatus(row.authorisation)
        if (status?.state === 'expired') {
          await this.#resolve(row, 'expired', now, 'the authorisation expired')
          count++
        }
      }
      return count
    })
  }

  async #resolve(row: PurchaseRow, state: 'expired' | 'voided', now: number, reason: string | null): Promise<void> {
    await this.#d.store.write(
      [
        put(StateKeys.purchase(row.purchaseId), { ...row, state, resolvedAt: now, reason }),
        del(StateKeys.purchaseExpiry(row.expiresAt, row.purchaseId)),
        ...this.#d.referrals.forget(row.purchaseId),
      ],
      { sync: this.#d.sync },
    )
  }

  /** Record an entry (with `extra` ops in the same batch), apply it, and report the ledger's codes. */
  async #journalled(entry: JournalEntry, extra: StoreOp[] = []): Promise<{ ok: boolean; codes: string[] }> {
    const { n, ops } = this.#d.journal.intent(() => entry)
    try {
      await this.#d.store.write([...extra, ...ops], { sync: this.#d.sync })
    } catch (err) {
      this.#d.journal.rewind(n)
      throw err
    }
    const result = await this.#d.journal.apply(n, entry, { sync: this.#d.sync })
    return { ok: result.ok, codes: result.results.map((r) => r.result) }
  }
}
