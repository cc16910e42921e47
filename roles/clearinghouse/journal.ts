/**
 * The journal: how the role's state and the ledger (two write batches in two sublevels) change together, exactly
 * once, whatever crashes.
 *
 * 1. Intent: the role writes, in one atomic batch, its own changes (statement lines, reports, purchase states…)
 *    together with a journal row `j/<n>` that holds the ledger batch to apply (accounts to create, transfers with
 *    ids derived from `n` or from the business id) and the state operations to write once the ledger has answered
 *    (`onSuccess`, or `onFailure` if the ledger refused the batch).
 * 2. Apply: the accounts are created and the transfers applied as one linked chain (all or none).
 * 3. Resolve: `onSuccess`/`onFailure` and the deletion of `j/<n>` are written in one batch.
 *
 * Transfer ids are idempotency keys, so replaying a journal row after a crash at any point between 1 and 3 finds the
 * transfers `exists` (already applied) or applies them now: either way once. On start, every journal row left is
 * replayed in order before anything else runs. At most one row is pending at a time while the role runs (all state
 * changes go through one queue).
 */
import { logger } from '@libp2p/logger'
import { ClearingFailedError } from './errors.ts'
import type { Ledger } from './ledger/ledger.ts'
import type { AccountInput, TransferInput, TransferOutcome } from './ledger/types.ts'
import { succeeded } from './ledger/types.ts'
import { type JournalRow, type JournalTransfer, journalRow, numberRow, StateKeys, type StoreOp } from './state.ts'
import { del, put, type StateStore } from './store.ts'

const log = logger('consort:clearinghouse:journal')

export interface JournalEntry {
  /** What kind of change (`authorise`, `capture`, `ingest`…), for logs. */
  kind: string
  /** The business id it is about (purchase id, group number…). */
  ref: string
  accounts: AccountInput[]
  transfers: JournalTransfer[]
  onSuccess: StoreOp[]
  onFailure: StoreOp[]
}

export interface ApplyResult {
  ok: boolean
  results: TransferOutcome[]
}

/** The ledger's input for a journalled transfer list: one linked chain. */
function chain(transfers: readonly JournalTransfer[]): TransferInput[] {
  return transfers.map((t, i) => ({ ...t, linked: i < transfers.length - 1 }) as TransferInput)
}

export class Journal {
  readonly #store: StateStore
  readonly #ledger: Ledger
  #next = 1

  constructor(store: StateStore, ledger: Ledger) {
    this.#store = store
    this.#ledger = ledger
  }

  async open(): Promise<void> {
    this.#next = (await this.#store.get(numberRow, StateKeys.journalNext)) ?? 1
  }

  /**
   * The ops that record an entry (to be written with the intent's own changes). `build` gets the entry's number,
   * which transfer ids may use (it is never reused once written).
   */
  intent(build: (n: number) => JournalEntry): { n: number; ops: StoreOp[]; entry: JournalEntry } {
    const n = this.#next++
    const entry = build(n)
    const row: JournalRow = { v: 1, n, ...entry, accounts: entry.accounts.map(normaliseAccount) }
    return { n, ops: [put(StateKeys.journal(n), row), put(StateKeys.journalNext, this.#next)], entry }
  }

  /** Forget intents that were never written (their batch failed). */
  rewind(to: number): void {
    this.#next = to
  }

  /**
   * Apply a recorded entry to the ledger and resolve it. Throws ClearingFailedError if the accounts cannot be
   * created (an account id reused with other fields: a bug), leaving the row for the next start.
   */
  async apply(n: number, entry: JournalEntry, options: { sync?: boolean } = {}): Promise<ApplyResult> {
    if (entry.accounts.length > 0) {
      const outcomes = await this.#ledger.createAccounts(entry.accounts)
      const bad = outcomes.find((o) => !succeeded(o.result))
      if (bad !== undefined) {
        throw new ClearingFailedError(`journal ${n} (${entry.kind} ${entry.ref}): account ${bad.id} is ${bad.result}`)
      }
    }
    const results = entry.transfers.length > 0 ? await this.#ledger.createTransfers(chain(entry.transfers)) : []
    const ok = results.every((r) => succeeded(r.result))
    await this.#store.write([...(ok ? entry.onSuccess : entry.onFailure), del(StateKeys.journal(n))], options)
    if (!ok) log('journal %d (%s %s) refused by the ledger: %o', n, entry.kind, entry.ref, results)
    return { ok, results }
  }

  /** Replay every row left by a crash, in order. Returns how many. */
  async recover(): Promise<number> {
    const rows: JournalRow[] = []
    for await (const [, row] of this.#store.rows(journalRow, StateKeys.journalPrefix)) rows.push(row)
    for (const row of rows) {
      const result = await this.apply(row.n, row as unknown as JournalEntry, { sync: true })
      log('recovered journal %d (%s %s): %s', row.n, row.kind, row.ref, result.ok ? 'applied' : 'refused')
    }
    return rows.length
  }

  /** Rows not yet resolved (only after a crash, before `recover`). */
  async pending(): Promise<JournalRow[]> {
    const rows: JournalRow[] = []
    for await (const [, row] of this.#store.rows(journalRow, StateKeys.journalPrefix)) rows.push(row)
    return rows
  }
}

function normaliseAccount(a: AccountInput): JournalRow['accounts'][number] {
  return {
    id: a.id,
    currency: a.currency,
    kind: a.kind,
    owner: a.owner,
    flags: a.flags?.debitsMustNotExceedCredits === true ? { debitsMustNotExceedCredits: true } : {},
  }
}
