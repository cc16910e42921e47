/**
 * Errors of the retailer: one class per condition a caller may handle, each with a stable `code`. Purchase
 * refusals use the codes of `protocols/purchase/` so that a buyer sees the protocol's vocabulary.
 */

/** An offer draft or change is malformed (names the field). */
export class OfferInputError extends Error {
  override name = 'OfferInputError'
  readonly code = 'ERR_BAD_REQUEST'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

export class OfferExistsError extends Error {
  override name = 'OfferExistsError'
  readonly code = 'ERR_OFFER_EXISTS'
}

export class OfferNotFoundError extends Error {
  override name = 'OfferNotFoundError'
  readonly code = 'ERR_NOT_FOUND'
}

/** The offer was withdrawn: it cannot be updated or sold again (create a new offer id). */
export class OfferWithdrawnError extends Error {
  override name = 'OfferWithdrawnError'
  readonly code = 'ERR_OFFER_WITHDRAWN'
}

/** The contract an offer names could not be found (by CID or contract id). */
export class ContractUnknownError extends Error {
  override name = 'ContractUnknownError'
  readonly code = 'ERR_CONTRACT_UNKNOWN'
}

/** This node holds no retailer certificate, so its offers cannot be published. */
export class RetailerNotCertifiedError extends Error {
  override name = 'RetailerNotCertifiedError'
  readonly code = 'ERR_NOT_CERTIFIED_RETAILER'
}

/** Too many offers or purchases at once. */
export class RetailerBusyError extends Error {
  override name = 'RetailerBusyError'
  readonly code = 'ERR_BUSY'
}

/** A purchase refused with one of the purchase protocol's codes (or another `ERR_` code). */
export class PurchaseError extends Error {
  override name = 'PurchaseError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}
