import { z } from 'zod'
import { recordBytes } from '../messages.ts'
import { purchaseOrder } from './order.ts'

export * from './order.ts'

/**
 * `/consort/<net>/purchase/1` — a player buys from a retailer.
 *
 * - `buy`: the signed purchase order and the buyer's device registration. The retailer checks the offer is its
 *   own, current and certified; has the clearinghouse authorise the price; signs a receipt; has the clearinghouse
 *   capture it (a signed `consort/payment`); obtains the licence from a registration manager against that payment
 *   (money before keys, decision 0306). A failure before the capture voids the authorisation; after it, the payment
 *   is refunded. Idempotent by purchase id: a retry after a timeout returns the same receipt and licence and never
 *   charges twice.
 */
export const PURCHASE_PROTOCOL = 'purchase'
export const PURCHASE_OPS = { buy: 'buy' } as const
/** A purchase spans three services; it gets longer than an ordinary request. */
export const PURCHASE_DEADLINE_MS = 30_000

export const buyRequest = z.object({ order: purchaseOrder, device: recordBytes }).strict()
export const buyResponse = z.object({ receipt: recordBytes, licence: recordBytes }).strict()

/** Error codes of a refused purchase (besides the RPC ones). */
export const PURCHASE_CODES = {
  offerUnknown: 'ERR_OFFER_UNKNOWN',
  offerRevoked: 'ERR_OFFER_REVOKED',
  offerStale: 'ERR_OFFER_STALE',
  notCertified: 'ERR_NOT_CERTIFIED',
  territory: 'ERR_TERRITORY',
  priceMismatch: 'ERR_PRICE_MISMATCH',
  paymentRefused: 'ERR_PAYMENT_REFUSED',
  licenceRefused: 'ERR_LICENCE_REFUSED',
  /** A purchase id reused with another order. */
  purchaseConflict: 'ERR_PURCHASE_CONFLICT',
  /** A service did not answer in time: the retailer saved the purchase's state, a retry resumes it. */
  purchasePending: 'ERR_PURCHASE_PENDING',
} as const
