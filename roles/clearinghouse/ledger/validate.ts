/**
 * Input validation: turns what a caller hands in into normalized values, or throws a typed error naming the field.
 * Only checks that need no ledger state live here; state-dependent refusals are result codes.
 */
import {
  ID_PATTERN,
  MAX_BATCH_SIZE,
  MAX_CODE_LENGTH,
  MAX_ID_LENGTH,
  MAX_OWNER_LENGTH,
  MAX_PENDING_TIMEOUT_MS,
  MAX_REFERENCE_LENGTH,
  MAX_TRANSFER_AMOUNT,
  MAX_USER_DATA_LENGTH,
} from './constants.ts'
import {
  ConflictingFlagsError,
  InvalidAccountKindError,
  InvalidBatchError,
  InvalidFieldError,
  InvalidIdError,
  InvalidLedgerAmountError,
  InvalidLedgerCurrencyError,
  InvalidTimeoutError,
  InvalidTransferKindError,
  LinkedChainOpenError,
  SameAccountError,
} from './errors.ts'
import type { AccountFlags, AccountKind, TransferKind } from './types.ts'
import { ACCOUNT_KINDS, TRANSFER_KINDS } from './types.ts'

/** ISO 4217 codes as ICU knows them (current and historic tender; no X-test codes). */
const CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'))

export function isCurrency(value: unknown): value is string {
  return typeof value === 'string' && CURRENCIES.has(value)
}

export function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH && ID_PATTERN.test(value)
}

export function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidIdError(field, value, 'must be a string')
  if (value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new InvalidIdError(field, value, `must be 1..${MAX_ID_LENGTH} characters long`)
  }
  if (!ID_PATTERN.test(value)) {
    throw new InvalidIdError(field, value, 'must be printable ASCII without spaces or "/"')
  }
  return value
}

function checkText(field: string, value: unknown, max: number): string {
  if (value === undefined) return ''
  if (typeof value !== 'string') throw new InvalidFieldError(field, value, 'must be a string')
  if (value.length > max) throw new InvalidFieldError(field, value, `must be at most ${max} characters long`)
  return value
}

function checkObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidFieldError(field, value, 'must be an object')
  }
  return value as Record<string, unknown>
}

function checkKeys(field: string, record: Record<string, unknown>, allowed: ReadonlySet<string>, kind: string): void {
  for (const key of Object.keys(record)) {
    if (!allowed.has(key)) {
      throw new InvalidFieldError(`${field}.${key}`, record[key], `is not a field of ${kind}`)
    }
  }
}

export function checkAmount(field: string, value: unknown): bigint {
  if (typeof value !== 'bigint') throw new InvalidLedgerAmountError(field, value, 'must be a bigint of minor units')
  if (value <= 0n) throw new InvalidLedgerAmountError(field, value, 'must be greater than 0')
  if (value > MAX_TRANSFER_AMOUNT) {
    throw new InvalidLedgerAmountError(field, value, `must be at most MAX_TRANSFER_AMOUNT (${MAX_TRANSFER_AMOUNT})`)
  }
  return value
}

export function checkBatch(field: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new InvalidBatchError(field, 'must be an array')
  if (value.length > MAX_BATCH_SIZE) {
    throw new InvalidBatchError(field, `holds ${value.length} entries, more than MAX_BATCH_SIZE (${MAX_BATCH_SIZE})`)
  }
  return value
}

export interface NormalizedAccount {
  id: string
  currency: string
  kind: AccountKind
  owner: string
  flags: AccountFlags
}

const ACCOUNT_FIELDS: ReadonlySet<string> = new Set(['id', 'currency', 'kind', 'owner', 'flags'])
const FLAG_FIELDS: ReadonlySet<string> = new Set(['debitsMustNotExceedCredits', 'creditsMustNotExceedDebits'])

function checkFlag(field: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw new InvalidFieldError(field, value, 'must be a boolean')
  return value
}

export function normalizeAccount(field: string, value: unknown): NormalizedAccount {
  const input = checkObject(field, value)
  checkKeys(field, input, ACCOUNT_FIELDS, 'an account')
  const id = checkId(`${field}.id`, input.id)
  if (!isCurrency(input.currency)) throw new InvalidLedgerCurrencyError(`${field}.currency`, input.currency)
  const kind = input.kind
  if (typeof kind !== 'string' || !(ACCOUNT_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidAccountKindError(`${field}.kind`, kind, ACCOUNT_KINDS)
  }
  if (typeof input.owner !== 'string' || input.owner.length === 0 || input.owner.length > MAX_OWNER_LENGTH) {
    throw new InvalidFieldError(`${field}.owner`, input.owner, `must be a string of 1..${MAX_OWNER_LENGTH} characters`)
  }
  const flagsInput = input.flags === undefined ? {} : checkObject(`${field}.flags`, input.flags)
  checkKeys(`${field}.flags`, flagsInput, FLAG_FIELDS, 'account flags')
  const flags: AccountFlags = {
    debitsMustNotExceedCredits: checkFlag(
      `${field}.flags.debitsMustNotExceedCredits`,
      flagsInput.debitsMustNotExceedCredits,
    ),
    creditsMustNotExceedDebits: checkFlag(
      `${field}.flags.creditsMustNotExceedDebits`,
      flagsInput.creditsMustNotExceedDebits,
    ),
  }
  if (flags.debitsMustNotExceedCredits && flags.creditsMustNotExceedDebits) {
    throw new ConflictingFlagsError(`${field}.flags`)
  }
  return { id, currency: input.currency, kind: kind as AccountKind, owner: input.owner, flags }
}

/** A transfer input after validation; fields a kind does not take are null. */
export interface NormalizedTransfer {
  index: number
  id: string
  kind: TransferKind
  debitAccountId: string | null
  creditAccountId: string | null
  /** null: a post of the whole pending amount, or a void. */
  amount: bigint | null
  pendingId: string | null
  timeoutMs: number | null
  code: string
  reference: string
  userData: string
  linked: boolean
}

const COMMON_FIELDS = ['id', 'kind', 'code', 'reference', 'userData', 'linked']
const TRANSFER_FIELDS: Record<TransferKind, ReadonlySet<string>> = {
  posted: new Set([...COMMON_FIELDS, 'debitAccountId', 'creditAccountId', 'amount']),
  pending: new Set([...COMMON_FIELDS, 'debitAccountId', 'creditAccountId', 'amount', 'timeoutMs']),
  post_pending: new Set([...COMMON_FIELDS, 'pendingId', 'amount']),
  void_pending: new Set([...COMMON_FIELDS, 'pendingId']),
}

export function normalizeTransfer(field: string, index: number, value: unknown): NormalizedTransfer {
  const input = checkObject(field, value)
  const kind = input.kind
  if (typeof kind !== 'string' || !(TRANSFER_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidTransferKindError(`${field}.kind`, kind, TRANSFER_KINDS)
  }
  const k = kind as TransferKind
  checkKeys(field, input, TRANSFER_FIELDS[k], `a ${k} transfer`)
  const id = checkId(`${field}.id`, input.id)
  const linked = input.linked === undefined ? false : input.linked
  if (typeof linked !== 'boolean') throw new InvalidFieldError(`${field}.linked`, linked, 'must be a boolean')
  const out: NormalizedTransfer = {
    index,
    id,
    kind: k,
    debitAccountId: null,
    creditAccountId: null,
    amount: null,
    pendingId: null,
    timeoutMs: null,
    code: checkText(`${field}.code`, input.code, MAX_CODE_LENGTH),
    reference: checkText(`${field}.reference`, input.reference, MAX_REFERENCE_LENGTH),
    userData: checkText(`${field}.userData`, input.userData, MAX_USER_DATA_LENGTH),
    linked,
  }
  if (k === 'posted' || k === 'pending') {
    out.debitAccountId = checkId(`${field}.debitAccountId`, input.debitAccountId)
    out.creditAccountId = checkId(`${field}.creditAccountId`, input.creditAccountId)
    if (out.debitAccountId === out.creditAccountId) throw new SameAccountError(field, out.debitAccountId)
    out.amount = checkAmount(`${field}.amount`, input.amount)
    if (k === 'pending') {
      const t = input.timeoutMs
      if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1 || t > MAX_PENDING_TIMEOUT_MS) {
        throw new InvalidTimeoutError(`${field}.timeoutMs`, t, MAX_PENDING_TIMEOUT_MS)
      }
      out.timeoutMs = t
    }
  } else {
    out.pendingId = checkId(`${field}.pendingId`, input.pendingId)
    if (out.pendingId === id) throw new InvalidFieldError(`${field}.pendingId`, out.pendingId, 'must not be its own id')
    if (k === 'post_pending' && input.amount !== undefined) out.amount = checkAmount(`${field}.amount`, input.amount)
  }
  return out
}

/** Validates a whole batch of transfers; throws before anything is applied. */
export function normalizeTransfers(value: unknown): NormalizedTransfer[] {
  const list = checkBatch('transfers', value)
  const out = list.map((item, i) => normalizeTransfer(`transfers[${i}]`, i, item))
  const last = out.at(-1)
  if (last?.linked) throw new LinkedChainOpenError(`transfers[${out.length - 1}].linked`)
  return out
}
