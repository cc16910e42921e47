/** The licence protocol's refusals (the offer outside the attested territory is `/purchase/1`'s `ERR_TERRITORY`). */
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
export { StoreVersionError } from '../common/errors.ts'

/**
 * Errors of the registration manager: one class per condition, matched by `name`. Each carries a stable `code`
 * (starting `ERR_`, so the RPC layer sends it to the caller as it is); its HTTP status, where the control API shows
 * it, is in `protocols/http-status.ts`. The refusals a peer acts on live in `protocols/licence/errors.ts`.
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

/** A signature on a request does not verify, or the request was signed by someone who may not ask. */
export class RequestUnauthorisedError extends RegistrationError {
  static override name = 'RequestUnauthorisedError'
  override name = RequestUnauthorisedError.name

  override readonly code = 'ERR_UNAUTHORISED'
}

/** A signed request is for another network, too old, or dated in the future. */
export class RequestStaleError extends RegistrationError {
  static override name = 'RequestStaleError'
  override name = RequestStaleError.name

  override readonly code = 'ERR_STALE_REQUEST'
}

/** The device key is already registered to another account. */
export class DeviceTakenError extends RegistrationError {
  static override name = 'DeviceTakenError'
  override name = DeviceTakenError.name

  override readonly code = 'ERR_DEVICE_TAKEN'
}

/** Too many certificate requests wait for an operator; new ones are refused until some are decided. */
export class TooManyPendingError extends RegistrationError {
  static override name = 'TooManyPendingError'
  override name = TooManyPendingError.name

  override readonly code = 'ERR_TOO_MANY_PENDING'
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

/** An escrow deposit is refused: not from a certified producer, not addressed here, or its key does not open. */
export class EscrowInvalidError extends RegistrationError {
  static override name = 'EscrowInvalidError'
  override name = EscrowInvalidError.name

  override readonly code = 'ERR_ESCROW_INVALID'
}

/** What an operator asked to revoke is not known here. */
export class RevocationTargetNotFoundError extends RegistrationError {
  static override name = 'RevocationTargetNotFoundError'
  override name = RevocationTargetNotFoundError.name

  override readonly code = 'ERR_NOT_FOUND'
}

/** A rotation does not continue its predecessor: another name or roles, an invalid or revoked old certificate. */
export class RotationInvalidError extends RegistrationError {
  static override name = 'RotationInvalidError'
  override name = RotationInvalidError.name

  override readonly code = 'ERR_ROTATION_INVALID'
}

/** The old certificate was already rotated to another key. */
export class RotationConflictError extends RegistrationError {
  static override name = 'RotationConflictError'
  override name = RotationConflictError.name

  override readonly code = 'ERR_ROTATION_CONFLICT'
}
