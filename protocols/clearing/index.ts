import { z } from 'zod'
import { recordBytes } from '../messages.ts'
import { purchaseOrder } from '../purchase/order.ts'
import { amount, bytes, currency, id, publicKey, text, timestamp } from '../records/fields.ts'

/**
 * `/consort/<net>/clearing/1` — served by clearinghouses.
 *
 * Purchases (called by the retailer, each idempotent by purchase id; docs/decisions/0306-money-before-keys.md):
 * - `authorise`: the buyer's signed purchase order, the offer and its certification → a pending debit of the
 *   buyer's wallet for the price; answers the authorisation id. A purchase id that was voided, expired or refused
 *   is answered with that end again, whoever asks: an end is final.
 * - `capture`: the retailer's receipt → the pending debit is posted and split by the contract in force; answers a
 *   signed `consort/payment`, the proof a registrar needs before it issues the licence (money before keys).
 * - `void`: the purchase failed before its capture → the pending debit is released. The retailer or the buyer may
 *   void, only before the capture; with the signed order, a void of a purchase not yet seen here is kept, so that
 *   the authorisation arriving after it is refused.
 * - `refund`: the licence could not be delivered after the capture → the capture is reversed, against a registrar's
 *   signed revocation of the purchase's receipt (no licence of it is or will be valid). Whoever presents it.
 * Usage (called by players, and by anyone relaying the usage topic):
 * - `report`: a `consort/usage` record with the device registration → acknowledged once stored; a replay is
 *   acknowledged again and never settled twice.
 * Accounts (signed by the account key, so only its holder can read or fund it):
 * - `fund`: top up a wallet through the clearinghouse's payment gateway.
 * - `balance`: a wallet's balances.
 * - `statement`: a participant's statement for a period (a `consort/statement` record per part).
 */
export const CLEARING_PROTOCOL = 'clearing'
export const CLEARING_OPS = {
  authorise: 'authorise',
  capture: 'capture',
  void: 'void',
  refund: 'refund',
  report: 'report',
  fund: 'fund',
  balance: 'balance',
  statement: 'statement',
  delivery: 'delivery',
} as const

/**
 * `device`: the buyer's device registration, whose registrar-attested territory the order's territory must be (the
 * buyer's word on its territory counts for nothing).
 */
export const authoriseRequest = z
  .object({
    order: purchaseOrder,
    offer: recordBytes,
    certification: recordBytes,
    device: recordBytes,
    attachments: z.array(recordBytes).max(4),
  })
  .strict()
export const authoriseResponse = z.object({ authorisation: id, expiresAt: timestamp }).strict()

export const captureRequest = z.object({ purchaseId: id, receipt: recordBytes }).strict()
/** `payment`: the clearinghouse's signed `consort/payment` for the receipt (the same bytes on every retry). */
export const captureResponse = z.object({ captured: z.literal(true), payment: recordBytes }).strict()

/** `order`: the purchase's signed order, so that a void can be kept for a purchase this clearinghouse has not seen. */
export const voidRequest = z.object({ purchaseId: id, reason: text(), order: purchaseOrder.nullable() }).strict()
export const voidResponse = z.object({ voided: z.boolean() }).strict()

/** `withdrawal`: a registration manager's `consort/revocation` naming the purchase's receipt. */
export const refundRequest = z.object({ purchaseId: id, withdrawal: recordBytes }).strict()
export const refundResponse = z.object({ refunded: z.literal(true) }).strict()

/** Licences one report may carry (the distinct licences its events were played under). */
export const MAX_REPORT_LICENCES = 64
/**
 * `licences`: the registrar-signed licences the report's plays were made under, so that the clearinghouse can bound
 * each play by its licence at once instead of fetching the licence by CID (optional; checked like any record).
 */
export const reportRequest = z
  .object({
    usage: recordBytes,
    device: recordBytes,
    licences: z.array(recordBytes).max(MAX_REPORT_LICENCES).optional(),
  })
  .strict()
/** Plays of one report an acknowledgement names as not paid. */
export const MAX_ACK_UNPAID = 256
/**
 * The report is stored durably when this answer is sent: the player may forget it. `held`: stored but not yet
 * settled (a gap in the chain before it, or plays held for review); `duplicate`: already had it. `unpaid` lists the
 * plays of the report that are not paid, and why: `beyond-licence` (more than the licence allows), `not-heard` (a
 * play of zero seconds: not a play) and the other hold reasons of docs/decisions/0506 — at most `MAX_ACK_UNPAID`.
 */
export const reportResponse = z
  .object({
    reportId: text(128),
    status: z.enum(['settled', 'held', 'duplicate']),
    unpaid: z
      .array(z.object({ eventId: text(128), reason: text(64) }).strict())
      .max(MAX_ACK_UNPAID)
      .optional(),
  })
  .strict()

/** Domain tag of an account request's signature. */
export const ACCOUNT_REQUEST_DOMAIN = 'consort/v1/account-request'
export const accountRequestFields = z
  .object({
    network: z.string(),
    account: publicKey,
    op: z.enum(['fund', 'balance', 'statement']),
    /** For `fund`: amount and currency; the gateway's payment token. */
    amount: amount.nullable(),
    currency: currency.nullable(),
    paymentToken: text(512).nullable(),
    /** For `statement`. */
    period: z
      .string()
      .regex(/^\d{4}-(0[1-9]|1[0-2])$/)
      .nullable(),
    /** Idempotency key of a top-up; freshness of a read. */
    requestId: id,
    created: timestamp,
  })
  .strict()
export type AccountRequestFields = z.infer<typeof accountRequestFields>
export const accountRequest = z.object({ request: accountRequestFields, sig: bytes(64) }).strict()

export const balanceEntry = z.object({ currency, available: amount, pending: amount, posted: amount }).strict()
export const balanceResponse = z.object({ balances: z.array(balanceEntry) }).strict()
export const fundResponse = z.object({ transferId: id, balance: balanceEntry }).strict()
export const statementResponse = z.object({ statements: z.array(recordBytes) }).strict()

/** Certificates and device registrations one delivery request may carry (the serving peers' and the producer's). */
export const MAX_DELIVERY_CREDENTIALS = 40
/**
 * `delivery` (decision 0511): a player's `consort/delivery` receipt with what it is checked against — the device's
 * registration, the licence the fetch was made under, the manifest fetched, and the serving peers' certificates or
 * device registrations (where the clearinghouse may not know them yet). Idempotent by the receipt's id.
 */
export const deliveryRequest = z
  .object({
    receipt: recordBytes,
    device: recordBytes,
    licence: recordBytes,
    manifest: recordBytes,
    credentials: z.array(recordBytes).max(MAX_DELIVERY_CREDENTIALS),
  })
  .strict()
/** Why a serving peer of a receipt is not paid. */
export const DELIVERY_UNPAID_REASONS = ['not-payable', 'self-delivery', 'beyond-licence', 'no-fee'] as const
/**
 * The receipt is settled (or was: `duplicate`) when this answer is sent. `paid`: per serving peer, the bytes paid
 * for and the amount; `unpaid`: the peers not paid, and why.
 */
export const deliveryResponse = z
  .object({
    receipt: text(128),
    status: z.enum(['settled', 'duplicate']),
    currency,
    paid: z.array(z.object({ peer: publicKey, bytes: z.number().int().min(0), amount }).strict()).max(32),
    unpaid: z.array(z.object({ peer: publicKey, reason: z.enum(DELIVERY_UNPAID_REASONS) }).strict()).max(32),
  })
  .strict()
export type DeliveryResponse = z.infer<typeof deliveryResponse>

export const CLEARING_CODES = {
  orderInvalid: 'ERR_ORDER_INVALID',
  insufficientFunds: 'ERR_INSUFFICIENT_FUNDS',
  authorisationUnknown: 'ERR_AUTHORISATION_UNKNOWN',
  authorisationExpired: 'ERR_AUTHORISATION_EXPIRED',
  alreadyVoided: 'ERR_ALREADY_VOIDED',
  alreadyCaptured: 'ERR_ALREADY_CAPTURED',
  alreadyRefunded: 'ERR_ALREADY_REFUNDED',
  /** A refund without a registrar's revocation of the purchase's receipt. */
  withdrawalInvalid: 'ERR_WITHDRAWAL_INVALID',
  licenceMismatch: 'ERR_LICENCE_MISMATCH',
  reportInvalid: 'ERR_REPORT_INVALID',
  paymentDeclined: 'ERR_PAYMENT_DECLINED',
  /** A delivery receipt that does not check (names what): nothing of it is paid. */
  deliveryInvalid: 'ERR_DELIVERY_INVALID',
} as const

/**
 * `usage-state` (added for the player's resynchronisation; a clearinghouse that predates it answers
 * `ERR_UNKNOWN_OP`): a device asks what this clearinghouse has acknowledged of its usage — the last report of its
 * chain and, per purchase, the uses its acknowledged events add up to. A player whose local store was damaged
 * restores its counters to at least these, so deleting local entries never gives back uses already reported.
 * Signed by the device key (only the device may read its own usage), laid out like account requests: Ed25519 over
 * `utf8(USAGE_STATE_DOMAIN) ‖ 0x00 ‖ dagCbor(request)` (`usage-state.ts`).
 */
export const USAGE_STATE_OP = 'usage-state'
export const USAGE_STATE_DOMAIN = 'consort/v1/usage-state'
export const usageStateRequestFields = z
  .object({ network: z.string(), device: publicKey, requestId: id, created: timestamp })
  .strict()
export type UsageStateRequestFields = z.infer<typeof usageStateRequestFields>
export const usageStateRequest = z
  .object({ request: usageStateRequestFields, device: recordBytes, sig: bytes(64) })
  .strict()
/** Most purchases one answer lists. */
export const MAX_USAGE_STATE_LICENCES = 10_000
export const acknowledgedUsage = z
  .object({
    purchaseId: id,
    plays: z.number().int().nonnegative(),
    playSeconds: z.number().int().nonnegative(),
    exports: z.number().int().nonnegative(),
    burns: z.number().int().nonnegative(),
    firstPlayAt: timestamp.nullable(),
  })
  .strict()
export type AcknowledgedUsage = z.infer<typeof acknowledgedUsage>
export const usageStateResponse = z
  .object({
    lastReport: z
      .object({ seq: z.number().int().nonnegative(), id: text(128) })
      .strict()
      .nullable(),
    licences: z.array(acknowledgedUsage).max(MAX_USAGE_STATE_LICENCES),
  })
  .strict()
export type UsageStateResponse = z.infer<typeof usageStateResponse>

/**
 * `consumption`: a device of the purchase's account asks what this clearinghouse has acknowledged of one purchase's
 * uses from **every** device of the account, and gets it as a `consort/consumption` record signed by the
 * clearinghouse. A registration manager reissues a licence only with a fresh one from the clearinghouse that
 * captured the purchase's payment, and writes its counts into the licence (`used`): a device that wiped its store
 * gets back what it had used, not a new licence's worth. Signed by the device like `usage-state`, under its own
 * domain (`consumption.ts`). A purchase this clearinghouse knows nothing of is answered with zero uses (its word,
 * worth nothing to a registrar unless it captured the payment); one of another account is refused.
 */
export const CONSUMPTION_OP = 'consumption'
export const CONSUMPTION_DOMAIN = 'consort/v1/consumption-request'
export const consumptionRequestFields = z
  .object({ network: z.string(), device: publicKey, purchaseId: id, requestId: id, created: timestamp })
  .strict()
export type ConsumptionRequestFields = z.infer<typeof consumptionRequestFields>
/**
 * `transfer` (optional, docs/decisions/0606): a registrar's `consort/transfer` that moved the purchase to the asking
 * device's account — a purchase's uses are answered to the account that holds it now.
 */
export const consumptionRequest = z
  .object({
    request: consumptionRequestFields,
    device: recordBytes,
    sig: bytes(64),
    transfer: recordBytes.optional(),
  })
  .strict()
export const consumptionResponse = z.object({ consumption: recordBytes }).strict()
