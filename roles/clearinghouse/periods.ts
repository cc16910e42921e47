/**
 * Closing a period (a UTC month) once it is over: subscription and ad-supported plays are paid pro rata from each
 * retailer's revenue of the period (pricing.ts `planPool`), and the period's statements become final. The whole
 * close is one intent batch (all its lines, the journal rows of its transfers and the `closed` marker), so a crash
 * leaves it either not begun or fully journalled.
 */
import { logger } from '@libp2p/logger'
import type { Clock } from '../../protocols/clock.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { MAX_JOURNAL_TRANSFERS } from './constants.ts'
import type { Journal, JournalEntry } from './journal.ts'
import { accountIdOf, distributorParticipant, retailerParticipant } from './participants.ts'
import { planPool, splitByWeights } from './pricing.ts'
import type { RecordBook } from './records.ts'
import { type LineBook, SettlementBatch, TransferSum } from './settlement.ts'
import { splitByBasisPoints } from './splits.ts'
import { periodOf, playsRow, revenueRow, StateKeys, type StoreOp } from './state.ts'
import { del, put, type StateStore } from './store.ts'
import { sharesOf } from './usage/plays.ts'

const log = logger('consort:clearinghouse:periods')

export interface PeriodDeps {
  store: StateStore
  journal: Journal
  records: RecordBook
  lines: LineBook
  clock: Clock
  serial: <T>(fn: () => Promise<T>) => Promise<T>
  fail: (err: Error) => void
  sync: boolean
}

export class Periods {
  readonly #d: PeriodDeps

  constructor(deps: PeriodDeps) {
    this.#d = deps
  }

  /** Close every period with activity that is over. Returns the periods closed. */
  async closeDue(): Promise<string[]> {
    const current = periodOf(this.#d.clock.now())
    const due: string[] = []
    for await (const key of this.#d.store.keys(StateKeys.activePeriodPrefix)) {
      const period = key.slice(StateKeys.activePeriodPrefix.length)
      if (period < current) due.push(period)
    }
    for (const period of due) await this.close(period)
    return due
  }

  async close(period: string): Promise<void> {
    await this.#d.serial(async () => {
      if (await this.#d.store.has(StateKeys.closed(period))) return
      const now = this.#d.clock.now()
      const batch = new SettlementBatch()
      const transfers = new TransferSum()
      const revenue = new Map<string, bigint>()
      for await (const [key, row] of this.#d.store.rows(revenueRow, StateKeys.revenuePrefix(period))) {
        const [, , retailer, currency] = key.split('/')
        revenue.set(`${retailer}/${currency}`, row.amount)
      }
      // retailer/currency → contract → content → plays
      const plays = new Map<string, Map<string, { distributor: string; contents: Map<string, number> }>>()
      for await (const [key, row] of this.#d.store.rows(playsRow, StateKeys.playsPrefix(period))) {
        const [, , retailer, currency] = key.split('/')
        const group = `${retailer}/${currency}`
        const contracts = plays.get(group) ?? new Map()
        const entry = contracts.get(row.contractCid) ?? {
          distributor: row.distributor,
          contents: new Map<string, number>(),
        }
        entry.contents.set(row.content, (entry.contents.get(row.content) ?? 0) + row.plays)
        contracts.set(row.contractCid, entry)
        plays.set(group, contracts)
      }
      for (const [group, contracts] of plays) {
        const [retailerKey, currency] = group.split('/') as [string, string]
        const pool = revenue.get(group) ?? 0n
        const list: Array<{ key: string; bps: number; plays: number }> = []
        const known = new Map<string, SignedRecord<'consort/contract'> | undefined>()
        for (const [cid, entry] of contracts) {
          const contract = await this.#d.records.get('consort/contract', cid)
          known.set(cid, contract)
          const total = [...entry.contents.values()].reduce((s, n) => s + n, 0)
          list.push({ key: cid, bps: contract?.body.revenueShareBps ?? 0, plays: total })
        }
        const retailer = retailerParticipant(retailerKey)
        for (const { key: cid, amount } of planPool(pool, list)) {
          if (amount === 0n) continue
          const contract = known.get(cid)
          if (contract === undefined) continue
          const entry = contracts.get(cid)!
          const distributor = distributorParticipant(entry.distributor)
          const shares = sharesOf(contract)
          for (const s of shares) batch.participant(s.party, s.key)
          const byContent = splitByWeights(
            amount,
            [...entry.contents].map(([content, n]) => ({ key: content, weight: BigInt(n) })),
          )
          for (const { key: content, amount: a } of byContent) {
            if (a === 0n) continue
            const ref = `plays:${period}:${content}`
            const line = (participant: string, kind: 'play' | 'split', value: bigint, counterparty: string) =>
              batch.line({
                period,
                participant,
                currency,
                kind,
                ref,
                content,
                counterparty,
                units: 0,
                amount: value,
                at: now,
              })
            line(retailer, 'play', -a, distributor)
            line(distributor, 'play', a, retailer)
            transfers.add({ debit: retailer, credit: distributor, currency, code: 'pool', amount: a })
            batch.account(retailer, currency)
            batch.account(distributor, currency)
            for (const s of splitByBasisPoints(a, shares)) {
              if (s.amount === 0n) continue
              line(distributor, 'split', -s.amount, s.party)
              line(s.party, 'split', s.amount, distributor)
              transfers.add({ debit: distributor, credit: s.party, currency, code: 'pool-split', amount: s.amount })
              batch.account(s.party, currency)
            }
          }
        }
      }
      const m = await this.#d.lines.materialise(batch)
      // The close must not mark the closed period active again.
      const ops: StoreOp[] = m.ops.filter((op) => op.k !== StateKeys.activePeriod(period))
      ops.push(put(StateKeys.closed(period), { v: 1, closedAt: now }), del(StateKeys.activePeriod(period)))
      const planned = transfers.list()
      const entries: Array<{ n: number; entry: JournalEntry }> = []
      for (
        let start = 0;
        start < planned.length || (start === 0 && m.accounts.length > 0);
        start += MAX_JOURNAL_TRANSFERS
      ) {
        const slice = planned.slice(start, start + MAX_JOURNAL_TRANSFERS)
        const {
          n,
          ops: journalOps,
          entry,
        } = this.#d.journal.intent((n) => ({
          kind: 'close',
          ref: period,
          accounts: start === 0 ? m.accounts : [],
          transfers: slice.map((t, i) => ({
            kind: 'posted' as const,
            id: `pool:${period}:${n}.${i}`,
            debitAccountId: accountIdOf(t.debit, t.currency),
            creditAccountId: accountIdOf(t.credit, t.currency),
            amount: t.amount,
            code: t.code,
            reference: `pool:${period}`,
          })),
          onSuccess: [],
          onFailure: [],
        }))
        ops.push(...journalOps)
        entries.push({ n, entry })
        if (planned.length === 0) break
      }
      try {
        await this.#d.store.write(ops, { sync: this.#d.sync })
      } catch (err) {
        if (entries.length > 0) this.#d.journal.rewind(entries[0]!.n)
        throw err
      }
      this.#d.lines.commit(m)
      for (const { n, entry } of entries) {
        const result = await this.#d.journal.apply(n, entry, { sync: false })
        if (!result.ok) this.#d.fail(new Error(`the ledger refused the pool transfers of ${period} (journal ${n})`))
      }
      log('closed period %s: %d pool transfers', period, planned.length)
    })
  }
}
