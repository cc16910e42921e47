/** Errors of the reference service: one class per condition a caller may handle, each with a stable `code`. */

/** The service was asked to work before `start()` or after `stop()`. */
export class ReferenceNotRunningError extends Error {
  static override name = 'ReferenceNotRunningError'
  override name = ReferenceNotRunningError.name

  constructor(message = 'the service was asked to work before start() or after stop()', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_REFERENCE_NOT_RUNNING'
}

/** A control request named something malformed (a content id, a territory, a CID). */
export class ReferenceRequestError extends Error {
  static override name = 'ReferenceRequestError'
  override name = ReferenceRequestError.name

  readonly code = 'ERR_BAD_REQUEST'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}
