import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { seal } from '../../keys/seal.ts'
import { territoryCovers } from '../../protocols/identifiers/territories.ts'
import { GIFT_WINDOW_MS, LICENCE_SEAL_CONTEXT, type TransferFields } from '../../protocols/licence/index.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { BodyInput } from '../../protocols/records/registry.ts'
import type { UsedUses } from '../../protocols/records/types/consumption.ts'
import { type ReissueFields, verifyReissueRequest, verifyTransferRequest } from '../../protocols/register/client.ts'
import { resolveRules } from '../../protocols/usage-rules/index.ts'
import { MAX_CONSUMPTION_AGE_MS, MAX_RECEIPT_AGE_MS, MAX_REQUEST_AGE_MS } from './constants.ts'
import {
  bytesEqual,
  decodeOptions,
  emit,
  policy,
  type RegistrarContext,
  readStored,
  requestAgeProblem,
} from './context.ts'
import type { ContractWatch } from './contracts.ts'
import type { DeviceRegistry } from './devices.ts'
import {
  CertificationInvalidError,
  ConsumptionRequiredError,
  DeviceLimitError,
  DeviceNotRegisteredError,
  LicenceRevokedError,
  NotHolderError,
  NotPurchaseRetailerError,
  PaymentUnprovenError,
  PurchaseNotFoundError,
  ReceiptInvalidError,
  RequestStaleError,
  RequestUnauthorisedError,
  TerritoryRefusedError,
  TransferNotAllowedError,
} from './errors.ts'
import type { EscrowVault, ResolvedKey } from './escrow.ts'
import type { RevocationDesk } from './revocations.ts'
import {
  type BatchOp,
  KEYS,
  type LicenceRef,
  type PurchaseState,
  put,
  type TransferDone,
  type WithdrawnPurchase,
} from './store.ts'

const log = logger('consort:registration:licences')

/** Characters of hex in a licence id: 128 bits of SHA-256, unique per registrar, purchase and device. */
const LICENCE_ID_HEX_CHARS = 32

export interface IssueMessage {
  receipt: Uint8Array
  payment: Uint8Array
  offer: Uint8Array
  certification: Uint8Array
  device: Uint8Array
  attachments: Uint8Array[]
}

export interface ReissueMessage {
  request: ReissueFields
  device: Uint8Array
  sig: Uint8Array
  /** The clearinghouses' `consort/consumption` statements the device brings. */
  consumption?: Uint8Array[] | undefined
}

/** A licence as kept: the record and the X25519 key its content keys were sealed to. */
export interface StoredLicence {
  record: Uint8Array
  sealedTo: Uint8Array
}

/**
 * Licences. `issue` checks the clearinghouse's proof that the price was captured (money before keys), a retailer's
 * receipt, the offer's certification, the contract and the device, then opens each escrowed content key in memory,
 * seals it to the device's X25519 key and signs the licence; it is idempotent by purchase id. `reissue` serves the
 * holder's devices again, and other devices of its account within the licence's `devices` rule, always against the
 * payment proof kept with the purchase. A withdrawn receipt gets nothing, ever.
 */
export class LicenceIssuer {
  readonly #ctx: RegistrarContext
  readonly #devices: DeviceRegistry
  readonly #escrow: EscrowVault
  readonly #contracts: ContractWatch
  readonly #revocations: RevocationDesk

  constructor(
    ctx: RegistrarContext,
    parts: { devices: DeviceRegistry; escrow: EscrowVault; contracts: ContractWatch; revocations: RevocationDesk },
  ) {
    this.#ctx = ctx
    this.#devices = parts.devices
    this.#escrow = parts.escrow
    this.#contracts = parts.contracts
    this.#revocations = parts.revocations
  }

  /** `licence/1 issue`. Returns the licence record; the same one for a retry of the same receipt. */
  async issue(message: IssueMessage, signal?: AbortSignal): Promise<SignedRecord<'consort/licence'>> {
    const options = decodeOptions(this.#ctx)
    const receipt = decodeAs(
      () => decodeRecordAs('consort/receipt', message.receipt, options),
      ReceiptInvalidError,
      'receipt',
    )
    const device = decodeAs(
      () => this.#ctx.verified.decode('consort/device', message.device, options),
      DeviceNotRegisteredError,
      'device',
    )
    const purchaseId = receipt.body.purchaseId
    const deviceHex = toHex(device.body.device)
    if (!bytesEqual(receipt.body.device, device.body.device) || !bytesEqual(receipt.body.account, device.body.account))
      throw new ReceiptInvalidError(
        'receipt.device: the receipt is for another device or account than the registration',
      )

    return this.#ctx.locks.run(`purchase:${purchaseId}`, async () => {
      const state = await this.#ctx.store.get(KEYS.purchase(purchaseId))
      if (state != null) {
        if (!state.receipt.equals(receipt.id))
          throw new ReceiptInvalidError(`receipt.purchaseId: purchase ${purchaseId} was licensed under another receipt`)
        if (await this.#isRevoked(state))
          throw new LicenceRevokedError(`the licence of purchase ${purchaseId} is revoked`)
        await this.#devices.checkForLicence(device)
        const stored = await this.#ctx.store.get(KEYS.licence(purchaseId, deviceHex))
        // The receipt names the device, and its licence was stored with the purchase in one batch.
        if (stored == null) throw new PurchaseNotFoundError(`purchase ${purchaseId} has lost its licence`)
        return readStored(this.#ctx, 'consort/licence', stored.record)
      }

      // A first issue: every check, cheapest first.
      const withdrawn = await this.#ctx.store.get(KEYS.withdrawn(purchaseId))
      if (withdrawn != null && bytesEqual(withdrawn.retailer, receipt.signer))
        throw new LicenceRevokedError(`purchase ${purchaseId} was withdrawn by its retailer`)
      if (this.#ctx.trust.isRevoked(receipt.id))
        throw new LicenceRevokedError(`receipt ${receipt.id} of purchase ${purchaseId} was withdrawn`)
      const attachments = (message.attachments ?? []).map((bytes, i) =>
        decodeAs(() => this.#ctx.verified.decodeAny(bytes, options), ReceiptInvalidError, `attachments.${i}`),
      )
      const offer = decodeAs(
        () => this.#ctx.verified.decode('consort/offer', message.offer, options),
        ReceiptInvalidError,
        'offer',
      )
      const certification = decodeAs(
        () => this.#ctx.verified.decode('consort/certification', message.certification, options),
        CertificationInvalidError,
        'certification',
      )
      const now = this.#ctx.clock.now()
      this.#checkReceipt(receipt, offer, certification, attachments, now)
      const payment = this.#checkPayment(message.payment, receipt, options)
      await this.#checkCertification(certification, offer, now)
      await this.#devices.checkForLicence(device)
      // The territory is the account's as its registrar attested it (in the device record it signed), never the
      // buyer's word: an offer not sold there is licensed to no one there.
      const territory = device.body.territory ?? 'Worldwide'
      if (!territoryCovers(offer.body.territories, offer.body.excludedTerritories, territory))
        throw new TerritoryRefusedError(
          `offer ${offer.body.offerId} is not sold in ${territory}, the territory this account's registration attests`,
        )
      const contract = await this.#contracts.checkInForce(
        certification,
        {
          content: offer.body.content,
          useType: offer.body.useType,
          territories: offer.body.territories,
          excludedTerritories: offer.body.excludedTerritories,
          retailer: receipt.signer,
          at: now,
        },
        signal,
      )
      const escrowSigners = [contract.signer]
      if (!bytesEqual(contract.body.distributor, contract.signer)) escrowSigners.push(contract.body.distributor)
      const keys = await this.#escrow.resolve(offer.body.content, escrowSigners)
      const rules = resolveRules(offer.body.rules, policy(this.#ctx).ruleDefaults)
      if (rules.devices != null && rules.devices < 1)
        throw new DeviceLimitError(`offer ${offer.body.offerId} allows no device at all`)

      const licence = this.#sign(
        {
          network: this.#ctx.network.name,
          created: now,
          licenceId: licenceIdOf(this.#ctx.signer.publicKey, purchaseId, device.body.device),
          purchaseId,
          receipt: receipt.id,
          offer: offer.id,
          contract: contract.id,
          content: offer.body.content,
          useType: offer.body.useType,
          rules: offer.body.rules,
          account: device.body.account,
          device: device.body.device,
          notAfter: rules.notAfter,
          keys: [],
        },
        keys,
        device.body.sealingKey,
      )
      const purchase: PurchaseState = {
        purchaseId,
        receipt: receipt.id,
        account: device.body.account,
        devices: [deviceHex],
        escrowSigners,
        deviceAllowance: rules.devices,
        revoked: false,
        issued: now,
        retailer: receipt.signer,
        payment: payment.bytes,
      }
      await this.#ctx.store.batch([
        put(KEYS.purchase(purchaseId), purchase),
        ...this.#licenceOps(licence, device.body.sealingKey),
      ])
      emit(this.#ctx, 'licence:issued', { licence, purchaseId })
      log('licence %s for purchase %s issued', licence.body.licenceId, purchaseId)
      return licence
    })
  }

  /**
   * `licence/1 reissue`, signed by the asking device. The holder gets its licence again, with the current keys
   * (a new record only if the keys or its sealing key changed); another device of the same account gets a
   * licence of its own while the licence's `devices` rule allows.
   */
  async reissue(message: ReissueMessage): Promise<SignedRecord<'consort/licence'>> {
    const options = decodeOptions(this.#ctx)
    const device = decodeAs(
      () => this.#ctx.verified.decode('consort/device', message.device, options),
      DeviceNotRegisteredError,
      'device',
    )
    const problem = requestAgeProblem(this.#ctx, message.request, MAX_REQUEST_AGE_MS)
    if (problem != null) throw new RequestStaleError(problem)
    if (!verifyReissueRequest(message.request, device.body.device, message.sig))
      throw new RequestUnauthorisedError('sig: the request is not signed by the device it names')
    await this.#devices.checkForLicence(device)
    const purchaseId = message.request.purchaseId
    const deviceHex = toHex(device.body.device)
    return this.#ctx.locks.run(`purchase:${purchaseId}`, async () => {
      const state = await this.#ctx.store.get(KEYS.purchase(purchaseId))
      if (state == null)
        throw new PurchaseNotFoundError(`purchaseId: no licence of purchase ${purchaseId} was issued here`)
      if (!bytesEqual(state.account, device.body.account))
        throw new RequestUnauthorisedError(`purchase ${purchaseId} belongs to another account`)
      if (await this.#isRevoked(state))
        throw new LicenceRevokedError(`the licence of purchase ${purchaseId} is revoked`)
      const payment = this.#checkStoredPayment(state)
      const used = this.#checkConsumption(message.consumption ?? [], state, payment)
      const templateDevice = state.template ?? state.devices[0]
      const first =
        templateDevice === undefined ? undefined : await this.#ctx.store.get(KEYS.licence(purchaseId, templateDevice))
      if (first == null) throw new PurchaseNotFoundError(`purchase ${purchaseId} has lost its first licence`)
      const template = readStored(this.#ctx, 'consort/licence', first.record)
      const existing = await this.#ctx.store.get(KEYS.licence(purchaseId, deviceHex))
      const holds = state.devices.includes(deviceHex)
      if (!holds && state.deviceAllowance != null && state.devices.length >= state.deviceAllowance)
        throw new DeviceLimitError(
          `purchase ${purchaseId} is licensed to ${state.devices.length} device(s), its rules allow ${state.deviceAllowance}`,
        )
      const keys = await this.#escrow.resolve(template.body.content, state.escrowSigners)
      if (existing != null) {
        const current = readStored(this.#ctx, 'consort/licence', existing.record)
        const sameKeys =
          current.body.keys.length === keys.length &&
          keys.every((k) => current.body.keys.some((c) => c.isrc === k.isrc && bytesEqual(c.keyId, k.entry.keyId)))
        if (sameKeys && bytesEqual(existing.sealedTo, device.body.sealingKey) && sameUses(current.body.used, used))
          return current
      }
      const { keys: _, created: __, device: ___, licenceId: ____, used: _____, ...rest } = template.body
      const licence = this.#sign(
        {
          ...rest,
          created: this.#ctx.clock.now(),
          licenceId: licenceIdOf(this.#ctx.signer.publicKey, purchaseId, device.body.device),
          // The holder's: after a transfer, the receiver's account, not the template's (the giver's).
          account: state.account,
          device: device.body.device,
          used,
          keys: [],
        },
        keys,
        device.body.sealingKey,
      )
      const ops: BatchOp[] = this.#licenceOps(licence, device.body.sealingKey)
      ops.push(
        put(KEYS.purchase(purchaseId), {
          ...state,
          devices: holds ? state.devices : [...state.devices, deviceHex],
          used,
        } satisfies PurchaseState),
      )
      await this.#ctx.store.batch(ops)
      emit(this.#ctx, 'licence:issued', { licence, purchaseId })
      log('licence %s for purchase %s reissued', licence.body.licenceId, purchaseId)
      return licence
    })
  }

  /**
   * The licence side of `licence/1 withdraw`, under the purchase's lock: may `requester` withdraw this receipt, and
   * what must the revocation name? Only the peer whose key signed the receipt may, for a receipt of a certified
   * retailer, and only the receipt the purchase was licensed under (if it was): anyone else is refused before
   * anything is written. A retry finds the revocation signed the first time. `sign` signs the revocation; it is kept
   * with the marker and the purchase's state in one batch, and the caller announces it.
   */
  async withdraw(
    purchaseId: string,
    receiptBytes: Uint8Array,
    requester: PeerId,
    sign: (targets: Array<{ kind: 'receipt' | 'licence'; id: CID }>) => {
      record: SignedRecord<'consort/revocation'>
      ops: BatchOp[]
    },
  ): Promise<{ issued: boolean; revocation: Uint8Array; signed: SignedRecord<'consort/revocation'> | null }> {
    const options = decodeOptions(this.#ctx)
    const receipt = decodeAs(
      () => decodeRecordAs('consort/receipt', receiptBytes, { ...options, now: Number.MAX_SAFE_INTEGER }),
      ReceiptInvalidError,
      'receipt',
    )
    if (receipt.body.purchaseId !== purchaseId)
      throw new ReceiptInvalidError(`receipt.purchaseId: the receipt is for purchase ${receipt.body.purchaseId}`)
    if (!peerIdOfKey(receipt.signer).equals(requester))
      throw new NotPurchaseRetailerError(`purchase ${purchaseId} was not sold by ${requester}`)
    const verdict = this.#ctx.trust.check(receipt)
    if (!verdict.ok) throw new ReceiptInvalidError(`receipt: not signed by a certified retailer (${verdict.reason})`)
    return this.#ctx.locks.run(`purchase:${purchaseId}`, async () => {
      const marker = await this.#ctx.store.get(KEYS.withdrawn(purchaseId))
      const state = await this.#ctx.store.get(KEYS.purchase(purchaseId))
      if (state != null) {
        // A purchase stored before retailers were recorded cannot be withdrawn: only its operator can revoke it.
        if (state.retailer == null || !bytesEqual(state.retailer, receipt.signer))
          throw new NotPurchaseRetailerError(`purchase ${purchaseId} was not sold by ${requester}`)
        if (!state.receipt.equals(receipt.id))
          throw new ReceiptInvalidError(`receipt: purchase ${purchaseId} was licensed under another receipt`)
      }
      if (marker?.revocation != null && marker.receipt?.equals(receipt.id) === true) {
        return { issued: state != null, revocation: marker.revocation, signed: null }
      }
      const targets: Array<{ kind: 'receipt' | 'licence'; id: CID }> = [{ kind: 'receipt', id: receipt.id }]
      for (const licence of await this.licencesOf(purchaseId)) targets.push({ kind: 'licence', id: licence.id })
      const { record, ops } = sign(targets)
      const kept: WithdrawnPurchase = {
        retailer: receipt.signer,
        at: this.#ctx.clock.now(),
        receipt: receipt.id,
        revocation: record.bytes,
      }
      ops.push(put(KEYS.withdrawn(purchaseId), kept))
      if (state != null) ops.push(put(KEYS.purchase(purchaseId), { ...state, revoked: true } satisfies PurchaseState))
      await this.#ctx.store.batch(ops)
      return { issued: state != null, revocation: record.bytes, signed: record }
    })
  }

  /**
   * `licence/1 transfer` (docs/decisions/0606): the account holding a purchase moves it to another account, where the
   * licence's rules allow transfer. Under the purchase's lock, in one batch: every licence of the purchase held by the
   * giver's devices is revoked, the purchase's holder becomes the receiver (whose devices then fetch their licences
   * with `reissue`, within the `devices` rule, starting from the uses consumed so far), and the registrar's signed
   * `consort/transfer` is kept under the transfer id: the same request again answers the same records, once moved the
   * giver can move it no more. `sign` signs the revocation (the caller announces it).
   */
  async transfer(
    message: { request: TransferFields; sig: Uint8Array; consumption: Uint8Array[] },
    sign: (targets: Array<{ kind: 'licence'; id: CID }>) => {
      record: SignedRecord<'consort/revocation'>
      ops: BatchOp[]
    },
  ): Promise<{ done: TransferDone; signed: SignedRecord<'consort/revocation'> | null }> {
    const request = message.request
    const problem = requestAgeProblem(this.#ctx, request, MAX_REQUEST_AGE_MS)
    if (problem != null) throw new RequestStaleError(problem)
    const purchaseId = request.purchaseId
    return this.#ctx.locks.run(`purchase:${purchaseId}`, async () => {
      const known = await this.#ctx.store.get(KEYS.transfer(request.transferId))
      if (known != null) {
        if (known.purchaseId !== purchaseId || !verifyTransferRequest(request, known.from, message.sig))
          throw new RequestUnauthorisedError(`transfer ${request.transferId} was another request`)
        return { done: known, signed: null }
      }
      const state = await this.#ctx.store.get(KEYS.purchase(purchaseId))
      if (state == null)
        throw new PurchaseNotFoundError(`purchaseId: no licence of purchase ${purchaseId} was issued here`)
      if (!verifyTransferRequest(request, state.account, message.sig))
        throw new NotHolderError(`purchase ${purchaseId} is not held by the account that signed this transfer`)
      if (bytesEqual(request.to, state.account))
        throw new RequestUnauthorisedError('to: the purchase is already held by that account')
      if (await this.#isRevoked(state))
        throw new LicenceRevokedError(`the licence of purchase ${purchaseId} is revoked`)
      const licences = await this.licencesOf(purchaseId)
      const template = licences[0]
      if (template == null) throw new PurchaseNotFoundError(`purchase ${purchaseId} has no licence to transfer`)
      const payment = this.#checkStoredPayment(state)
      const used = this.#checkConsumption(message.consumption, state, payment)
      if (request.gift === true) {
        // A purchase bought for someone else: its first move, unused, soon after its licence — whatever its rules.
        const unused = used.plays === 0 && used.playSeconds === 0 && used.exports === 0 && used.burns === 0
        if ((state.transfers ?? 0) > 0 || !unused || this.#ctx.clock.now() - state.issued > GIFT_WINDOW_MS)
          throw new TransferNotAllowedError(
            `purchase ${purchaseId} can no longer be given as a gift: only unused, as its first move, within ${GIFT_WINDOW_MS / 3600_000} h of its licence`,
          )
      } else if (!resolveRules(template.body.rules, policy(this.#ctx).ruleDefaults).transfer) {
        throw new TransferNotAllowedError(`the rules of purchase ${purchaseId} do not allow transfer`)
      }
      const { record: revocation, ops } = sign(licences.map((l) => ({ kind: 'licence' as const, id: l.id })))
      const transfer = signRecord(
        'consort/transfer',
        {
          network: this.#ctx.network.name,
          created: this.#ctx.clock.now(),
          transferId: request.transferId,
          purchaseId,
          seq: (state.transfers ?? 0) + 1,
          from: state.account,
          to: request.to,
          used,
          revoked: licences.map((l) => l.id),
        },
        this.#ctx.signer,
        this.#ctx.network.caps,
      )
      const done: TransferDone = {
        purchaseId,
        from: state.account,
        transfer: transfer.bytes,
        revocation: revocation.bytes,
      }
      ops.push(
        put(KEYS.transfer(request.transferId), done),
        put(KEYS.purchase(purchaseId), {
          ...state,
          account: request.to,
          devices: [],
          template: state.template ?? state.devices[0]!,
          transfers: (state.transfers ?? 0) + 1,
          used,
        } satisfies PurchaseState),
      )
      await this.#ctx.store.batch(ops)
      log('purchase %s transferred (%s), %d licence(s) revoked', purchaseId, request.transferId, licences.length)
      return { done, signed: revocation }
    })
  }

  /** The licences of a purchase, one per device. */
  async licencesOf(purchaseId: string): Promise<SignedRecord<'consort/licence'>[]> {
    const state = await this.#ctx.store.get(KEYS.purchase(purchaseId))
    if (state == null) return []
    const out: SignedRecord<'consort/licence'>[] = []
    for (const device of state.devices) {
      const stored = await this.#ctx.store.get(KEYS.licence(purchaseId, device))
      if (stored != null) out.push(readStored(this.#ctx, 'consort/licence', stored.record))
    }
    return out
  }

  /** The purchase a licence id belongs to. */
  async purchaseOfLicence(id: CID): Promise<string | undefined> {
    return (await this.#ctx.store.get(KEYS.licenceId(id.toString())))?.purchaseId
  }

  /** The batch operations that mark a purchase's licences revoked here. */
  async revokeOps(purchaseId: string): Promise<BatchOp[]> {
    const state = await this.#ctx.store.get(KEYS.purchase(purchaseId))
    if (state == null) return []
    return [put(KEYS.purchase(purchaseId), { ...state, revoked: true } satisfies PurchaseState)]
  }

  /**
   * The clearinghouse's proof that this receipt's price was captured: a `consort/payment` signed by the clearinghouse
   * the receipt names (one the network lists), for exactly this receipt, purchase, retailer, buyer, device, price and
   * authorisation. Checked offline: no call to the clearinghouse, no word of the retailer's.
   */
  #checkPayment(
    bytes: Uint8Array,
    receipt: SignedRecord<'consort/receipt'>,
    options: ReturnType<typeof decodeOptions>,
  ): SignedRecord<'consort/payment'> {
    const payment = decodeAs(() => decodeRecordAs('consort/payment', bytes, options), PaymentUnprovenError, 'payment')
    const p = payment.body
    const r = receipt.body
    const problems: string[] = []
    if (!this.#ctx.trust.isClearinghouse(payment.signer)) problems.push('not signed by a clearinghouse of the network')
    if (!bytesEqual(payment.signer, r.clearinghouse))
      problems.push("signed by another clearinghouse than the receipt's")
    if (p.purchaseId !== r.purchaseId) problems.push(`for purchase ${p.purchaseId}`)
    if (!p.receipt.equals(receipt.id)) problems.push('for another receipt')
    if (!bytesEqual(p.retailer, receipt.signer)) problems.push('for another retailer')
    if (!bytesEqual(p.account, r.account) || !bytesEqual(p.device, r.device)) problems.push('for another buyer')
    if (p.price.amount !== r.price.amount || p.price.currency !== r.price.currency) problems.push('for another price')
    if (p.authorisation !== r.authorisation) problems.push('for another authorisation')
    if (problems.length > 0)
      throw new PaymentUnprovenError(`payment: ${problems.join('; ')}: no licence without the captured payment`)
    return payment
  }

  /** The payment kept with a purchase still proves it (read again at every reissue). */
  #checkStoredPayment(state: PurchaseState): SignedRecord<'consort/payment'> {
    if (state.payment == null)
      throw new PaymentUnprovenError(
        `purchase ${state.purchaseId} was licensed without a payment proof; its operator must reissue it`,
      )
    const payment = decodeAs(
      () =>
        decodeRecordAs('consort/payment', state.payment!, {
          ...decodeOptions(this.#ctx),
          now: Number.MAX_SAFE_INTEGER,
        }),
      PaymentUnprovenError,
      'payment',
    )
    if (!this.#ctx.trust.isClearinghouse(payment.signer) || !payment.body.receipt.equals(state.receipt))
      throw new PaymentUnprovenError(`purchase ${state.purchaseId}: its payment proof no longer holds`)
    return payment
  }

  /**
   * The uses the purchase already consumed, as the clearinghouse that captured its payment counted them over every
   * device of the account: a `consort/consumption` it signed, for this purchase and account, at most
   * `MAX_CONSUMPTION_AGE_MS` old. Never fewer than an earlier reissue wrote (`state.used`). Other clearinghouses'
   * statements are ignored: only the payer's clearinghouse is asked to know.
   */
  #checkConsumption(
    records: readonly Uint8Array[],
    state: PurchaseState,
    payment: SignedRecord<'consort/payment'>,
  ): UsedUses {
    const options = decodeOptions(this.#ctx)
    const now = this.#ctx.clock.now()
    const problems: string[] = []
    let best: SignedRecord<'consort/consumption'> | null = null
    for (const [i, bytes] of records.entries()) {
      let c: SignedRecord<'consort/consumption'>
      try {
        c = decodeRecordAs('consort/consumption', bytes, options)
      } catch (err) {
        problems.push(`consumption.${i}: ${(err as Error).message}`)
        continue
      }
      if (!bytesEqual(c.signer, payment.signer)) continue
      if (c.body.purchaseId !== state.purchaseId || !bytesEqual(c.body.account, state.account)) {
        problems.push(`consumption.${i}: for another purchase or account`)
      } else if (now - c.body.created > MAX_CONSUMPTION_AGE_MS) {
        problems.push(`consumption.${i}: ${now - c.body.created} ms old`)
      } else if (best === null || c.body.created > best.body.created) {
        best = c
      }
    }
    if (best === null) {
      throw new ConsumptionRequiredError(
        `consumption: no statement younger than ${MAX_CONSUMPTION_AGE_MS / 60_000} min from the clearinghouse that captured purchase ${state.purchaseId}: ask it (consumption on /clearing/1) and send its answer with the reissue${problems.length > 0 ? ` (${problems.join('; ')})` : ''}`,
      )
    }
    const b = best.body
    const prior = state.used
    const firsts = [b.firstPlayAt, prior?.firstPlayAt].filter((t): t is number => t != null)
    const plays = Math.max(b.plays, prior?.plays ?? 0)
    return {
      plays,
      playSeconds: Math.max(b.playSeconds, prior?.playSeconds ?? 0),
      exports: Math.max(b.exports, prior?.exports ?? 0),
      burns: Math.max(b.burns, prior?.burns ?? 0),
      firstPlayAt: plays === 0 || firsts.length === 0 ? null : Math.min(...firsts),
      asOf: Math.max(b.created, prior?.asOf ?? 0),
    }
  }

  #checkReceipt(
    receipt: SignedRecord<'consort/receipt'>,
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
    attachments: SignedRecord[],
    now: number,
  ): void {
    const verdict = this.#ctx.trust.check(receipt, attachments)
    if (!verdict.ok) throw new ReceiptInvalidError(`receipt: not signed by a certified retailer (${verdict.reason})`)
    if (!bytesEqual(offer.signer, receipt.signer))
      throw new ReceiptInvalidError('offer: the offer is not the receipt signer’s own')
    if (!receipt.body.offer.equals(offer.id))
      throw new ReceiptInvalidError(`receipt.offer: names ${receipt.body.offer}, not ${offer.id}`)
    if (!receipt.body.certification.equals(certification.id))
      throw new ReceiptInvalidError(
        `receipt.certification: names ${receipt.body.certification}, not ${certification.id}`,
      )
    const price = offer.body.price
    if (receipt.body.price.currency !== price.currency || receipt.body.price.amount !== price.amount)
      throw new ReceiptInvalidError(
        `receipt.price: ${receipt.body.price.amount} ${receipt.body.price.currency} is not the offer's ${price.amount} ${price.currency}`,
      )
    if (!this.#ctx.trust.isClearinghouse(receipt.body.clearinghouse))
      throw new ReceiptInvalidError('receipt.clearinghouse: not a clearinghouse of the network')
    if (now - receipt.body.created > MAX_RECEIPT_AGE_MS)
      throw new ReceiptInvalidError(`receipt.created: the receipt is ${now - receipt.body.created} ms old`)
    const soldAt = receipt.body.created
    if (soldAt < offer.body.validFrom || (offer.body.validUntil != null && soldAt > offer.body.validUntil))
      throw new ReceiptInvalidError(`receipt.created: offer ${offer.body.offerId} was not on sale at ${soldAt}`)
  }

  async #checkCertification(
    certification: SignedRecord<'consort/certification'>,
    offer: SignedRecord<'consort/offer'>,
    now: number,
  ): Promise<void> {
    if (!this.#ctx.trust.isReferenceService(certification.signer))
      throw new CertificationInvalidError('certification: not signed by a reference service the network lists')
    if (this.#ctx.trust.isRevoked(certification.id))
      throw new CertificationInvalidError(`certification ${certification.id} is revoked`)
    if (now > certification.body.validUntil)
      throw new CertificationInvalidError(`certification expired at ${certification.body.validUntil}, now ${now}`)
    if (!certification.body.offer.equals(offer.id) || certification.body.offerId !== offer.body.offerId)
      throw new CertificationInvalidError(`certification is for offer ${certification.body.offer}, not ${offer.id}`)
    if (await this.#revocations.isRevokedBy(offer.id, [offer.signer]))
      throw new CertificationInvalidError(`offer ${offer.body.offerId} is revoked`)
  }

  /** Open each escrowed key in memory, seal it to the device, wipe it; sign the licence. */
  #sign(
    body: BodyInput<'consort/licence'>,
    keys: readonly ResolvedKey[],
    sealingKey: Uint8Array,
  ): SignedRecord<'consort/licence'> {
    const sealed = keys.map(({ isrc, entry }) => {
      const contentKey = this.#escrow.openKey(entry)
      try {
        return {
          isrc,
          keyId: entry.keyId,
          sealedKey: seal(sealingKey, contentKey, LICENCE_SEAL_CONTEXT, this.#ctx.random),
        }
      } finally {
        contentKey.fill(0)
      }
    })
    return signRecord('consort/licence', { ...body, keys: sealed }, this.#ctx.signer, this.#ctx.network.caps)
  }

  #licenceOps(licence: SignedRecord<'consort/licence'>, sealedTo: Uint8Array): BatchOp[] {
    const device = toHex(licence.body.device)
    return [
      put(KEYS.licence(licence.body.purchaseId, device), { record: licence.bytes, sealedTo } satisfies StoredLicence),
      put(KEYS.licenceId(licence.id.toString()), { purchaseId: licence.body.purchaseId, device } satisfies LicenceRef),
    ]
  }

  async #isRevoked(state: PurchaseState): Promise<boolean> {
    if (state.revoked || this.#ctx.trust.isRevoked(state.receipt)) return true
    for (const licence of await this.licencesOf(state.purchaseId)) {
      if (this.#ctx.trust.isRevoked(licence.id)) return true
    }
    return false
  }
}

/** Do two `used` counts say the same (the statement's time aside)? */
function sameUses(a: UsedUses | undefined, b: UsedUses): boolean {
  return (
    a != null &&
    a.plays === b.plays &&
    a.playSeconds === b.playSeconds &&
    a.exports === b.exports &&
    a.burns === b.burns &&
    a.firstPlayAt === b.firstPlayAt
  )
}

/** The licence id of a purchase for one device: stable, so a reissue to the same device keeps its id. */
export function licenceIdOf(registrar: Uint8Array, purchaseId: string, device: Uint8Array): string {
  const digest = createHash('sha256').update(registrar).update(`\0${purchaseId}\0`).update(device).digest('hex')
  return `lic-${digest.slice(0, LICENCE_ID_HEX_CHARS)}`
}

/** Decode a record, turning a decoding failure into the protocol error the caller expects. */
function decodeAs<T>(decode: () => T, ErrorClass: new (message: string) => Error, field: string): T {
  try {
    return decode()
  } catch (err) {
    throw new ErrorClass(`${field}: ${(err as Error).message}`)
  }
}
