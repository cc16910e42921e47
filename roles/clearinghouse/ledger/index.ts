/**
 * The clearinghouse's double-entry ledger: accounts, immutable transfers (single- and two-phase, linked chains),
 * balances with limits, idempotent retries, audit. See README.md for the layout and the guarantees.
 *
 * ```ts
 * const ledger = await openLedger(db.sublevel('ledger', { valueEncoding: 'view' }), { clock })
 * await ledger.createAccounts([{ id: 'w:alice', currency: 'EUR', kind: 'wallet', owner: 'alice',
 *   flags: { debitsMustNotExceedCredits: true } }])
 * const [r] = await ledger.createTransfers([{ kind: 'pending', id: 'auth:1', debitAccountId: 'w:alice',
 *   creditAccountId: 'escrow:eur', amount: 129n, timeoutMs: 60_000 }])
 * ```
 */
export * from './constants.ts'
export * from './errors.ts'
export { Ledger, type LedgerInit, type LedgerStore, limitBreach, openLedger } from './ledger.ts'
export * from './types.ts'
