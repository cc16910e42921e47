/**
 * Micro-benchmark of the ledger: how many posted transfers per second it writes durably (every batch fsynced,
 * `sync: true`), submitted in batches the way a clearinghouse settles purchases. Not a test; `npm run bench`
 * wires it in.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { systemClock } from '../../../protocols/clock.ts'
import { InvalidFieldError, InvariantViolationError } from './errors.ts'
import { type LedgerStore, openLedger } from './ledger.ts'
import type { TransferInput } from './types.ts'

/** Wallets the transfers are spread over (each checked against its limit on every debit). */
const BENCH_WALLETS = 64

/** Transfers per `createTransfers` call unless told otherwise: a busy clearinghouse's settlement batch. */
export const BENCH_DEFAULT_BATCH = 1000

/**
 * Writes `n` posted transfers (wallet → retailer, limit-checked) in batches of `batchSize` into a fresh ledger
 * in a new directory under `dir` (removed afterwards) and returns transfers durably written per second, timed
 * over the `createTransfers` calls only.
 */
export async function benchLedger(dir: string, n: number, batchSize = BENCH_DEFAULT_BATCH): Promise<number> {
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidFieldError('n', n, 'must be a positive integer')
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new InvalidFieldError('batchSize', batchSize, 'must be a positive integer')
  }
  const home = await mkdtemp(join(dir, 'ledger-bench-'))
  const db = new Level<string, Uint8Array>(home, { valueEncoding: 'view' })
  try {
    await db.open()
    const ledger = await openLedger(
      db.sublevel<string, Uint8Array>('ledger', { valueEncoding: 'view' }) as unknown as LedgerStore,
      {
        clock: systemClock,
        sync: true,
      },
    )
    const wallets = Array.from({ length: BENCH_WALLETS }, (_, i) => `wallet-${i}`)
    await ledger.createAccounts([
      { id: 'bank', currency: 'EUR', kind: 'external', owner: 'bank' },
      { id: 'shop', currency: 'EUR', kind: 'retailer', owner: 'shop' },
      ...wallets.map((id) => ({
        id,
        currency: 'EUR',
        kind: 'wallet' as const,
        owner: id,
        flags: { debitsMustNotExceedCredits: true },
      })),
    ])
    await ledger.createTransfers(
      wallets.map((id) => ({
        kind: 'posted' as const,
        id: `fund-${id}`,
        debitAccountId: 'bank',
        creditAccountId: id,
        amount: BigInt(n) * 1000n,
      })),
    )
    let elapsedMs = 0
    for (let start = 0; start < n; start += batchSize) {
      const batch: TransferInput[] = []
      for (let i = start; i < Math.min(n, start + batchSize); i++) {
        batch.push({
          kind: 'posted',
          id: `sale-${i}`,
          debitAccountId: wallets[i % BENCH_WALLETS] ?? 'bank',
          creditAccountId: 'shop',
          amount: BigInt(100 + (i % 900)),
          code: 'sale',
        })
      }
      const t0 = performance.now()
      const results = await ledger.createTransfers(batch)
      elapsedMs += performance.now() - t0
      if (results.some((r) => r.result !== 'ok')) throw new InvariantViolationError('a benchmark transfer was refused')
    }
    await ledger.close()
    return (n / elapsedMs) * 1000
  } finally {
    await db.close()
    await rm(home, { recursive: true, force: true })
  }
}
