/**
 * The ledger's domain types: accounts, transfers, balances and the per-item results of a batch.
 */

/** What an account stands for. The ledger treats every kind alike; the kind is for the roles and statements. */
export const ACCOUNT_KINDS = [
  /** A buyer's prepaid money held by the clearinghouse. */
  'wallet',
  /** A retailer's receivable (its margin on each sale). */
  'retailer',
  /** A distributor's receivable (the wholesale price). */
  'distributor',
  /** A rights holder's receivable (its share of the wholesale price). */
  'rightsholder',
  /** The clearinghouse's own fee income. */
  'fee',
  /** Money entering or leaving the system (card processor, bank): the other side of top-ups and payouts. */
  'external',
  /** Money held on someone's behalf until a condition is met. */
  'escrow',
  /** A delivery node's receivable (paid for blocks it delivered; decision 0511). */
  'delivery',
] as const
export type AccountKind = (typeof ACCOUNT_KINDS)[number]

export interface AccountFlags {
  /** The account may never be debited beyond its posted credits, pending debits included (a wallet). */
  debitsMustNotExceedCredits: boolean
  /** The account may never be credited beyond its posted debits, pending credits included. */
  creditsMustNotExceedDebits: boolean
}

export interface AccountInput {
  id: string
  /** ISO 4217 code; one ledger per currency: transfers never cross currencies. */
  currency: string
  kind: AccountKind
  owner: string
  flags?: Partial<AccountFlags>
}

export interface Account {
  id: string
  currency: string
  kind: AccountKind
  owner: string
  flags: AccountFlags
  /** When the account was created (from the ledger's clock). */
  timestamp: number
}

/** An account's balances in minor units of its currency. */
export interface Balance {
  debitsPosted: bigint
  creditsPosted: bigint
  debitsPending: bigint
  creditsPending: bigint
}

export const TRANSFER_KINDS = ['posted', 'pending', 'post_pending', 'void_pending'] as const
export type TransferKind = (typeof TRANSFER_KINDS)[number]

interface TransferInputCommon {
  /** Chosen by the caller; the idempotency key. */
  id: string
  /** A short category for the caller (`sale`, `royalty`…). Default ''. */
  code?: string
  /** An external id (purchase, usage report…). Default ''. */
  reference?: string
  /** Free data for the caller. Default ''. */
  userData?: string
  /** This transfer and the next one succeed or fail together. Not stored: it shapes the batch, not the transfer. */
  linked?: boolean
}

/** Moves `amount` at once. */
export interface PostedTransferInput extends TransferInputCommon {
  kind: 'posted'
  debitAccountId: string
  creditAccountId: string
  amount: bigint
}

/** Reserves `amount` (first phase of two) until posted, voided, or `timeoutMs` after its timestamp. */
export interface PendingTransferInput extends TransferInputCommon {
  kind: 'pending'
  debitAccountId: string
  creditAccountId: string
  amount: bigint
  timeoutMs: number
}

/** Posts a pending transfer: moves `amount` (default: all of it, at most all of it) and releases the rest. */
export interface PostPendingTransferInput extends TransferInputCommon {
  kind: 'post_pending'
  pendingId: string
  amount?: bigint
}

/** Voids a pending transfer: releases all of its reservation. */
export interface VoidPendingTransferInput extends TransferInputCommon {
  kind: 'void_pending'
  pendingId: string
}

export type TransferInput =
  | PostedTransferInput
  | PendingTransferInput
  | PostPendingTransferInput
  | VoidPendingTransferInput

/** A transfer as stored: immutable once written. */
export interface Transfer {
  id: string
  kind: TransferKind
  /** For post/void: the pending transfer's accounts. */
  debitAccountId: string
  creditAccountId: string
  /** posted/pending: the amount; post_pending: the amount posted; void_pending: the amount released. */
  amount: bigint
  currency: string
  code: string
  reference: string
  userData: string
  /** The pending transfer a post/void resolves; null otherwise. */
  pendingId: string | null
  /** Pending only; null otherwise. */
  timeoutMs: number | null
  /** Pending only: timestamp + timeoutMs; null otherwise. */
  expiresAt: number | null
  /** From the ledger's clock when the batch was applied. */
  timestamp: number
  /** Position in the ledger's log, from 1, without gaps; the pagination cursor. */
  seq: number
}

export type PendingState = 'pending' | 'posted' | 'voided' | 'expired'

export interface PendingStatus {
  pendingId: string
  state: PendingState
  expiresAt: number
  /** The post/void transfer that resolved it; null while pending and when it expired. */
  resolvedBy: string | null
  /** The amount posted (0n unless posted). */
  postedAmount: bigint
  /** When it was resolved; null while pending. */
  resolvedAt: number | null
}

export const AccountResult = {
  ok: 'ok',
  /** Same id and same fields: the account is there; a success. */
  exists: 'exists',
  /** Same id, different fields: refused. */
  existsWithDifferentFields: 'exists_with_different_fields',
} as const
export type AccountResultCode = (typeof AccountResult)[keyof typeof AccountResult]

export const TransferResult = {
  ok: 'ok',
  /** Same id and same fields: the transfer was applied before; a success. */
  exists: 'exists',
  /** Same id, different fields: refused. */
  existsWithDifferentFields: 'exists_with_different_fields',
  /** Another transfer of its linked chain failed, so this one was not applied either. */
  linkedEventFailed: 'linked_event_failed',
  debitAccountNotFound: 'debit_account_not_found',
  creditAccountNotFound: 'credit_account_not_found',
  accountsMustHaveSameCurrency: 'accounts_must_have_same_currency',
  /** The debit account has debitsMustNotExceedCredits and this would take it beyond (pending included). */
  exceedsCredits: 'exceeds_credits',
  /** The credit account has creditsMustNotExceedDebits and this would take it beyond (pending included). */
  exceedsDebits: 'exceeds_debits',
  /** A balance would exceed MAX_BALANCE. */
  overflowsBalance: 'overflows_balance',
  pendingTransferNotFound: 'pending_transfer_not_found',
  /** `pendingId` names a transfer that is not a pending one. */
  pendingTransferNotPending: 'pending_transfer_not_pending',
  pendingTransferAlreadyPosted: 'pending_transfer_already_posted',
  pendingTransferAlreadyVoided: 'pending_transfer_already_voided',
  pendingTransferExpired: 'pending_transfer_expired',
  /** A post asks for more than the pending amount. */
  exceedsPendingTransferAmount: 'exceeds_pending_transfer_amount',
} as const
export type TransferResultCode = (typeof TransferResult)[keyof typeof TransferResult]

export interface AccountOutcome {
  index: number
  id: string
  result: AccountResultCode
}

export interface TransferOutcome {
  index: number
  id: string
  result: TransferResultCode
}

/** `ok` and `exists` both mean: the item is in the ledger as asked. */
export function succeeded(result: AccountResultCode | TransferResultCode): boolean {
  return result === 'ok' || result === 'exists'
}

export interface TransferQuery {
  /** Only transfers that debit or credit this account. */
  accountId?: string
  /** Only transfers with `seq` greater than this (the previous page's `next`). Default 0. */
  after?: number
  /** 1..MAX_PAGE_SIZE. */
  limit: number
}

export interface TransferPage {
  transfers: Transfer[]
  /** The cursor for the next page (`after`), or null when this page was the last. */
  next: number | null
}

export const AuditCode = {
  corruptRecord: 'corrupt_record',
  sequenceMismatch: 'sequence_mismatch',
  logGap: 'log_gap',
  transferMissing: 'transfer_missing',
  transferNotInLog: 'transfer_not_in_log',
  invalidTransfer: 'invalid_transfer',
  indexMissing: 'index_missing',
  indexOrphan: 'index_orphan',
  pendingMismatch: 'pending_mismatch',
  balanceMismatch: 'balance_mismatch',
  balanceMissing: 'balance_missing',
  balanceOrphan: 'balance_orphan',
  negativeBalance: 'negative_balance',
  limitExceeded: 'limit_exceeded',
  unbalancedCurrency: 'unbalanced_currency',
  cacheMismatch: 'cache_mismatch',
} as const
export type AuditCodeValue = (typeof AuditCode)[keyof typeof AuditCode]

export interface AuditViolation {
  code: AuditCodeValue
  /** The account concerned, if any. */
  accountId?: string
  /** The transfer concerned, if any. */
  transferId?: string
  /** The store key concerned, if any. */
  key?: string
  message: string
}
