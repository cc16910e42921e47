/**
 * Errors of the clearinghouse role, one class per condition, matched by `name`. Each carries a stable `code`
 * (`ERR_…`) that the RPC server sends to the peer and the control API to the CLI; the refusals a peer acts on
 * (`/clearing/1`'s) live in `protocols/clearing/errors.ts` and are re-exported here.
 */
export {
  AlreadyCapturedError,
  AlreadyRefundedError,
  AlreadyVoidedError,
  AuthorisationExpiredError,
  AuthorisationUnknownError,
  DeliveryInvalidError,
  InsufficientFundsError,
  LicenceMismatchError,
  PaymentDeclinedError,
  ReportInvalidError,
  WithdrawalInvalidError,
} from '../../protocols/clearing/errors.ts'
export { OrderInvalidError } from '../../protocols/purchase/errors.ts'

abstract class ClearingError extends Error {
  static override name = 'ClearingError'
  override name = ClearingError.name

  abstract readonly code: string
}

/** The contract a licence names cannot be found (not learnt from the topic, not fetchable by CID). */
export class ContractUnavailableError extends ClearingError {
  static override name = 'ContractUnavailableError'
  override name = ContractUnavailableError.name

  readonly code = 'ERR_CONTRACT_UNAVAILABLE'
}

/** A pay-as-you-go contract has no per-unit wholesale price in the sale's currency: the sale cannot be split. */
export class ContractNotPricedError extends ClearingError {
  static override name = 'ContractNotPricedError'
  override name = ContractNotPricedError.name

  readonly code = 'ERR_CONTRACT_NOT_PRICED'
}

/** An account request's signature does not verify, or it is for another network or clearinghouse. */
export class AccountRequestUnauthorisedError extends ClearingError {
  static override name = 'AccountRequestUnauthorisedError'
  override name = AccountRequestUnauthorisedError.name

  readonly code = 'ERR_UNAUTHORISED'
}

/** The caller may not do this (a void from a peer that is neither the retailer nor the buyer). */
export class NotPermittedError extends ClearingError {
  static override name = 'NotPermittedError'
  override name = NotPermittedError.name

  readonly code = 'ERR_UNAUTHORISED'
}

/** Too many reports are waiting: retry later. */
export class BusyError extends ClearingError {
  static override name = 'BusyError'
  override name = BusyError.name

  readonly code = 'ERR_BUSY'
}

/** No payment gateway is configured: top-ups are refused. */
export class NoGatewayError extends ClearingError {
  static override name = 'NoGatewayError'
  override name = NoGatewayError.name

  readonly code = 'ERR_NO_GATEWAY'
}

/** The built-in test gateway was asked to run on a network that is not marked as a test network. */
export class TestGatewayRefusedError extends ClearingError {
  static override name = 'TestGatewayRefusedError'
  override name = TestGatewayRefusedError.name

  readonly code = 'ERR_TEST_GATEWAY_REFUSED'
}

/** A role option is malformed (names the option). */
export class InvalidClearingInitError extends ClearingError {
  static override name = 'InvalidClearingInitError'
  override name = InvalidClearingInitError.name

  readonly code = 'ERR_INVALID_INIT'
}

/** A statement is larger than one answer can carry. */
export class StatementTooLargeError extends ClearingError {
  static override name = 'StatementTooLargeError'
  override name = StatementTooLargeError.name

  readonly code = 'ERR_TOO_LARGE'
}

/** A DSR was asked of a participant that neither sells nor is paid for content (a wallet, a fee account). */
export class DsrNotApplicableError extends ClearingError {
  static override name = 'DsrNotApplicableError'
  override name = DsrNotApplicableError.name

  readonly code = 'ERR_DSR_NOT_APPLICABLE'
}

/** A row of the role's state does not decode (names the key). */
export class StateCorruptError extends ClearingError {
  static override name = 'StateCorruptError'
  override name = StateCorruptError.name

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
  static override name = 'ClearingFailedError'
  override name = ClearingFailedError.name

  readonly code = 'ERR_CLEARING_FAILED'
}

/** The role is stopped. */
export class ClearingStoppedError extends ClearingError {
  static override name = 'ClearingStoppedError'
  override name = ClearingStoppedError.name

  readonly code = 'ERR_CLEARING_STOPPED'
}
