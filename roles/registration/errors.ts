import { LICENCE_CODES } from '../../protocols/licence/index.ts'

/** The offer is not sold in the territory the device's registration attests (the licence protocol's `ERR_TERRITORY`). */
export { TerritoryRefusedError } from '../../protocols/purchase/errors.ts'

/**
 * Errors of the registration manager: one class per condition. Each carries a stable `code` (starting `ERR_`, so
 * the RPC layer sends it to the caller as it is); its HTTP status, where the control API shows it, is in
 * `protocols/http-status.ts`.
 */
export class RegistrationError extends Error {
  static override name = 'RegistrationError'
  override name = RegistrationError.name

  constructor(message = 'the registration manager refused', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code: string = 'ERR_REGISTRATION'
}

/** The receipt is unsigned by a certified retailer, or does not match the offer, certification or device. */
export class ReceiptInvalidError extends RegistrationError {
  static override name = 'ReceiptInvalidError'
  override name = ReceiptInvalidError.name

  override readonly code = LICENCE_CODES.receiptInvalid
}

/** The certification is not a listed reference service's, has expired, was revoked or is for another offer. */
export class CertificationInvalidError extends RegistrationError {
  static override name = 'CertificationInvalidError'
  override name = CertificationInvalidError.name

  override readonly code = LICENCE_CODES.certificationInvalid
}

/** The contract is revoked, outside its window, superseded by a version that excludes the sale, or unknown. */
export class ContractNotInForceError extends RegistrationError {
  static override name = 'ContractNotInForceError'
  override name = ContractNotInForceError.name

  override readonly code = LICENCE_CODES.contractNotInForce
}

export class DeviceNotRegisteredError extends RegistrationError {
  static override name = 'DeviceNotRegisteredError'
  override name = DeviceNotRegisteredError.name

  override readonly code = LICENCE_CODES.deviceNotRegistered
}

export class DeviceRevokedError extends RegistrationError {
  static override name = 'DeviceRevokedError'
  override name = DeviceRevokedError.name

  override readonly code = LICENCE_CODES.deviceRevoked
}

/** The account already has as many devices as the network (or the licence's `devices` rule) allows. */
export class DeviceLimitError extends RegistrationError {
  static override name = 'DeviceLimitError'
  override name = DeviceLimitError.name

  override readonly code = LICENCE_CODES.deviceLimit
}

/** A content key the licence needs was never deposited here. */
export class KeyNotEscrowedError extends RegistrationError {
  static override name = 'KeyNotEscrowedError'
  override name = KeyNotEscrowedError.name

  override readonly code = LICENCE_CODES.keyNotEscrowed
}

/** The purchase's licence was revoked: it is neither returned again nor reissued. */
/** No valid `consort/payment` for the receipt: money before keys. */
export class PaymentUnprovenError extends RegistrationError {
  static override name = 'PaymentUnprovenError'
  override name = PaymentUnprovenError.name

  override readonly code = LICENCE_CODES.paymentUnproven
}

/** A reissue without a fresh consumption statement from the clearinghouse that captured the payment. */
export class ConsumptionRequiredError extends RegistrationError {
  static override name = 'ConsumptionRequiredError'
  override name = ConsumptionRequiredError.name

  override readonly code = LICENCE_CODES.consumptionRequired
}

export class LicenceRevokedError extends RegistrationError {
  static override name = 'LicenceRevokedError'
  override name = LicenceRevokedError.name

  override readonly code = 'ERR_LICENCE_REVOKED'
}

/** A peer other than the purchase's retailer asked to withdraw its licence. */
export class NotPurchaseRetailerError extends RegistrationError {
  static override name = 'NotPurchaseRetailerError'
  override name = NotPurchaseRetailerError.name

  override readonly code = LICENCE_CODES.notPurchaseRetailer
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

/** A control-API request body or parameter is malformed; the message names the field. */
export class InvalidControlRequestError extends RegistrationError {
  static override name = 'InvalidControlRequestError'
  override name = InvalidControlRequestError.name

  override readonly code = 'ERR_BAD_REQUEST'
}

/** The sublevel was written by an incompatible version of this role. */
export class StoreVersionError extends RegistrationError {
  static override name = 'StoreVersionError'
  override name = StoreVersionError.name

  override readonly code = 'ERR_STORE_VERSION'
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
