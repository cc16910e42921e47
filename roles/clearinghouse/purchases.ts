/**
 * Purchases: authorise (a pending debit of the buyer's wallet, backed by the buyer's signed order), capture (the
 * licence was issued: post the debit and split it by the contract, one linked chain) and void. Each step is
 * idempotent by purchase id and goes through the journal, so that the role's purchase state, the statement lines and
 * the ledger agree whatever crashes.
 */
import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { z } from 'zod'
import type { authoriseRequest, captureRequest, voidRequest } from '../../protocols/clearing/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { verifyPurchaseOrder } from '../../protocols/purchase/order.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import { RecordError } from '../../protocols/records/errors.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import { ORDER_MAX_AGE_MS } from './constants.ts'
import {
  AlreadyCapturedError,
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
} from './errors.ts'
import type { Journal, JournalEntry } from './journal.ts'
import type { Ledger } from './ledger/ledger.ts'
import {
  accountIdOf,
  accountInputOf,
  distributorParticipant,
  feeParticipant,
  hex,
  holdingAccountInput,
  retailerParticipant,
  walletParticipant,
} from './participants.ts'
import { planSale } from './pricing.ts'
import type { RecordBook } from './records.ts'
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
import { sharesOf } from './usage/plays.ts'

const log = logger('consort:clearinghouse:purchases')

export type AuthoriseRequest = z.infer<typeof authoriseRequest>
export type CaptureRequest = z.infer<typeof captureRequest>
export type VoidRequest = z.infer<typeof voidRequest>

export interface PurchaseDeps {
  store: StateStore
  journal: Journal
  ledger: Ledger
  records: RecordBook
  lines: LineBook
  trust: CertificateTrust
  network: NetworkContext
  clock: Clock
  /** This clearinghouse's signing key. */
  clearinghouse: Uint8Array
  authorisationTtlMs: number
  serial: <T>(fn: () => Promise<T>) => Promise<T>
  sync: boolean
}

/** The answer a purchase id already has. */
function answerAgain(row: PurchaseRow, digest: string): { authorisation: string; expiresAt: number } {
  if (row.orderDigest !== digest) {
    throw new OrderInvalidError(`order.purchaseId: ${row.purchaseId} was already used for another order`)
  }
  if (row.state === 'refused') {
    throw new InsufficientFundsError(
      `purchase ${row.purchaseId} was refused: ${row.reason}; buy again with a new order`,
    )
  }
  return { authorisation: row.authorisation, expiresAt: row.expiresAt }
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
  }
}

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
      if (err instanceof RecordError) throw new Err(`${field}: ${err.message}`)
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
    this.#checkOrder(o, offer, certification, attachments, now)

    const ids = purchaseIds(o.purchaseId)
    const ttl = this.#d.authorisationTtlMs
    const row: PurchaseRow = {
      v: 1,
      purchaseId: o.purchaseId,
      orderDigest: digest,
      account: hex(o.account),
      retailer: hex(o.retailer),
      device: hex(o.device),
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
    }
    return this.#d.serial(async () => {
      const again = await this.get(o.purchaseId)
      if (again !== undefined) return answerAgain(again, digest)
      const keep: StoreOp[] = [
        ...this.#d.records.remember(offer),
        ...this.#d.records.remember(certification),
        put(StateKeys.purchase(o.purchaseId), row),
        put(StateKeys.purchaseExpiry(row.expiresAt, o.purchaseId), { v: 1 }),
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

  async capture(request: CaptureRequest): Promise<{ captured: true }> {
    const purchaseId = request.purchaseId
    const first = await this.get(purchaseId)
    if (first === undefined) throw new AuthorisationUnknownError(`no authorisation for purchase ${purchaseId}`)
    if (first.state === 'captured') return { captured: true }
    if (first.state === 'voided') throw new AlreadyVoidedError(`purchase ${purchaseId} was voided`)
    if (first.state === 'expired') throw new AuthorisationExpiredError(`the authorisation of ${purchaseId} expired`)
    if (first.state === 'refused')
      throw new AuthorisationUnknownError(`purchase ${purchaseId} was refused, not authorised`)
    const receipt = this.#decode('consort/receipt', request.receipt, 'receipt', LicenceMismatchError)
    const licence = this.#decode('consort/licence', request.licence, 'licence', LicenceMismatchError)
    this.#checkCapture(first, receipt, licence)
    const contract = await this.#d.records.fetch('consort/contract', licence.body.contract.toString())
    if (contract === undefined) throw new ContractUnavailableError(`contract ${licence.body.contract} is not known`)
    if (!equal(contract.signer, contract.body.distributor)) {
      throw new LicenceMismatchError('contract: it is not signed by its distributor')
    }
    const certification = await this.#d.records.get('consort/certification', first.certification)
    if (certification !== undefined && certification.body.contractId !== contract.body.contractId) {
      throw new LicenceMismatchError("licence.body.contract: another contract than the offer's")
    }

    return this.#d.serial(async () => {
      const row = await this.get(purchaseId)
      if (row === undefined) throw new AuthorisationUnknownError(`no authorisation for purchase ${purchaseId}`)
      if (row.state === 'captured') return { captured: true as const }
      if (row.state === 'voided') throw new AlreadyVoidedError(`purchase ${purchaseId} was voided`)
      if (row.state === 'expired') throw new AuthorisationExpiredError(`the authorisation of ${purchaseId} expired`)
      if (row.state === 'refused')
        throw new AuthorisationUnknownError(`purchase ${purchaseId} was refused, not authorised`)
      const now = this.#d.clock.now()
      const plan = this.#plan(row, contract)
      const ids = purchaseIds(purchaseId)
      const batch = new SettlementBatch()
      const transfers: JournalTransfer[] = []
      const lines = this.#saleLines(row, contract, plan, now, batch)
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
      const capturing: PurchaseRow = {
        ...row,
        state: 'capturing',
        receipt: receipt.id.toString(),
        licence: licence.id.toString(),
        contract: contract.id.toString(),
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
          ],
          // The lines of a sale are its own (their ref is the purchase id): a refused capture takes them back.
          onFailure: [put(StateKeys.purchase(purchaseId), row), ...lines.map((k) => del(k)), ...revertRevenue],
        },
        [
          put(StateKeys.purchase(purchaseId), capturing),
          ...m.ops,
          ...revenueOps,
          ...this.#d.records.remember(receipt),
          ...this.#d.records.remember(licence),
        ],
      )
      if (result.ok) {
        this.#d.lines.commit(m)
        log('captured %s: fee %s, wholesale %s, margin %s %s', purchaseId, plan.fee, plan.wholesale, plan.margin, cur)
        return { captured: true as const }
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

  #checkCapture(
    row: PurchaseRow,
    receipt: SignedRecord<'consort/receipt'>,
    licence: SignedRecord<'consort/licence'>,
  ): void {
    const r = receipt.body
    const l = licence.body
    const fail = (field: string, why: string) => new LicenceMismatchError(`${field}: ${why}`)
    if (hex(receipt.signer) !== row.retailer) throw fail('receipt', "not signed by the purchase's retailer")
    if (r.purchaseId !== row.purchaseId) throw fail('receipt.body.purchaseId', 'another purchase')
    if (r.offer.toString() !== row.offer) throw fail('receipt.body.offer', 'another offer')
    if (r.certification.toString() !== row.certification)
      throw fail('receipt.body.certification', 'another certification')
    if (hex(r.account) !== row.account || hex(r.device) !== row.device)
      throw fail('receipt.body.account', 'another buyer')
    if (r.price.amount !== row.amount || r.price.currency !== row.currency)
      throw fail('receipt.body.price', 'another price')
    if (!equal(r.clearinghouse, this.#d.clearinghouse))
      throw fail('receipt.body.clearinghouse', 'another clearinghouse')
    if (r.authorisation !== row.authorisation) throw fail('receipt.body.authorisation', 'another authorisation')
    if (!this.#d.trust.isRegistrar(licence.signer)) throw fail('licence', 'not signed by a registrar of the network')
    if (this.#d.trust.isRevoked(licence.id)) throw fail('licence', `${licence.id} is revoked`)
    if (l.purchaseId !== row.purchaseId) throw fail('licence.body.purchaseId', 'another purchase')
    if (!l.receipt.equals(receipt.id)) throw fail('licence.body.receipt', 'another receipt')
    if (l.offer.toString() !== row.offer) throw fail('licence.body.offer', 'another offer')
    if (hex(l.account) !== row.account || hex(l.device) !== row.device)
      throw fail('licence.body.account', 'another buyer')
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
    for (const s of plan.splits) {
      if (s.amount === 0n) continue
      line(distributor, 'split', -s.amount, s.party)
      line(s.party, 'split', s.amount, distributor)
    }
    return [...new Set(keys)]
  }

  // ---- void ---------------------------------------------------------------------------------------------------

  /** Release a purchase's reservation. Only its retailer or buyer (or this node) may. */
  async void(request: VoidRequest, caller?: PeerId): Promise<{ voided: boolean }> {
    const purchaseId = request.purchaseId
    return this.#d.serial(async () => {
      const row = await this.get(purchaseId)
      if (row === undefined) throw new AuthorisationUnknownError(`no authorisation for purchase ${purchaseId}`)
      if (caller !== undefined) {
        const allowed = [row.retailer, row.account].map((k) => peerIdOfKey(Buffer.from(k, 'hex')))
        if (!allowed.some((p) => p.equals(caller))) {
          throw new NotPermittedError(`only the retailer or the buyer may void purchase ${purchaseId}`)
        }
      }
      if (row.state === 'voided') return { voided: true }
      if (row.state === 'expired' || row.state === 'refused') return { voided: false }
      if (row.state === 'captured') throw new AlreadyCapturedError(`purchase ${purchaseId} was captured`)
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
