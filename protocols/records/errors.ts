import { isErrorNamed } from '../errors.ts'

/**
 * One class per way a record can be refused. Every error names the field (a dotted path into the envelope,
 * e.g. `body.price.amount`) so that a publisher can see what to fix, and carries a stable `code` that gossip
 * validators and protocol replies map to their own results.
 */
export class RecordError extends Error {
  static override name = 'RecordError'
  override name = RecordError.name

  readonly code: string = 'ERR_RECORD'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** Not DAG-CBOR, not a map, or not the five envelope fields. */
export class MalformedRecordError extends RecordError {
  static override name = 'MalformedRecordError'
  override name = MalformedRecordError.name

  override readonly code = 'ERR_MALFORMED_RECORD'
}

/** Valid DAG-CBOR, but not in its one canonical form: a record has exactly one byte encoding and one id. */
export class NonCanonicalRecordError extends RecordError {
  static override name = 'NonCanonicalRecordError'
  override name = NonCanonicalRecordError.name

  override readonly code = 'ERR_NON_CANONICAL_RECORD'
}

export class UnsupportedVersionError extends RecordError {
  static override name = 'UnsupportedVersionError'
  override name = UnsupportedVersionError.name

  override readonly code = 'ERR_UNSUPPORTED_VERSION'
}

export class UnknownRecordTypeError extends RecordError {
  static override name = 'UnknownRecordTypeError'
  override name = UnknownRecordTypeError.name

  override readonly code = 'ERR_UNKNOWN_RECORD_TYPE'
}

/** The record is of another type than the caller asked for. */
export class UnexpectedRecordTypeError extends RecordError {
  static override name = 'UnexpectedRecordTypeError'
  override name = UnexpectedRecordTypeError.name

  override readonly code = 'ERR_UNEXPECTED_RECORD_TYPE'
}

export class RecordTooLargeError extends RecordError {
  static override name = 'RecordTooLargeError'
  override name = RecordTooLargeError.name

  override readonly code = 'ERR_RECORD_TOO_LARGE'
}

/** A body field is missing, extra, of the wrong type or size, or out of its range. */
export class RecordSchemaError extends RecordError {
  static override name = 'RecordSchemaError'
  override name = RecordSchemaError.name

  override readonly code = 'ERR_RECORD_SCHEMA'
  readonly issues: ReadonlyArray<{ field: string; message: string }>

  constructor(issues: ReadonlyArray<{ field: string; message: string }>) {
    const first = issues[0] ?? { field: 'body', message: 'invalid' }
    super(first.field, issues.map((i) => `${i.field}: ${i.message}`).join('; '))
    this.message = issues.map((i) => `${i.field}: ${i.message}`).join('; ')
    this.issues = issues
  }
}

export class BadSignatureError extends RecordError {
  static override name = 'BadSignatureError'
  override name = BadSignatureError.name

  override readonly code = 'ERR_BAD_SIGNATURE'
}

export class WrongNetworkError extends RecordError {
  static override name = 'WrongNetworkError'
  override name = WrongNetworkError.name

  override readonly code = 'ERR_WRONG_NETWORK'
}

export class FutureTimestampError extends RecordError {
  static override name = 'FutureTimestampError'
  override name = FutureTimestampError.name

  override readonly code = 'ERR_FUTURE_TIMESTAMP'
}

/** The names of every record refusal: a caller that handles them all matches the family by name. */
const RECORD_ERROR_NAMES: ReadonlySet<string> = new Set(
  [
    RecordError,
    MalformedRecordError,
    NonCanonicalRecordError,
    UnsupportedVersionError,
    UnknownRecordTypeError,
    UnexpectedRecordTypeError,
    RecordTooLargeError,
    RecordSchemaError,
    BadSignatureError,
    WrongNetworkError,
    FutureTimestampError,
  ].map((type) => type.name),
)

/** Whether `err` is a record refusal of any kind (a `RecordError` or one of its conditions), by name. */
export function isRecordError(err: unknown): err is RecordError {
  return isErrorNamed(err, RECORD_ERROR_NAMES)
}
