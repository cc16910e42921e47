/**
 * The clearinghouse's audit: the ledger's own (every balance recomputed from the transfer log, every index and
 * invariant checked) and the role's, across the two:
 *
 * - `lines_mismatch`: for every participant account, the posted balance (credits − debits) equals the sum of the
 *   participant's statement lines in that currency over all periods (journalled transfers not yet applied counted);
 * - `account_missing`: lines name a participant account the ledger does not have;
 * - `holding_not_empty`: the accounts that hold authorised money have posted as much out as in;
 * - `purchase_mismatch`: a purchase's state disagrees with its transfers (captured without a capture, voided
 *   without a void, a capture or void without the state);
 * - `referral_mismatch`: a purchase's referral verdict disagrees with its transfers (credited without the referral
 *   leg, or a referral leg with no credit decided; decision 0512);
 * - `fund_mismatch`: a top-up marked done without its transfer;
 * - `corrupt_state`: a row of the role's state does not decode.
 *
 * It only reads: it runs on a live clearinghouse (through its queue, so nothing moves meanwhile) or on the data dir
 * of a stopped one (`consort audit`), where a journal row a crash left behind is taken into account, not applied.
 */

import type { Clock } from '../../protocols/clock.ts'
import { isError } from '../../protocols/errors.ts'
import { StateCorruptError } from './errors.ts'
import { decodeAccount, decodeBalance, Keys, Prefix, prefixRange } from './ledger/codec.ts'
import { type Ledger, type LedgerStore, openLedger } from './ledger/ledger.ts'
import type { Account, AuditViolation, Balance } from './ledger/types.ts'
import { accountIdOf } from './participants.ts'
import { purchaseIds } from './purchases.ts'
import { ReferralKeys, referralRow } from './referrals.ts'
import {
  decodeReportRow,
  decodeRow,
  fundRow,
  journalRow,
  lineRow,
  type PurchaseRow,
  purchaseRow,
  StateKeys,
} from './state.ts'
import { type StateLevel, StateStore } from './store.ts'

/** Most violations of the role's own checks listed (the ledger bounds its own). */
const MAX_VIOLATIONS = 1000

export interface ClearingViolation {
  code:
    | 'lines_mismatch'
    | 'account_missing'
    | 'holding_not_empty'
    | 'purchase_mismatch'
    | 'referral_mismatch'
    | 'fund_mismatch'
    | 'corrupt_state'
  message: string
  accountId?: string
  key?: string
}

export interface AuditReport {
  ok: boolean
  ledger: AuditViolation[]
  clearing: ClearingViolation[]
  counts: {
    accounts: number
    lines: number
    purchases: number
    reports: number
    pendingJournal: number
  }
}

const ENC = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

export async function auditClearinghouse(
  store: StateStore,
  ledger: Ledger,
  ledgerStore: LedgerStore,
): Promise<AuditReport> {
  const clearing: ClearingViolation[] = []
  const add = (v: ClearingViolation) => {
    if (clearing.length < MAX_VIOLATIONS) clearing.push(v)
  }
  const ledgerViolations = await ledger.audit()

  // Journal rows a crash left behind: their transfers count if the ledger has not applied them yet.
  const unapplied = new Map<string, bigint>()
  let pendingJournal = 0
  for await (const [key, value] of store.entries(StateKeys.journalPrefix)) {
    pendingJournal++
    let row: ReturnType<typeof journalRow.parse>
    try {
      row = decodeRow(journalRow, key, value)
    } catch (err) {
      add({ code: 'corrupt_state', message: (err as Error).message, key })
      continue
    }
    for (const t of row.transfers) {
      if (t.kind !== 'posted') continue
      if ((await ledger.getTransfer(t.id)) !== undefined) continue
      unapplied.set(t.debitAccountId, (unapplied.get(t.debitAccountId) ?? 0n) - t.amount)
      unapplied.set(t.creditAccountId, (unapplied.get(t.creditAccountId) ?? 0n) + t.amount)
    }
  }

  // The sum of every participant's lines, by ledger account.
  const sums = new Map<string, bigint>()
  let lines = 0
  for await (const [key, value] of store.entries(StateKeys.linesPrefix)) {
    lines++
    try {
      const row = decodeRow(lineRow, key, value)
      const currency = key.split('/')[3]!
      const id = accountIdOf(row.participant, currency)
      sums.set(id, (sums.get(id) ?? 0n) + row.amount)
    } catch (err) {
      add({ code: 'corrupt_state', message: (err as Error).message, key })
    }
  }

  // Every account of the ledger, read as stored (the audit writes nothing, not even due expiries).
  const accounts = new Map<string, Account>()
  for await (const [key, value] of ledgerStore.iterator<string, Uint8Array>({
    ...prefixRange(Prefix.account),
    ...ENC,
  })) {
    try {
      const account = decodeAccount(key, value)
      accounts.set(account.id, account)
    } catch {
      // reported by the ledger's own audit
    }
  }
  const balances = new Map<string, Balance>()
  const ids = [...accounts.keys()]
  const rows =
    ids.length === 0
      ? []
      : await ledgerStore.getMany<string, Uint8Array>(
          ids.map((id) => Keys.balance(id)),
          ENC,
        )
  for (const [i, id] of ids.entries()) {
    const bytes = rows[i]
    if (bytes === undefined) continue
    try {
      balances.set(id, decodeBalance(Keys.balance(id), bytes))
    } catch {
      // reported by the ledger's own audit
    }
  }

  for (const [id, account] of accounts) {
    const b = balances.get(id)
    if (b === undefined) continue
    const posted = b.creditsPosted - b.debitsPosted + (unapplied.get(id) ?? 0n)
    if (account.kind === 'escrow') {
      if (pendingJournal === 0 && posted !== 0n) {
        add({ code: 'holding_not_empty', accountId: id, message: `${id} holds ${posted} posted (expected 0)` })
      }
      continue
    }
    const expected = sums.get(id) ?? 0n
    if (posted !== expected) {
      add({
        code: 'lines_mismatch',
        accountId: id,
        message: `${id} (${account.owner}) has ${posted} posted, its statement lines add up to ${expected}`,
      })
    }
  }
  for (const [id, sum] of sums) {
    if (!accounts.has(id) && sum !== 0n) {
      add({
        code: 'account_missing',
        accountId: id,
        message: `statement lines add up to ${sum} on ${id}, which the ledger lacks`,
      })
    }
  }

  let purchases = 0
  for await (const [key, value] of store.entries(StateKeys.purchasePrefix)) {
    purchases++
    let row: PurchaseRow
    try {
      row = decodeRow(purchaseRow, key, value)
    } catch (err) {
      add({ code: 'corrupt_state', message: (err as Error).message, key })
      continue
    }
    if (row.amount === 0n) continue
    const ids = purchaseIds(row.purchaseId)
    const captured = (await ledger.getTransfer(ids.capture)) !== undefined
    const voided = (await ledger.getTransfer(ids.void)) !== undefined
    const authorised = (await ledger.getTransfer(ids.authorisation)) !== undefined
    const refunded = (await ledger.getTransfer(ids.refund)) !== undefined
    const fail = (message: string) => add({ code: 'purchase_mismatch', key, message: `${row.purchaseId}: ${message}` })
    const heldNothing = row.state === 'refused' || row.state === 'cancelled'
    if (!authorised && !heldNothing) fail('no authorisation transfer')
    if (authorised && heldNothing) fail(`${row.state}, but the ledger reserved it`)
    const wasCaptured = row.state === 'captured' || row.state === 'refunding' || row.state === 'refunded'
    if (wasCaptured && !captured) fail(`${row.state}, but the ledger has no capture`)
    if (row.state === 'voided' && !voided) fail('voided, but the ledger has no void')
    if (!wasCaptured && captured && !(row.state === 'capturing' && pendingJournal > 0)) {
      fail(`${row.state}, but the ledger captured it`)
    }
    if (row.state !== 'voided' && voided) fail(`${row.state}, but the ledger voided it`)
    if (row.state === 'refunded' && !refunded) fail('refunded, but the ledger has no refund')
    if (row.state !== 'refunded' && refunded && !(row.state === 'refunding' && pendingJournal > 0)) {
      fail(`${row.state}, but the ledger refunded it`)
    }
    if (row.state === 'captured' && (row.payment ?? null) === null) fail('captured without a payment record')
    const leg = await ledger.getTransfer(ids.leg('x'))
    const verdictKey = ReferralKeys.verdict(row.purchaseId)
    let credited = 0n
    try {
      credited = (await store.get(referralRow, verdictKey))?.amount ?? 0n
    } catch (err) {
      add({ code: 'corrupt_state', message: (err as Error).message, key: verdictKey })
      continue
    }
    const applying = row.state === 'capturing' && pendingJournal > 0
    if ((leg?.amount ?? 0n) !== credited && !applying) {
      add({
        code: 'referral_mismatch',
        key,
        message: `${row.purchaseId}: a referral credit of ${credited} decided, ${leg?.amount ?? 0n} in the ledger`,
      })
    }
  }

  for await (const [key, value] of store.entries(StateKeys.fundPrefix)) {
    try {
      const row = decodeRow(fundRow, key, value)
      if (row.state === 'done' && (await ledger.getTransfer(row.transferId)) === undefined) {
        add({ code: 'fund_mismatch', key, message: `top-up ${key} is done, but the ledger has no ${row.transferId}` })
      }
    } catch (err) {
      add({ code: 'corrupt_state', message: (err as Error).message, key })
    }
  }

  let reports = 0
  for await (const [key, value] of store.entries(StateKeys.reportPrefix)) {
    reports++
    try {
      decodeReportRow(key, value)
    } catch (err) {
      if (isError(err, StateCorruptError)) add({ code: 'corrupt_state', message: err.message, key })
      else throw err
    }
  }

  return {
    ok: ledgerViolations.length === 0 && clearing.length === 0,
    ledger: ledgerViolations,
    clearing,
    counts: { accounts: accounts.size, lines, purchases, reports, pendingJournal },
  }
}

/**
 * Audit the clearinghouse state of a stopped node: `roleDb` is the role's sublevel of the node's LevelDB. Opens
 * the ledger without its open-time checks (a damaged ledger must still be audited, not refused) and writes nothing.
 */
export async function auditStopped(roleDb: StateLevel, clock: Clock): Promise<AuditReport> {
  const ledgerStore = roleDb.sublevel('ledger', { valueEncoding: 'view' }) as unknown as LedgerStore
  const stateLevel = roleDb.sublevel('state', { valueEncoding: 'view' }) as unknown as StateLevel
  const ledger = await openLedger(ledgerStore, { clock, sync: false, verifyOnOpen: false })
  try {
    return await auditClearinghouse(new StateStore(stateLevel, false), ledger, ledgerStore)
  } finally {
    await ledger.close()
  }
}
