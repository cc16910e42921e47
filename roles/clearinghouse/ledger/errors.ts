/**
 * Errors of the ledger. A caller's bug (malformed input) throws one of these, naming the field and the value;
 * conditions that depend on the ledger's state (unknown account, insufficient funds, …) are per-item result
 * codes instead (see `types.ts`). Match errors by `name` or `code`.
 */

/** Quote a value for an error message without flooding it. */
function show(value: unknown): string {
  let text: string
  if (typeof value === 'bigint') text = `${value}n`
  else if (typeof value === 'string') text = JSON.stringify(value)
  else if (value === undefined) text = 'undefined'
  else {
    try {
      text = JSON.stringify(value) ?? String(value)
    } catch {
      text = String(value)
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** A field of an input is of the wrong type, too long, or missing. */
export class InvalidFieldError extends Error {
  static override name = 'InvalidFieldError'
  override name = InvalidFieldError.name

  static readonly code = 'ERR_LEDGER_INVALID_FIELD'
  readonly code = InvalidFieldError.code
  readonly field: string
  constructor(field: string, value: unknown, reason: string) {
    super(`${field} ${reason} (got ${show(value)})`)
    this.field = field
  }
}

/** An account or transfer id is not 1–128 printable ASCII characters without `/`. */
export class InvalidIdError extends Error {
  static override name = 'InvalidIdError'
  override name = InvalidIdError.name

  static readonly code = 'ERR_LEDGER_INVALID_ID'
  readonly code = InvalidIdError.code
  readonly field: string
  constructor(field: string, value: unknown, reason: string) {
    super(`${field} ${reason} (got ${show(value)})`)
    this.field = field
  }
}

/** An amount is not a bigint in its allowed range. */
export class InvalidLedgerAmountError extends Error {
  static override name = 'InvalidLedgerAmountError'
  override name = InvalidLedgerAmountError.name

  static readonly code = 'ERR_LEDGER_INVALID_AMOUNT'
  readonly code = InvalidLedgerAmountError.code
  readonly field: string
  constructor(field: string, value: unknown, reason: string) {
    super(`${field} ${reason} (got ${show(value)})`)
    this.field = field
  }
}

/** A currency is not an ISO 4217 code. */
export class InvalidLedgerCurrencyError extends Error {
  static override name = 'InvalidLedgerCurrencyError'
  override name = InvalidLedgerCurrencyError.name

  static readonly code = 'ERR_LEDGER_INVALID_CURRENCY'
  readonly code = InvalidLedgerCurrencyError.code
  readonly field: string
  constructor(field: string, value: unknown) {
    super(`${field} must be an ISO 4217 currency code (got ${show(value)})`)
    this.field = field
  }
}

/** An account kind is not one of `ACCOUNT_KINDS`. */
export class InvalidAccountKindError extends Error {
  static override name = 'InvalidAccountKindError'
  override name = InvalidAccountKindError.name

  static readonly code = 'ERR_LEDGER_INVALID_ACCOUNT_KIND'
  readonly code = InvalidAccountKindError.code
  readonly field: string
  constructor(field: string, value: unknown, allowed: readonly string[]) {
    super(`${field} must be one of ${allowed.join(', ')} (got ${show(value)})`)
    this.field = field
  }
}

/** A transfer kind is not one of `TRANSFER_KINDS`. */
export class InvalidTransferKindError extends Error {
  static override name = 'InvalidTransferKindError'
  override name = InvalidTransferKindError.name

  static readonly code = 'ERR_LEDGER_INVALID_TRANSFER_KIND'
  readonly code = InvalidTransferKindError.code
  readonly field: string
  constructor(field: string, value: unknown, allowed: readonly string[]) {
    super(`${field} must be one of ${allowed.join(', ')} (got ${show(value)})`)
    this.field = field
  }
}

/** A pending transfer's `timeoutMs` is not an integer in 1..MAX_PENDING_TIMEOUT_MS. */
export class InvalidTimeoutError extends Error {
  static override name = 'InvalidTimeoutError'
  override name = InvalidTimeoutError.name

  static readonly code = 'ERR_LEDGER_INVALID_TIMEOUT'
  readonly code = InvalidTimeoutError.code
  readonly field: string
  constructor(field: string, value: unknown, max: number) {
    super(`${field} must be an integer number of milliseconds in 1..${max} (got ${show(value)})`)
    this.field = field
  }
}

/** A transfer names the same account on both sides. */
export class SameAccountError extends Error {
  static override name = 'SameAccountError'
  override name = SameAccountError.name

  static readonly code = 'ERR_LEDGER_SAME_ACCOUNT'
  readonly code = SameAccountError.code
  readonly field: string
  constructor(field: string, accountId: string) {
    super(`${field} debits and credits the same account ${show(accountId)}`)
    this.field = field
  }
}

/** An account sets both `debitsMustNotExceedCredits` and `creditsMustNotExceedDebits` (it could never move). */
export class ConflictingFlagsError extends Error {
  static override name = 'ConflictingFlagsError'
  override name = ConflictingFlagsError.name

  static readonly code = 'ERR_LEDGER_CONFLICTING_FLAGS'
  readonly code = ConflictingFlagsError.code
  readonly field: string
  constructor(field: string) {
    super(`${field} sets both debitsMustNotExceedCredits and creditsMustNotExceedDebits`)
    this.field = field
  }
}

/** The last transfer of a batch is `linked` to a next one that does not exist. */
export class LinkedChainOpenError extends Error {
  static override name = 'LinkedChainOpenError'
  override name = LinkedChainOpenError.name

  static readonly code = 'ERR_LEDGER_LINKED_CHAIN_OPEN'
  readonly code = LinkedChainOpenError.code
  readonly field: string
  constructor(field: string) {
    super(`${field} is linked but is the last transfer of the batch: the chain is never closed`)
    this.field = field
  }
}

/** A batch is not an array or holds more than MAX_BATCH_SIZE entries. */
export class InvalidBatchError extends Error {
  static override name = 'InvalidBatchError'
  override name = InvalidBatchError.name

  static readonly code = 'ERR_LEDGER_INVALID_BATCH'
  readonly code = InvalidBatchError.code
  readonly field: string
  constructor(field: string, reason: string) {
    super(`${field} ${reason}`)
    this.field = field
  }
}

/** A query's `limit` or `after` is out of range. */
export class InvalidQueryError extends Error {
  static override name = 'InvalidQueryError'
  override name = InvalidQueryError.name

  static readonly code = 'ERR_LEDGER_INVALID_QUERY'
  readonly code = InvalidQueryError.code
  readonly field: string
  constructor(field: string, value: unknown, reason: string) {
    super(`${field} ${reason} (got ${show(value)})`)
    this.field = field
  }
}

/** A query names an account the ledger does not hold. */
export class AccountNotFoundError extends Error {
  static override name = 'AccountNotFoundError'
  override name = AccountNotFoundError.name

  static readonly code = 'ERR_LEDGER_ACCOUNT_NOT_FOUND'
  readonly code = AccountNotFoundError.code
  readonly accountId: string
  constructor(accountId: string) {
    super(`no account ${show(accountId)}`)
    this.accountId = accountId
  }
}

/** The injected clock returned something that is not a non-negative integer of milliseconds. */
export class InvalidClockError extends Error {
  static override name = 'InvalidClockError'
  override name = InvalidClockError.name

  static readonly code = 'ERR_LEDGER_INVALID_CLOCK'
  readonly code = InvalidClockError.code
  constructor(value: unknown) {
    super(`clock.now() must return a non-negative safe integer of milliseconds (got ${show(value)})`)
  }
}

/**
 * An invariant (debits = credits per currency, no flagged account beyond its limit, balances that agree with the
 * transfers that made them) would not hold after a batch. The batch is not written. This is a bug in the ledger
 * or a corrupted store, never a caller's mistake.
 */
export class InvariantViolationError extends Error {
  static override name = 'InvariantViolationError'
  override name = InvariantViolationError.name

  static readonly code = 'ERR_LEDGER_INVARIANT_VIOLATION'
  readonly code = InvariantViolationError.code
  constructor(what: string) {
    super(`ledger invariant violated, nothing written: ${what}`)
  }
}

/** A record read from the store does not decode to the expected shape. */
export class CorruptRecordError extends Error {
  static override name = 'CorruptRecordError'
  override name = CorruptRecordError.name

  static readonly code = 'ERR_LEDGER_CORRUPT_RECORD'
  readonly code = CorruptRecordError.code
  readonly key: string
  constructor(key: string, reason: string) {
    super(`corrupt ledger record at ${show(key)}: ${reason}`)
    this.key = key
  }
}

/** The store fails a consistency check at open (books that do not balance, a sequence that does not match). */
export class LedgerCorruptError extends Error {
  static override name = 'LedgerCorruptError'
  override name = LedgerCorruptError.name

  static readonly code = 'ERR_LEDGER_CORRUPT'
  readonly code = LedgerCorruptError.code
  constructor(what: string) {
    super(`ledger store is inconsistent (run audit() with verifyOnOpen: false): ${what}`)
  }
}

/** The store was written by another layout version, or holds data that is not a ledger. */
export class LedgerVersionError extends Error {
  static override name = 'LedgerVersionError'
  override name = LedgerVersionError.name

  static readonly code = 'ERR_LEDGER_VERSION'
  readonly code = LedgerVersionError.code
  constructor(found: unknown, expected: number) {
    super(`ledger store has layout version ${show(found)}, this code reads version ${expected}`)
  }
}

/** A write to the store failed; the caches may no longer mirror the disk, so the ledger refuses work until reopened. */
export class LedgerFailedError extends Error {
  static override name = 'LedgerFailedError'
  override name = LedgerFailedError.name

  static readonly code = 'ERR_LEDGER_FAILED'
  readonly code = LedgerFailedError.code
  constructor(cause: Error) {
    super(`a write to the ledger's store failed (${cause.message}); reopen the ledger`, { cause })
  }
}

/** The ledger was closed. */
export class LedgerClosedError extends Error {
  static override name = 'LedgerClosedError'
  override name = LedgerClosedError.name

  static readonly code = 'ERR_LEDGER_CLOSED'
  readonly code = LedgerClosedError.code
  constructor() {
    super('the ledger is closed')
  }
}

/** The shares given to `splitByBasisPoints` are malformed (names the field). */
export class InvalidSplitError extends Error {
  static override name = 'InvalidSplitError'
  override name = InvalidSplitError.name

  static readonly code = 'ERR_LEDGER_INVALID_SPLIT'
  readonly code = InvalidSplitError.code
  readonly field: string
  constructor(field: string, value: unknown, reason: string) {
    super(`${field} ${reason} (got ${show(value)})`)
    this.field = field
  }
}
