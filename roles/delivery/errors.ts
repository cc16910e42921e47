/** Errors of the delivery role: one class per condition a caller may handle (the control API shows `code`). */

/** The CID names neither a manifest nor a release, so there is nothing to carry. */
export class NotSeedableError extends Error {
  static override name = 'NotSeedableError'
  override name = NotSeedableError.name

  constructor(
    message = 'the CID names neither a manifest nor a release, so there is nothing to carry',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  static readonly code = 'ERR_DELIVERY_NOT_SEEDABLE'
  readonly code = NotSeedableError.code
}

/** No seed or fetch job with that id. */
export class UnknownJobError extends Error {
  static override name = 'UnknownJobError'
  override name = UnknownJobError.name

  constructor(message = 'no seed or fetch job with that id', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_DELIVERY_UNKNOWN_JOB'
  readonly code = UnknownJobError.code
  /** The control API answers 404. */
}

/** Too many fetches are running already. */
export class TooManyFetchesError extends Error {
  static override name = 'TooManyFetchesError'
  override name = TooManyFetchesError.name

  constructor(message = 'too many fetches are running already', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_DELIVERY_TOO_MANY_FETCHES'
  readonly code = TooManyFetchesError.code
  /** The control API answers 429. */
}

/** A request to the role is malformed (names the field). */
export class InvalidDeliveryRequestError extends Error {
  static override name = 'InvalidDeliveryRequestError'
  override name = InvalidDeliveryRequestError.name

  static readonly code = 'ERR_BAD_REQUEST'
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
  static override name = 'DeliveryNotStartedError'
  override name = DeliveryNotStartedError.name

  constructor(message = 'the role is not started', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_DELIVERY_NOT_STARTED'
  readonly code = DeliveryNotStartedError.code
}
