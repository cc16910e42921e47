/** The licence protocol's refusals (the offer outside the attested territory is `/purchase/1`'s `ERR_TERRITORY`). */

export { EscrowInvalidError } from '../../protocols/escrow/errors.ts'
export {
  CertificationInvalidError,
  ConsumptionRequiredError,
  ContractNotInForceError,
  DeviceLimitError,
  DeviceNotRegisteredError,
  DeviceRevokedError,
  KeyNotEscrowedError,
  LicenceRevokedError,
  NotHolderError,
  NotPurchaseRetailerError,
  PaymentUnprovenError,
  ReceiptInvalidError,
  TransferNotAllowedError,
} from '../../protocols/licence/errors.ts'
export { TerritoryRefusedError } from '../../protocols/purchase/errors.ts'
/** `/register/1`'s and `/escrow/1`'s refusals (the signature and freshness checks also refuse on `/licence/1`). */
export {
  DeviceTakenError,
  RequestStaleError,
  RequestUnauthorisedError,
  RotationConflictError,
  RotationInvalidError,
  TooManyPendingError,
} from '../../protocols/register/errors.ts'
export { StoreVersionError } from '../common/errors.ts'

/**
 * Errors of the registration manager: one class per condition, matched by `name`. Each carries a stable `code`
 * (starting `ERR_`, so the RPC layer sends it to the caller as it is); its HTTP status, where the control API shows
 * it, is in `protocols/http-status.ts`. The refusals a peer acts on live beside their protocol's codes
 * (`protocols/licence/errors.ts`, `protocols/register/errors.ts`, `protocols/escrow/errors.ts`); the ones here
 * answer the operator's control API or say that no such purchase or request is known.
 */
export class RegistrationError extends Error {
  static override name = 'RegistrationError'
  override name = RegistrationError.name

  constructor(message = 'the registration manager refused', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code: string = 'ERR_REGISTRATION'
}

/** No licence was issued for this purchase id here. */
export class PurchaseNotFoundError extends RegistrationError {
  static override name = 'PurchaseNotFoundError'
  override name = PurchaseNotFoundError.name

  override readonly code = 'ERR_NOT_FOUND'
}

export class RequestNotFoundError extends RegistrationError {
  static override name = 'RequestNotFoundError'
  override name = RequestNotFoundError.name

  override readonly code = 'ERR_NOT_FOUND'
}

/** An operator decision on a request that was already decided. */
export class RequestNotPendingError extends RegistrationError {
  static override name = 'RequestNotPendingError'
  override name = RequestNotPendingError.name

  override readonly code = 'ERR_NOT_PENDING'
}

/** What an operator asked to revoke is not known here. */
export class RevocationTargetNotFoundError extends RegistrationError {
  static override name = 'RevocationTargetNotFoundError'
  override name = RevocationTargetNotFoundError.name

  override readonly code = 'ERR_NOT_FOUND'
}
