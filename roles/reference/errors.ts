/** Errors of the reference service: one class per condition a caller may handle, each with a stable `code`. */

/** The service was asked to work before `start()` or after `stop()`. */
export class ReferenceNotRunningError extends Error {
  override name = 'ReferenceNotRunningError'
  readonly code = 'ERR_REFERENCE_NOT_RUNNING'
}

/** A control request named something malformed (a content id, a territory, a CID). */
export class ReferenceRequestError extends Error {
  override name = 'ReferenceRequestError'
  readonly code = 'ERR_BAD_REQUEST'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}
