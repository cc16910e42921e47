import { z } from 'zod'
import { recordBytes } from '../messages.ts'

/**
 * `/consort/<net>/licence/1` — served by registration managers.
 *
 * - `issue`: a retailer presents the receipt, the clearinghouse's `consort/payment` proving the price was captured,
 *   the offer, its certification and the buyer's device registration. The registrar checks the payment (signed by
 *   a clearinghouse of the network, for exactly this receipt, buyer, device and price: money before keys), the
 *   receipt (retailer certificate), the certification (a trusted reference service, unexpired, unrevoked), that
 *   the contract is still in force, that the device is registered, unrevoked and within its account's limit; then
 *   re-seals each content key to the device and signs a `consort/licence`. Idempotent by purchase id.
 * - `reissue`: a licence holder asks again for its licence (lost store, updated manifests with new keys),
 *   signed by the device, with the clearinghouse's signed statement of the uses the purchase already consumed; the
 *   registrar answers with the current licence for that purchase, those uses written into it (`used`), so that a
 *   wiped store gets nothing back (docs/decisions/0704).
 */
export const LICENCE_PROTOCOL = 'licence'
export const LICENCE_OPS = { issue: 'issue', reissue: 'reissue', withdraw: 'withdraw', transfer: 'transfer' } as const
/** The seal context of each content key in a `consort/licence` record, sealed to the device's X25519 key. */
export const LICENCE_SEAL_CONTEXT = 'consort/licence/content-key'

export const issueRequest = z
  .object({
    receipt: recordBytes,
    /** The clearinghouse's signed `consort/payment` for the receipt. */
    payment: recordBytes,
    offer: recordBytes,
    certification: recordBytes,
    device: recordBytes,
    /** The retailer's certificate, so the registrar need not look it up. */
    attachments: z.array(recordBytes).max(4),
  })
  .strict()
export const issueResponse = z.object({ licence: recordBytes }).strict()

export const LICENCE_CODES = {
  receiptInvalid: 'ERR_RECEIPT_INVALID',
  certificationInvalid: 'ERR_CERTIFICATION_INVALID',
  contractNotInForce: 'ERR_CONTRACT_NOT_IN_FORCE',
  deviceNotRegistered: 'ERR_DEVICE_NOT_REGISTERED',
  deviceRevoked: 'ERR_DEVICE_REVOKED',
  deviceLimit: 'ERR_DEVICE_LIMIT',
  keyNotEscrowed: 'ERR_KEY_NOT_ESCROWED',
  notPurchaseRetailer: 'ERR_NOT_PURCHASE_RETAILER',
  /** No valid `consort/payment` for the receipt: no licence without captured money. */
  paymentUnproven: 'ERR_PAYMENT_UNPROVEN',
  /** A reissue without a fresh `consort/consumption` from the clearinghouse that captured the payment. */
  consumptionRequired: 'ERR_CONSUMPTION_REQUIRED',
  /** The offer is not sold in the territory the device's registration attests for its account. */
  territory: 'ERR_TERRITORY',
  /** A transfer asked by an account that does not hold the purchase (any more). */
  notHolder: 'ERR_NOT_HOLDER',
  /** The licence's usage rules do not allow transfer. */
  transferNotAllowed: 'ERR_TRANSFER_NOT_ALLOWED',
} as const

/** Domain tag of a reissue request's signature (by the requesting device). */
export const REISSUE_DOMAIN = 'consort/v1/licence-reissue'
export const reissueFields = z
  .object({ network: z.string(), purchaseId: z.string().min(1).max(128), created: z.number().int().nonnegative() })
  .strict()
/** Consumption statements one reissue request may carry (one per clearinghouse of the network at most). */
export const MAX_REISSUE_CONSUMPTIONS = 16
/**
 * `consumption`: `consort/consumption` records the device got from the clearinghouses; the registrar takes the one
 * signed by the clearinghouse that captured the purchase's payment, fresh (`ERR_CONSUMPTION_REQUIRED` without it).
 * Not signed by the device: each record is the clearinghouse's own signed word.
 */
export const reissueRequest = z
  .object({
    request: reissueFields,
    device: recordBytes,
    sig: z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === 64),
    consumption: z.array(recordBytes).max(MAX_REISSUE_CONSUMPTIONS).optional(),
  })
  .strict()
export const reissueResponse = issueResponse

/**
 * `withdraw`: the retailer of a purchase whose licence could not be delivered after the payment was captured takes
 * the purchase back, so that the clearinghouse may refund it. The caller presents its receipt and is authenticated
 * by its connection: only the peer whose key signed the receipt may withdraw it (anyone else is refused and nothing
 * is written). The registrar signs a `consort/revocation` of the receipt (and of every licence issued for it),
 * keeps and gossips it: no licence of the purchase is or will be valid. The same revocation answers every retry.
 */
export const withdrawRequest = z
  .object({ purchaseId: z.string().min(1).max(128), reason: z.string().min(1).max(512), receipt: recordBytes })
  .strict()
/**
 * `revoked`: a licence had been issued and is revoked now (or was already). `revocation`: the registrar's signed
 * revocation of the receipt, what the clearinghouse refunds against.
 */
export const withdrawResponse = z.object({ revoked: z.boolean(), revocation: recordBytes }).strict()

/** Domain tag of a transfer request's signature (by the giving account's key). */
export const TRANSFER_DOMAIN = 'consort/v1/licence-transfer'
/**
 * `transfer` (docs/decisions/0606): the account holding a purchase moves it to another account, where its licence's
 * rules allow transfer. Signed by the giving account's key (the account, not one of its devices: it is the account
 * that owns the purchase). `transferId` is the idempotency key: the same request again answers the same records.
 */
export const transferFields = z
  .object({
    network: z.string(),
    transferId: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9._:/-]+$/),
    purchaseId: z.string().min(1).max(128),
    to: z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === 32, { message: 'expected 32 bytes' }),
    created: z.number().int().nonnegative(),
    /**
     * A gift (`consort buy OFFER --for ACCOUNT`): a purchase bought for another account moves to it whatever its
     * transfer rule, but only as its first move, unused, within `GIFT_WINDOW_MS` of its licence.
     */
    gift: z.literal(true).optional(),
  })
  .strict()
/** How long after its licence a purchase may still be given as a gift (the buyer's checkout and its retries). */
export const GIFT_WINDOW_MS = 24 * 3600_000
export type TransferFields = z.infer<typeof transferFields>
/** `consumption`: as for `reissue`, a fresh statement of what the purchase used (the uses travel with it). */
export const transferRequest = z
  .object({
    request: transferFields,
    sig: z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === 64),
    consumption: z.array(recordBytes).max(MAX_REISSUE_CONSUMPTIONS),
  })
  .strict()
/** The registrar's `consort/transfer` and its `consort/revocation` of the giver's licences. */
export const transferResponse = z.object({ transfer: recordBytes, revocation: recordBytes }).strict()
