/**
 * Errors of the clearinghouse role, one class per condition. Each carries a stable `code` (`ERR_…`): the RPC
 * server sends it to the peer as is, the control API to the CLI. Match by `name` or `code`.
 */
import { CLEARING_CODES } from '../../protocols/clearing/index.ts'

abstract class ClearingError extends Error {
  abstract readonly code: string
}

/** The purchase order, its offer or its certification is invalid or they do not match. */
export class OrderInvalidError extends ClearingError {
  override name = 'OrderInvalidError'
  readonly code = CLEARING_CODES.orderInvalid
}

/** The wallet does not hold the price (available = posted credits − posted debits − pending debits). */
export class InsufficientFundsError extends ClearingError {
  override name = 'InsufficientFundsError'
  readonly code = CLEARING_CODES.insufficientFunds
}

export class AuthorisationUnknownError extends ClearingError {
  override name = 'AuthorisationUnknownError'
  readonly code = CLEARING_CODES.authorisationUnknown
}

export class AuthorisationExpiredError extends ClearingError {
  override name = 'AuthorisationExpiredError'
  readonly code = CLEARING_CODES.authorisationExpired
}

export class AlreadyVoidedError extends ClearingError {
  override name = 'AlreadyVoidedError'
  readonly code = CLEARING_CODES.alreadyVoided
}

export class AlreadyCapturedError extends ClearingError {
  override name = 'AlreadyCapturedError'
  readonly code = CLEARING_CODES.alreadyCaptured
}

/** The purchase was refunded (its licence was withdrawn after the capture). */
export class AlreadyRefundedError extends ClearingError {
  override name = 'AlreadyRefundedError'
  readonly code = CLEARING_CODES.alreadyRefunded
}

/** A refund without a registration manager's revocation of the purchase's receipt. */
export class WithdrawalInvalidError extends ClearingError {
  override name = 'WithdrawalInvalidError'
  readonly code = CLEARING_CODES.withdrawalInvalid
}

/** The receipt or licence presented for a capture is invalid or does not match the purchase. */
export class LicenceMismatchError extends ClearingError {
  override name = 'LicenceMismatchError'
  readonly code = CLEARING_CODES.licenceMismatch
}

/** A usage report is malformed, forged, not sealed to this clearinghouse or from an unregistered device. */
export class ReportInvalidError extends ClearingError {
  override name = 'ReportInvalidError'
  readonly code = CLEARING_CODES.reportInvalid
}

/** The payment gateway declined a top-up. */
export class PaymentDeclinedError extends ClearingError {
  override name = 'PaymentDeclinedError'
  readonly code = CLEARING_CODES.paymentDeclined
}

/** The contract a licence names cannot be found (not learnt from the topic, not fetchable by CID). */
export class ContractUnavailableError extends ClearingError {
  override name = 'ContractUnavailableError'
  readonly code = 'ERR_CONTRACT_UNAVAILABLE'
}

/** A pay-as-you-go contract has no per-unit wholesale price in the sale's currency: the sale cannot be split. */
export class ContractNotPricedError extends ClearingError {
  override name = 'ContractNotPricedError'
  readonly code = 'ERR_CONTRACT_NOT_PRICED'
}

/** An account request's signature does not verify, or it is for another network or clearinghouse. */
export class AccountRequestUnauthorisedError extends ClearingError {
  override name = 'AccountRequestUnauthorisedError'
  readonly code = 'ERR_UNAUTHORISED'
}

/** A request is well-formed but not acceptable as it stands (stale, a reused request id, a bad period…). */
export class BadClearingRequestError extends ClearingError {
  override name = 'BadClearingRequestError'
  readonly code = 'ERR_BAD_REQUEST'
}

/** The caller may not do this (a void from a peer that is neither the retailer nor the buyer). */
export class NotPermittedError extends ClearingError {
  override name = 'NotPermittedError'
  readonly code = 'ERR_UNAUTHORISED'
}

/** Too many reports are waiting: retry later. */
export class BusyError extends ClearingError {
  override name = 'BusyError'
  readonly code = 'ERR_BUSY'
}

/** No payment gateway is configured: top-ups are refused. */
export class NoGatewayError extends ClearingError {
  override name = 'NoGatewayError'
  readonly code = 'ERR_NO_GATEWAY'
}

/** The built-in test gateway was asked to run on a network that is not marked as a test network. */
export class TestGatewayRefusedError extends ClearingError {
  override name = 'TestGatewayRefusedError'
  readonly code = 'ERR_TEST_GATEWAY_REFUSED'
}

/** A role option is malformed (names the option). */
export class InvalidClearingInitError extends ClearingError {
  override name = 'InvalidClearingInitError'
  readonly code = 'ERR_INVALID_INIT'
}

/** A statement is larger than one answer can carry. */
export class StatementTooLargeError extends ClearingError {
  override name = 'StatementTooLargeError'
  readonly code = 'ERR_TOO_LARGE'
}

/** No such participant, held play or record. */
/** A DSR was asked of a participant that neither sells nor is paid for content (a wallet, a fee account). */
export class DsrNotApplicableError extends ClearingError {
  override name = 'DsrNotApplicableError'
  readonly code = 'ERR_DSR_NOT_APPLICABLE'
}

export class NotFoundError extends ClearingError {
  override name = 'NotFoundError'
  readonly code = 'ERR_NOT_FOUND'
}

/** A row of the role's state does not decode (names the key). */
export class StateCorruptError extends ClearingError {
  override name = 'StateCorruptError'
  readonly code = 'ERR_CLEARING_STATE_CORRUPT'
  readonly key: string
  constructor(key: string, reason: string) {
    super(`corrupt clearinghouse state at ${JSON.stringify(key)}: ${reason}`)
    this.key = key
  }
}

/**
 * A journalled ledger batch that cannot fail did fail (an invariant of the role broke), or a write failed. The role
 * stops taking work until it is restarted; the journal keeps the batch for the restart.
 */
export class ClearingFailedError extends ClearingError {
  override name = 'ClearingFailedError'
  readonly code = 'ERR_CLEARING_FAILED'
}

/** The role is stopped. */
export class ClearingStoppedError extends ClearingError {
  override name = 'ClearingStoppedError'
  readonly code = 'ERR_CLEARING_STOPPED'
}
