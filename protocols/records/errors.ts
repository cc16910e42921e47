/**
 * One class per way a record can be refused. Every error names the field (a dotted path into the envelope,
 * e.g. `body.price.amount`) so that a publisher can see what to fix, and carries a stable `code` that gossip
 * validators and protocol replies map to their own results.
 */
export class RecordError extends Error {
  override name = 'RecordError'
  readonly code: string = 'ERR_RECORD'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** Not DAG-CBOR, not a map, or not the five envelope fields. */
export class MalformedRecordError extends RecordError {
  override name = 'MalformedRecordError'
  override readonly code = 'ERR_MALFORMED_RECORD'
}

/** Valid DAG-CBOR, but not in its one canonical form: a record has exactly one byte encoding and one id. */
export class NonCanonicalRecordError extends RecordError {
  override name = 'NonCanonicalRecordError'
  override readonly code = 'ERR_NON_CANONICAL_RECORD'
}

export class UnsupportedVersionError extends RecordError {
  override name = 'UnsupportedVersionError'
  override readonly code = 'ERR_UNSUPPORTED_VERSION'
}

export class UnknownRecordTypeError extends RecordError {
  override name = 'UnknownRecordTypeError'
  override readonly code = 'ERR_UNKNOWN_RECORD_TYPE'
}

/** The record is of another type than the caller asked for. */
export class UnexpectedRecordTypeError extends RecordError {
  override name = 'UnexpectedRecordTypeError'
  override readonly code = 'ERR_UNEXPECTED_RECORD_TYPE'
}

export class RecordTooLargeError extends RecordError {
  override name = 'RecordTooLargeError'
  override readonly code = 'ERR_RECORD_TOO_LARGE'
}

/** A body field is missing, extra, of the wrong type or size, or out of its range. */
export class RecordSchemaError extends RecordError {
  override name = 'RecordSchemaError'
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
  override name = 'BadSignatureError'
  override readonly code = 'ERR_BAD_SIGNATURE'
}

export class WrongNetworkError extends RecordError {
  override name = 'WrongNetworkError'
  override readonly code = 'ERR_WRONG_NETWORK'
}

export class FutureTimestampError extends RecordError {
  override name = 'FutureTimestampError'
  override readonly code = 'ERR_FUTURE_TIMESTAMP'
}
