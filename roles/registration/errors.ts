import { LICENCE_CODES } from '../../protocols/licence/index.ts'

/**
 * Errors of the registration manager: one class per condition. Each carries a stable `code` (starting `ERR_`, so
 * the RPC layer sends it to the caller as it is); its HTTP status, where the control API shows it, is in
 * `protocols/http-status.ts`.
 */
export class RegistrationError extends Error {
  override name = 'RegistrationError'
  readonly code: string = 'ERR_REGISTRATION'
}

/** The receipt is unsigned by a certified retailer, or does not match the offer, certification or device. */
export class ReceiptInvalidError extends RegistrationError {
  override name = 'ReceiptInvalidError'
  override readonly code = LICENCE_CODES.receiptInvalid
}

/** The certification is not a listed reference service's, has expired, was revoked or is for another offer. */
export class CertificationInvalidError extends RegistrationError {
  override name = 'CertificationInvalidError'
  override readonly code = LICENCE_CODES.certificationInvalid
}

/** The contract is revoked, outside its window, superseded by a version that excludes the sale, or unknown. */
export class ContractNotInForceError extends RegistrationError {
  override name = 'ContractNotInForceError'
  override readonly code = LICENCE_CODES.contractNotInForce
}

export class DeviceNotRegisteredError extends RegistrationError {
  override name = 'DeviceNotRegisteredError'
  override readonly code = LICENCE_CODES.deviceNotRegistered
}

export class DeviceRevokedError extends RegistrationError {
  override name = 'DeviceRevokedError'
  override readonly code = LICENCE_CODES.deviceRevoked
}

/** The account already has as many devices as the network (or the licence's `devices` rule) allows. */
export class DeviceLimitError extends RegistrationError {
  override name = 'DeviceLimitError'
  override readonly code = LICENCE_CODES.deviceLimit
}

/** A content key the licence needs was never deposited here. */
export class KeyNotEscrowedError extends RegistrationError {
  override name = 'KeyNotEscrowedError'
  override readonly code = LICENCE_CODES.keyNotEscrowed
}

/** The purchase's licence was revoked: it is neither returned again nor reissued. */
/** No valid `consort/payment` for the receipt: money before keys. */
export class PaymentUnprovenError extends RegistrationError {
  override name = 'PaymentUnprovenError'
  override readonly code = LICENCE_CODES.paymentUnproven
}

/** A reissue without a fresh consumption statement from the clearinghouse that captured the payment. */
export class ConsumptionRequiredError extends RegistrationError {
  override name = 'ConsumptionRequiredError'
  override readonly code = LICENCE_CODES.consumptionRequired
}

/** The offer is not sold in the territory the device's registration attests. */
export class TerritoryRefusedError extends RegistrationError {
  override name = 'TerritoryRefusedError'
  override readonly code = LICENCE_CODES.territory
}

export class LicenceRevokedError extends RegistrationError {
  override name = 'LicenceRevokedError'
  override readonly code = 'ERR_LICENCE_REVOKED'
}

/** A peer other than the purchase's retailer asked to withdraw its licence. */
export class NotPurchaseRetailerError extends RegistrationError {
  override name = 'NotPurchaseRetailerError'
  override readonly code = LICENCE_CODES.notPurchaseRetailer
}

/** No licence was issued for this purchase id here. */
export class PurchaseNotFoundError extends RegistrationError {
  override name = 'PurchaseNotFoundError'
  override readonly code = 'ERR_NOT_FOUND'
}

/** A signature on a request does not verify, or the request was signed by someone who may not ask. */
export class RequestUnauthorisedError extends RegistrationError {
  override name = 'RequestUnauthorisedError'
  override readonly code = 'ERR_UNAUTHORISED'
}

/** A signed request is for another network, too old, or dated in the future. */
export class RequestStaleError extends RegistrationError {
  override name = 'RequestStaleError'
  override readonly code = 'ERR_STALE_REQUEST'
}

/** The device key is already registered to another account. */
export class DeviceTakenError extends RegistrationError {
  override name = 'DeviceTakenError'
  override readonly code = 'ERR_DEVICE_TAKEN'
}

/** Too many certificate requests wait for an operator; new ones are refused until some are decided. */
export class TooManyPendingError extends RegistrationError {
  override name = 'TooManyPendingError'
  override readonly code = 'ERR_TOO_MANY_PENDING'
}

export class RequestNotFoundError extends RegistrationError {
  override name = 'RequestNotFoundError'
  override readonly code = 'ERR_NOT_FOUND'
}

/** An operator decision on a request that was already decided. */
export class RequestNotPendingError extends RegistrationError {
  override name = 'RequestNotPendingError'
  override readonly code = 'ERR_NOT_PENDING'
}

/** An escrow deposit is refused: not from a certified producer, not addressed here, or its key does not open. */
export class EscrowInvalidError extends RegistrationError {
  override name = 'EscrowInvalidError'
  override readonly code = 'ERR_ESCROW_INVALID'
}

/** What an operator asked to revoke is not known here. */
export class RevocationTargetNotFoundError extends RegistrationError {
  override name = 'RevocationTargetNotFoundError'
  override readonly code = 'ERR_NOT_FOUND'
}

/** A control-API request body or parameter is malformed; the message names the field. */
export class InvalidControlRequestError extends RegistrationError {
  override name = 'InvalidControlRequestError'
  override readonly code = 'ERR_BAD_REQUEST'
}

/** The sublevel was written by an incompatible version of this role. */
export class StoreVersionError extends RegistrationError {
  override name = 'StoreVersionError'
  override readonly code = 'ERR_STORE_VERSION'
}

/** A rotation does not continue its predecessor: another name or roles, an invalid or revoked old certificate. */
export class RotationInvalidError extends RegistrationError {
  override name = 'RotationInvalidError'
  override readonly code = 'ERR_ROTATION_INVALID'
}

/** The old certificate was already rotated to another key. */
export class RotationConflictError extends RegistrationError {
  override name = 'RotationConflictError'
  override readonly code = 'ERR_ROTATION_CONFLICT'
}
