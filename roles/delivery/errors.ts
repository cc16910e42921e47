/** Errors of the delivery role: one class per condition a caller may handle (the control API shows `code`). */

/** The CID names neither a manifest nor a release, so there is nothing to carry. */
export class NotSeedableError extends Error {
  static readonly code = 'ERR_DELIVERY_NOT_SEEDABLE'
  override readonly name = 'NotSeedableError'
  readonly code = NotSeedableError.code
}

/** No seed or fetch job with that id. */
export class UnknownJobError extends Error {
  static readonly code = 'ERR_DELIVERY_UNKNOWN_JOB'
  override readonly name = 'UnknownJobError'
  readonly code = UnknownJobError.code
  /** The control API answers 404. */
}

/** Too many fetches are running already. */
export class TooManyFetchesError extends Error {
  static readonly code = 'ERR_DELIVERY_TOO_MANY_FETCHES'
  override readonly name = 'TooManyFetchesError'
  readonly code = TooManyFetchesError.code
  /** The control API answers 429. */
}

/** A request to the role is malformed (names the field). */
export class InvalidDeliveryRequestError extends Error {
  static readonly code = 'ERR_BAD_REQUEST'
  override readonly name = 'InvalidDeliveryRequestError'
  readonly code = InvalidDeliveryRequestError.code
  /** The control API answers 400. */
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** The role is not started. */
export class DeliveryNotStartedError extends Error {
  static readonly code = 'ERR_DELIVERY_NOT_STARTED'
  override readonly name = 'DeliveryNotStartedError'
  readonly code = DeliveryNotStartedError.code
}
