/**
 * Errors of the reference service: one class per condition a caller may handle, each with a stable `code`.
 * `/reference/1`'s own refusal lives beside the protocol's codes (`protocols/reference/errors.ts`).
 */
export { ReferenceNotRunningError } from '../../protocols/reference/errors.ts'

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
