import { TerritoryRefusedError } from '../purchase/errors.ts'
import { WireErrors } from '../rpc/errors.ts'
import { LICENCE_CODES } from './index.ts'

/**
 * The refusals of `/licence/1` (and the device checks of `/register/1` that share its codes) that a caller acts on:
 * one class per condition, each with its wire code from `LICENCE_CODES` (the protocol's one list of codes). The
 * registration manager throws them; a caller that passes `LICENCE_ERRORS` to `rpcCall` gets them back by name.
 */

/** The receipt is unsigned by a certified retailer, or does not match the offer, certification or device. */
export class ReceiptInvalidError extends Error {
  static override name = 'ReceiptInvalidError'
  override name = ReceiptInvalidError.name
  readonly code = LICENCE_CODES.receiptInvalid

  constructor(message = 'the receipt is invalid', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The certification is not a listed reference service's, has expired, was revoked or is for another offer. */
export class CertificationInvalidError extends Error {
  static override name = 'CertificationInvalidError'
  override name = CertificationInvalidError.name
  readonly code = LICENCE_CODES.certificationInvalid

  constructor(message = 'the certification is invalid', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The contract is revoked, outside its window, superseded by a version that excludes the sale, or unknown. */
export class ContractNotInForceError extends Error {
  static override name = 'ContractNotInForceError'
  override name = ContractNotInForceError.name
  readonly code = LICENCE_CODES.contractNotInForce

  constructor(message = 'the contract is not in force', options?: ErrorOptions) {
    super(message, options)
  }
}

export class DeviceNotRegisteredError extends Error {
  static override name = 'DeviceNotRegisteredError'
  override name = DeviceNotRegisteredError.name
  readonly code = LICENCE_CODES.deviceNotRegistered

  constructor(message = 'the device is not registered', options?: ErrorOptions) {
    super(message, options)
  }
}

export class DeviceRevokedError extends Error {
  static override name = 'DeviceRevokedError'
  override name = DeviceRevokedError.name
  readonly code = LICENCE_CODES.deviceRevoked

  constructor(message = 'the device is revoked', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The account already has as many devices as the network (or the licence's `devices` rule) allows. */
export class DeviceLimitError extends Error {
  static override name = 'DeviceLimitError'
  override name = DeviceLimitError.name
  readonly code = LICENCE_CODES.deviceLimit

  constructor(message = 'the account has as many devices as it may', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A content key the licence needs was never deposited here. */
export class KeyNotEscrowedError extends Error {
  static override name = 'KeyNotEscrowedError'
  override name = KeyNotEscrowedError.name
  readonly code = LICENCE_CODES.keyNotEscrowed

  constructor(message = 'a content key the licence needs was never deposited', options?: ErrorOptions) {
    super(message, options)
  }
}

/** No valid `consort/payment` for the receipt: money before keys. */
export class PaymentUnprovenError extends Error {
  static override name = 'PaymentUnprovenError'
  override name = PaymentUnprovenError.name
  readonly code = LICENCE_CODES.paymentUnproven

  constructor(message = 'no payment proves the receipt', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A reissue without a fresh consumption statement from the clearinghouse that captured the payment. */
export class ConsumptionRequiredError extends Error {
  static override name = 'ConsumptionRequiredError'
  override name = ConsumptionRequiredError.name
  readonly code = LICENCE_CODES.consumptionRequired

  constructor(message = 'a reissue needs a fresh consumption statement', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A peer other than the purchase's retailer asked to withdraw its licence. */
export class NotPurchaseRetailerError extends Error {
  static override name = 'NotPurchaseRetailerError'
  override name = NotPurchaseRetailerError.name
  readonly code = LICENCE_CODES.notPurchaseRetailer

  constructor(message = "only the purchase's retailer may withdraw its licence", options?: ErrorOptions) {
    super(message, options)
  }
}

/** The purchase's licence was revoked (its receipt withdrawn): it is neither returned again nor reissued, nor played. */
export class LicenceRevokedError extends Error {
  static override name = 'LicenceRevokedError'
  override name = LicenceRevokedError.name
  readonly code = 'ERR_LICENCE_REVOKED'

  constructor(message = 'the licence is revoked', options?: ErrorOptions) {
    super(message, options)
  }
}

/** `/licence/1`'s refusals by wire code, for `rpcCall`'s `errors` option (with `ERR_TERRITORY`, shared with `/purchase/1`). */
/** A transfer asked by an account that does not hold the purchase (it never did, or gave it away; decision 0606). */
export class NotHolderError extends Error {
  static override name = 'NotHolderError'
  override name = NotHolderError.name
  readonly code = LICENCE_CODES.notHolder

  constructor(message = 'the purchase is not held by this account', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The purchase's usage rules do not allow transfer (or it can no longer be given as a gift; decision 0606). */
export class TransferNotAllowedError extends Error {
  static override name = 'TransferNotAllowedError'
  override name = TransferNotAllowedError.name
  readonly code = LICENCE_CODES.transferNotAllowed

  constructor(message = 'the licence may not be transferred', options?: ErrorOptions) {
    super(message, options)
  }
}

export const LICENCE_ERRORS = new WireErrors([
  ReceiptInvalidError,
  CertificationInvalidError,
  ContractNotInForceError,
  DeviceNotRegisteredError,
  DeviceRevokedError,
  DeviceLimitError,
  KeyNotEscrowedError,
  PaymentUnprovenError,
  ConsumptionRequiredError,
  NotPurchaseRetailerError,
  LicenceRevokedError,
  TerritoryRefusedError,
  NotHolderError,
  TransferNotAllowedError,
])
