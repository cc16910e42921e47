/**
 * Errors of the retailer: one class per condition a caller may handle, each with a stable `code`. Purchase
 * refusals use the codes of `protocols/purchase/` so that a buyer sees the protocol's vocabulary.
 */

/** An offer draft or change is malformed (names the field). */
export class OfferInputError extends Error {
  static override name = 'OfferInputError'
  override name = OfferInputError.name

  readonly code = 'ERR_BAD_REQUEST'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

export class OfferExistsError extends Error {
  static override name = 'OfferExistsError'
  override name = OfferExistsError.name

  constructor(message = 'an offer with that id exists', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_OFFER_EXISTS'
}

/** The offer was withdrawn: it cannot be updated or sold again (create a new offer id). */
export class OfferWithdrawnError extends Error {
  static override name = 'OfferWithdrawnError'
  override name = OfferWithdrawnError.name

  constructor(
    message = 'the offer was withdrawn: it cannot be updated or sold again (create a new offer id)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_OFFER_WITHDRAWN'
}

/** The contract an offer names could not be found (by CID or contract id). */
export class ContractUnknownError extends Error {
  static override name = 'ContractUnknownError'
  override name = ContractUnknownError.name

  constructor(
    message = 'the contract an offer names could not be found (by CID or contract id)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_CONTRACT_UNKNOWN'
}

/** This node holds no retailer certificate, so its offers cannot be published. */
export class RetailerNotCertifiedError extends Error {
  static override name = 'RetailerNotCertifiedError'
  override name = RetailerNotCertifiedError.name

  constructor(
    message = 'this node holds no retailer certificate, so its offers cannot be published',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_NOT_CERTIFIED_RETAILER'
}

/** Too many offers or purchases at once. */
export class RetailerBusyError extends Error {
  static override name = 'RetailerBusyError'
  override name = RetailerBusyError.name

  constructor(message = 'too many offers or purchases at once', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_BUSY'
}
