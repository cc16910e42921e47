import { WireErrors } from '../rpc/errors.ts'
import { CLEARING_CODES } from './index.ts'

/**
 * The refusals of `/clearing/1` that a caller acts on: one class per condition, each with its wire code from
 * `CLEARING_CODES` (the protocol's one list of codes). The clearinghouse throws them; a caller that passes
 * `CLEARING_ERRORS` to `rpcCall` gets them back, matched by name, from the code on the wire.
 */

/** The wallet does not hold the price (available = posted credits − posted debits − pending debits). */
export class InsufficientFundsError extends Error {
  static override name = 'InsufficientFundsError'
  override name = InsufficientFundsError.name
  readonly code = CLEARING_CODES.insufficientFunds

  constructor(message = 'the wallet does not hold the price', options?: ErrorOptions) {
    super(message, options)
  }
}

export class AuthorisationUnknownError extends Error {
  static override name = 'AuthorisationUnknownError'
  override name = AuthorisationUnknownError.name
  readonly code = CLEARING_CODES.authorisationUnknown

  constructor(message = 'no authorisation is held for this purchase', options?: ErrorOptions) {
    super(message, options)
  }
}

export class AuthorisationExpiredError extends Error {
  static override name = 'AuthorisationExpiredError'
  override name = AuthorisationExpiredError.name
  readonly code = CLEARING_CODES.authorisationExpired

  constructor(message = 'the authorisation expired', options?: ErrorOptions) {
    super(message, options)
  }
}

export class AlreadyVoidedError extends Error {
  static override name = 'AlreadyVoidedError'
  override name = AlreadyVoidedError.name
  readonly code = CLEARING_CODES.alreadyVoided

  constructor(message = 'the purchase was voided', options?: ErrorOptions) {
    super(message, options)
  }
}

export class AlreadyCapturedError extends Error {
  static override name = 'AlreadyCapturedError'
  override name = AlreadyCapturedError.name
  readonly code = CLEARING_CODES.alreadyCaptured

  constructor(message = 'the purchase was captured', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The purchase was refunded (its licence was withdrawn after the capture). */
export class AlreadyRefundedError extends Error {
  static override name = 'AlreadyRefundedError'
  override name = AlreadyRefundedError.name
  readonly code = CLEARING_CODES.alreadyRefunded

  constructor(message = 'the purchase was refunded', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A refund without a registration manager's revocation of the purchase's receipt. */
export class WithdrawalInvalidError extends Error {
  static override name = 'WithdrawalInvalidError'
  override name = WithdrawalInvalidError.name
  readonly code = CLEARING_CODES.withdrawalInvalid

  constructor(message = "no registration manager's revocation of the purchase's receipt", options?: ErrorOptions) {
    super(message, options)
  }
}

/** The receipt or licence presented for a capture is invalid or does not match the purchase. */
export class LicenceMismatchError extends Error {
  static override name = 'LicenceMismatchError'
  override name = LicenceMismatchError.name
  readonly code = CLEARING_CODES.licenceMismatch

  constructor(message = 'the receipt or licence does not match the purchase', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A usage report is malformed, forged, not sealed to this clearinghouse or from an unregistered device. */
export class ReportInvalidError extends Error {
  static override name = 'ReportInvalidError'
  override name = ReportInvalidError.name
  readonly code = CLEARING_CODES.reportInvalid

  constructor(message = 'the usage report is invalid', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The payment gateway declined a top-up. */
export class PaymentDeclinedError extends Error {
  static override name = 'PaymentDeclinedError'
  override name = PaymentDeclinedError.name
  readonly code = CLEARING_CODES.paymentDeclined

  constructor(message = 'the payment gateway declined the top-up', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * A delivery receipt, or what it is checked against, does not hold (names what): nothing of it is paid; sending it
 * again will not change that (decision 0511).
 */
export class DeliveryInvalidError extends Error {
  static override name = 'DeliveryInvalidError'
  override name = DeliveryInvalidError.name
  readonly code = CLEARING_CODES.deliveryInvalid

  constructor(message = 'the delivery receipt does not hold', options?: ErrorOptions) {
    super(message, options)
  }
}

/** `/clearing/1`'s refusals by wire code, for `rpcCall`'s `errors` option. */
export const CLEARING_ERRORS = new WireErrors([
  InsufficientFundsError,
  AuthorisationUnknownError,
  AuthorisationExpiredError,
  AlreadyVoidedError,
  AlreadyCapturedError,
  AlreadyRefundedError,
  WithdrawalInvalidError,
  LicenceMismatchError,
  ReportInvalidError,
  PaymentDeclinedError,
  DeliveryInvalidError,
])
