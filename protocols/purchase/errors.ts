import { CLEARING_CODES } from '../clearing/index.ts'
import { isErrorNamed } from '../errors.ts'
import { PURCHASE_CODES } from './index.ts'

/**
 * Why a `/purchase/1` `buy` was refused: one class per condition. The retailer throws them and its RPC server sends
 * each one's `code` (from `PURCHASE_CODES`, the protocol's list); a retailer keeps the code of a refusal it stored
 * and rebuilds the error from it with `purchaseRefusal` (so a retry answers the same refusal).
 */

/** The purchase order is not signed by its account, names an unlisted clearinghouse or a device that is not its own. */
export class OrderInvalidError extends Error {
  static override name = 'OrderInvalidError'
  override name = OrderInvalidError.name
  readonly code = CLEARING_CODES.orderInvalid

  constructor(message = 'the purchase order is invalid', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The retailer does not sell the offer (not its own, or not known). */
export class OfferUnknownError extends Error {
  static override name = 'OfferUnknownError'
  override name = OfferUnknownError.name
  readonly code = PURCHASE_CODES.offerUnknown

  constructor(message = 'the offer is not sold here', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The offer, or the certification it is sold under, was revoked. */
export class OfferRevokedError extends Error {
  static override name = 'OfferRevokedError'
  override name = OfferRevokedError.name
  readonly code = PURCHASE_CODES.offerRevoked

  constructor(message = 'the offer is revoked', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The offer is outside its validity window, or superseded. */
export class OfferStaleError extends Error {
  static override name = 'OfferStaleError'
  override name = OfferStaleError.name
  readonly code = PURCHASE_CODES.offerStale

  constructor(message = 'the offer is not valid now', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The certification the order names is not one the offer holds, or it does not verify. */
export class NotCertifiedError extends Error {
  static override name = 'NotCertifiedError'
  override name = NotCertifiedError.name
  readonly code = PURCHASE_CODES.notCertified

  constructor(message = 'the offer is not certified', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The offer is not sold in the account's attested territory, or the order claims another territory. */
export class TerritoryRefusedError extends Error {
  static override name = 'TerritoryRefusedError'
  override name = TerritoryRefusedError.name
  readonly code = PURCHASE_CODES.territory

  constructor(message = "the offer is not sold in the account's territory", options?: ErrorOptions) {
    super(message, options)
  }
}

/** The order's price is not the offer's. */
export class PriceMismatchError extends Error {
  static override name = 'PriceMismatchError'
  override name = PriceMismatchError.name
  readonly code = PURCHASE_CODES.priceMismatch

  constructor(message = "the order's price is not the offer's", options?: ErrorOptions) {
    super(message, options)
  }
}

/** The clearinghouse refused to authorise or capture the payment; nothing was charged. */
export class PaymentRefusedError extends Error {
  static override name = 'PaymentRefusedError'
  override name = PaymentRefusedError.name
  readonly code = PURCHASE_CODES.paymentRefused

  constructor(message = 'the payment was refused', options?: ErrorOptions) {
    super(message, options)
  }
}

/** No registration manager issued the licence; the payment was refunded. */
export class LicenceRefusedError extends Error {
  static override name = 'LicenceRefusedError'
  override name = LicenceRefusedError.name
  readonly code = PURCHASE_CODES.licenceRefused

  constructor(message = 'the licence was refused', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A purchase with this id exists with another order: choose a new purchase id. */
export class PurchaseConflictError extends Error {
  static override name = 'PurchaseConflictError'
  override name = PurchaseConflictError.name
  readonly code = PURCHASE_CODES.purchaseConflict

  constructor(message = 'a purchase with this id exists with another order', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * A service did not answer in time (the retailer's clearinghouse or registrar; the retailer itself, for a buyer): the
 * purchase's state is saved on both sides, and buying again under the same purchase id resumes it and can never
 * charge twice. `purchaseId` names it where the one who throws knows it.
 */
export class PurchasePendingError extends Error {
  static override name = 'PurchasePendingError'
  override name = PurchasePendingError.name
  readonly code = PURCHASE_CODES.purchasePending
  readonly purchaseId: string | undefined

  constructor(
    message = 'the purchase is not finished: retry the same purchase',
    options?: ErrorOptions & { purchaseId?: string },
  ) {
    super(message, options)
    this.purchaseId = options?.purchaseId
  }
}

/** Every refusal of `/purchase/1`, by wire code: how a stored or received code becomes its error again. */
const REFUSALS = [
  OrderInvalidError,
  OfferUnknownError,
  OfferRevokedError,
  OfferStaleError,
  NotCertifiedError,
  TerritoryRefusedError,
  PriceMismatchError,
  PaymentRefusedError,
  LicenceRefusedError,
  PurchaseConflictError,
  PurchasePendingError,
] as const
export type PurchaseRefusal = InstanceType<(typeof REFUSALS)[number]>
const REFUSAL_OF_CODE: ReadonlyMap<string, (typeof REFUSALS)[number]> = new Map(
  REFUSALS.map((type) => [new type().code, type]),
)
const REFUSAL_NAMES: ReadonlySet<string> = new Set(REFUSALS.map((type) => type.name))

/** The refusal a wire code names (one the protocol lists), with `message`; a code it does not list is a payment refusal. */
export function purchaseRefusal(code: string, message: string): PurchaseRefusal {
  const type = REFUSAL_OF_CODE.get(code) ?? PaymentRefusedError
  return new type(message)
}

/** Whether `err` is one of the purchase protocol's refusals, by name. */
export function isPurchaseRefusal(err: unknown): err is PurchaseRefusal {
  return isErrorNamed(err, REFUSAL_NAMES)
}
