/**
 * The on-disk layout: key builders and parsers, and the strict DAG-CBOR codecs of every record. A record that
 * does not decode to exactly the expected shape is refused with a CorruptRecordError naming its key. The layout is
 * documented in README.md; a retired prefix is never reused.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { KEY_NUMBER_WIDTH, LEDGER_VERSION, MAX_BALANCE } from './constants.ts'
import { encodeDagCbor } from './dag-cbor-encoder.ts'
import { CorruptRecordError } from './errors.ts'
import type { Account, AccountKind, Balance, PendingState, Transfer, TransferKind } from './types.ts'
import { ACCOUNT_KINDS, TRANSFER_KINDS } from './types.ts'
import { isCurrency, isId } from './validate.ts'

/** Key prefixes. Each names one kind of row; see README.md. Never reuse a retired prefix. */
export const Prefix = {
  meta: 'm/',
  account: 'a/',
  balance: 'b/',
  transfer: 't/',
  log: 'l/',
  accountIndex: 'x/',
  expiry: 'p/',
  resolution: 's/',
} as const

const NUMBER_RE = new RegExp(`^\\d{${KEY_NUMBER_WIDTH}}$`)

export function pad(n: number): string {
  return String(n).padStart(KEY_NUMBER_WIDTH, '0')
}

export const Keys = {
  version: 'm/version',
  seq: 'm/seq',
  account: (id: string) => `a/${id}`,
  balance: (id: string) => `b/${id}`,
  transfer: (id: string) => `t/${id}`,
  resolution: (pendingId: string) => `s/${pendingId}`,
  log: (seq: number) => `l/${pad(seq)}`,
  accountIndex: (accountId: string, seq: number) => `x/${accountId}/${pad(seq)}`,
  accountIndexPrefix: (accountId: string) => `x/${accountId}/`,
  expiry: (expiresAt: number, pendingId: string) => `p/${pad(expiresAt)}/${pendingId}`,
} as const

/**
 * The key range of everything under `prefix` (which ends in `/`): from the prefix up to, not including, the same
 * string with its `/` replaced by `0`, the next character. Ids never contain `/`, so ranges never overlap.
 */
export function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: `${prefix.slice(0, -1)}0` }
}

function parseNumber(key: string, text: string): number {
  if (!NUMBER_RE.test(text)) throw new CorruptRecordError(key, `"${text}" is not a ${KEY_NUMBER_WIDTH}-digit number`)
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new CorruptRecordError(key, `${text} is not a safe integer`)
  return n
}

export function parseLogKey(key: string): number {
  return parseNumber(key, key.slice(Prefix.log.length))
}

export function parseAccountIndexKey(key: string): { accountId: string; seq: number } {
  const rest = key.slice(Prefix.accountIndex.length)
  const slash = rest.lastIndexOf('/')
  const accountId = rest.slice(0, slash)
  if (slash < 0 || !isId(accountId)) throw new CorruptRecordError(key, 'malformed account index key')
  return { accountId, seq: parseNumber(key, rest.slice(slash + 1)) }
}

export function parseExpiryKey(key: string): { expiresAt: number; pendingId: string } {
  const rest = key.slice(Prefix.expiry.length)
  const slash = rest.indexOf('/')
  const pendingId = rest.slice(slash + 1)
  if (slash < 0 || !isId(pendingId)) throw new CorruptRecordError(key, 'malformed expiry key')
  return { expiresAt: parseNumber(key, rest.slice(0, slash)), pendingId }
}

export function parseIdKey(key: string, prefix: string): string {
  const id = key.slice(prefix.length)
  if (!key.startsWith(prefix) || !isId(id)) throw new CorruptRecordError(key, 'malformed id in key')
  return id
}

// ---- strict record decoding -------------------------------------------------------------------------------

type Fields = Record<string, unknown>

function decodeRecord(key: string, bytes: Uint8Array, fields: readonly string[]): Fields {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new CorruptRecordError(key, `not DAG-CBOR: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new CorruptRecordError(key, 'not a map')
  }
  const record = value as Fields
  const names = Object.keys(record)
  if (names.length !== fields.length || !fields.every((f) => Object.hasOwn(record, f))) {
    throw new CorruptRecordError(key, `fields are [${names.join(', ')}], expected [${fields.join(', ')}]`)
  }
  if (record.v !== LEDGER_VERSION) throw new CorruptRecordError(key, `record version ${String(record.v)}`)
  return record
}

function str(key: string, record: Fields, field: string): string {
  const v = record[field]
  if (typeof v !== 'string') throw new CorruptRecordError(key, `${field} is not a string`)
  return v
}

function id(key: string, record: Fields, field: string): string {
  const v = record[field]
  if (!isId(v)) throw new CorruptRecordError(key, `${field} is not an id`)
  return v
}

function int(key: string, record: Fields, field: string): number {
  const v = record[field]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new CorruptRecordError(key, `${field} is not a non-negative integer`)
  }
  return v
}

function nullable<T>(record: Fields, field: string, read: () => T): T | null {
  return record[field] === null ? null : read()
}

/** DAG-CBOR gives integers up to 2^53 as numbers and larger ones as bigints: accept both, return a bigint. */
function big(key: string, record: Fields, field: string): bigint {
  const v = record[field]
  let n: bigint
  if (typeof v === 'bigint') n = v
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v)
  else throw new CorruptRecordError(key, `${field} is not an integer`)
  if (n < 0n || n > MAX_BALANCE) throw new CorruptRecordError(key, `${field} ${n} is out of range`)
  return n
}

function bool(key: string, record: Fields, field: string): boolean {
  const v = record[field]
  if (typeof v !== 'boolean') throw new CorruptRecordError(key, `${field} is not a boolean`)
  return v
}

// ---- accounts ---------------------------------------------------------------------------------------------

const ACCOUNT_RECORD = [
  'v',
  'id',
  'currency',
  'kind',
  'owner',
  'debitsMustNotExceedCredits',
  'creditsMustNotExceedDebits',
  'timestamp',
]

export function encodeAccount(a: Account): Uint8Array {
  return encodeDagCbor({
    v: LEDGER_VERSION,
    id: a.id,
    currency: a.currency,
    kind: a.kind,
    owner: a.owner,
    debitsMustNotExceedCredits: a.flags.debitsMustNotExceedCredits,
    creditsMustNotExceedDebits: a.flags.creditsMustNotExceedDebits,
    timestamp: a.timestamp,
  })
}

export function decodeAccount(key: string, bytes: Uint8Array): Account {
  const r = decodeRecord(key, bytes, ACCOUNT_RECORD)
  const currency = str(key, r, 'currency')
  if (!isCurrency(currency)) throw new CorruptRecordError(key, `currency ${currency} is not ISO 4217`)
  const kind = str(key, r, 'kind')
  if (!(ACCOUNT_KINDS as readonly string[]).includes(kind)) throw new CorruptRecordError(key, `kind ${kind}`)
  return {
    id: id(key, r, 'id'),
    currency,
    kind: kind as AccountKind,
    owner: str(key, r, 'owner'),
    flags: {
      debitsMustNotExceedCredits: bool(key, r, 'debitsMustNotExceedCredits'),
      creditsMustNotExceedDebits: bool(key, r, 'creditsMustNotExceedDebits'),
    },
    timestamp: int(key, r, 'timestamp'),
  }
}

// ---- balances ---------------------------------------------------------------------------------------------

const BALANCE_RECORD = ['v', 'debitsPosted', 'creditsPosted', 'debitsPending', 'creditsPending']

export function encodeBalance(b: Balance): Uint8Array {
  return encodeDagCbor({
    v: LEDGER_VERSION,
    debitsPosted: b.debitsPosted,
    creditsPosted: b.creditsPosted,
    debitsPending: b.debitsPending,
    creditsPending: b.creditsPending,
  })
}

export function decodeBalance(key: string, bytes: Uint8Array): Balance {
  const r = decodeRecord(key, bytes, BALANCE_RECORD)
  return {
    debitsPosted: big(key, r, 'debitsPosted'),
    creditsPosted: big(key, r, 'creditsPosted'),
    debitsPending: big(key, r, 'debitsPending'),
    creditsPending: big(key, r, 'creditsPending'),
  }
}

// ---- transfers --------------------------------------------------------------------------------------------

const TRANSFER_RECORD = [
  'v',
  'id',
  'kind',
  'debitAccountId',
  'creditAccountId',
  'amount',
  'currency',
  'code',
  'reference',
  'userData',
  'pendingId',
  'timeoutMs',
  'expiresAt',
  'timestamp',
  'seq',
]

export function encodeTransfer(t: Transfer): Uint8Array {
  return encodeDagCbor({ v: LEDGER_VERSION, ...t })
}

export function decodeTransfer(key: string, bytes: Uint8Array): Transfer {
  const r = decodeRecord(key, bytes, TRANSFER_RECORD)
  const kind = str(key, r, 'kind')
  if (!(TRANSFER_KINDS as readonly string[]).includes(kind)) throw new CorruptRecordError(key, `kind ${kind}`)
  const currency = str(key, r, 'currency')
  if (!isCurrency(currency)) throw new CorruptRecordError(key, `currency ${currency} is not ISO 4217`)
  const t: Transfer = {
    id: id(key, r, 'id'),
    kind: kind as TransferKind,
    debitAccountId: id(key, r, 'debitAccountId'),
    creditAccountId: id(key, r, 'creditAccountId'),
    amount: big(key, r, 'amount'),
    currency,
    code: str(key, r, 'code'),
    reference: str(key, r, 'reference'),
    userData: str(key, r, 'userData'),
    pendingId: nullable(r, 'pendingId', () => id(key, r, 'pendingId')),
    timeoutMs: nullable(r, 'timeoutMs', () => int(key, r, 'timeoutMs')),
    expiresAt: nullable(r, 'expiresAt', () => int(key, r, 'expiresAt')),
    timestamp: int(key, r, 'timestamp'),
    seq: int(key, r, 'seq'),
  }
  const isPending = t.kind === 'pending'
  const resolves = t.kind === 'post_pending' || t.kind === 'void_pending'
  if (isPending !== (t.timeoutMs !== null) || isPending !== (t.expiresAt !== null)) {
    throw new CorruptRecordError(key, 'timeoutMs/expiresAt must be set exactly on pending transfers')
  }
  if (resolves !== (t.pendingId !== null)) {
    throw new CorruptRecordError(key, 'pendingId must be set exactly on post/void transfers')
  }
  return t
}

// ---- pending resolutions ----------------------------------------------------------------------------------

/** How a pending transfer was resolved: stored at `s/<pendingId>`, written exactly once. */
export interface Resolution {
  pendingId: string
  state: Exclude<PendingState, 'pending'>
  /** The post/void transfer; null for an expiry. */
  transferId: string | null
  /** The amount posted; 0n for a void or an expiry. */
  postedAmount: bigint
  timestamp: number
}

const RESOLUTION_RECORD = ['v', 'pendingId', 'state', 'transferId', 'postedAmount', 'timestamp']
const RESOLVED_STATES: readonly string[] = ['posted', 'voided', 'expired']

export function encodeResolution(r: Resolution): Uint8Array {
  return encodeDagCbor({ v: LEDGER_VERSION, ...r })
}

export function decodeResolution(key: string, bytes: Uint8Array): Resolution {
  const r = decodeRecord(key, bytes, RESOLUTION_RECORD)
  const state = str(key, r, 'state')
  if (!RESOLVED_STATES.includes(state)) throw new CorruptRecordError(key, `state ${state}`)
  const out: Resolution = {
    pendingId: id(key, r, 'pendingId'),
    state: state as Resolution['state'],
    transferId: nullable(r, 'transferId', () => id(key, r, 'transferId')),
    postedAmount: big(key, r, 'postedAmount'),
    timestamp: int(key, r, 'timestamp'),
  }
  if ((out.state === 'expired') !== (out.transferId === null)) {
    throw new CorruptRecordError(key, 'transferId must be null exactly for an expiry')
  }
  return out
}

// ---- small values -----------------------------------------------------------------------------------------

export function encodeInt(n: number): Uint8Array {
  return encodeDagCbor(n)
}

export function decodeInt(key: string, bytes: Uint8Array): number {
  let v: unknown
  try {
    v = dagCbor.decode(bytes)
  } catch (err) {
    throw new CorruptRecordError(key, `not DAG-CBOR: ${(err as Error).message}`)
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new CorruptRecordError(key, 'not a non-negative integer')
  }
  return v
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Index rows (`l/…`, `x/…`) hold the transfer id as UTF-8 bytes. */
export function encodeIdValue(value: string): Uint8Array {
  return utf8.encode(value)
}

export function decodeIdValue(key: string, bytes: Uint8Array): string {
  let text: string
  try {
    text = fromUtf8.decode(bytes)
  } catch {
    throw new CorruptRecordError(key, 'id value is not UTF-8')
  }
  if (!isId(text)) throw new CorruptRecordError(key, 'value is not an id')
  return text
}

export const EMPTY = new Uint8Array(0)
