import assert from 'node:assert/strict'
import fc from 'fast-check'
import { FakeClock } from '../../../protocols/clock.ts'
import {
  type AccountInput,
  type Ledger,
  type LedgerStore,
  MAX_PAGE_SIZE,
  type Transfer,
  type TransferInput,
} from '../../../roles/clearinghouse/ledger/index.ts'
import { eur, open, START, TempDb, wallet } from './helpers.ts'

const ACCOUNTS: AccountInput[] = [
  eur('bank', 'external'),
  wallet('w1'),
  wallet('w2'),
  eur('shop', 'retailer'),
  eur('label', 'distributor'),
  { id: 'usd', currency: 'USD', kind: 'external', owner: 'bank' },
  { id: 'usd-w', currency: 'USD', kind: 'wallet', owner: 'x', flags: { debitsMustNotExceedCredits: true } },
]
const IDS = ACCOUNTS.map((a) => a.id)
const FUNDING: TransferInput[] = [
  { kind: 'posted', id: 'fund-w1', debitAccountId: 'bank', creditAccountId: 'w1', amount: 1000n },
  { kind: 'posted', id: 'fund-w2', debitAccountId: 'bank', creditAccountId: 'w2', amount: 400n },
  { kind: 'posted', id: 'fund-usd', debitAccountId: 'usd', creditAccountId: 'usd-w', amount: 300n },
]

async function fresh(store: LedgerStore, clock: FakeClock): Promise<Ledger> {
  const ledger = await open(store, clock)
  await ledger.createAccounts(ACCOUNTS)
  assert.ok((await ledger.createTransfers(FUNDING)).every((r) => r.result === 'ok'))
  return ledger
}

/** The whole observable ledger: every balance and every transfer. */
async function snapshot(ledger: Ledger, withOrder: boolean) {
  const balances = Object.fromEntries(await Promise.all(IDS.map(async (id) => [id, await ledger.balance(id)] as const)))
  const transfers: Transfer[] = []
  let after = 0
  for (;;) {
    const page = await ledger.transfers({ after, limit: MAX_PAGE_SIZE })
    transfers.push(...page.transfers)
    if (page.next === null) break
    after = page.next
  }
  const strip = (t: Transfer) => (withOrder ? t : { ...t, seq: 0 })
  const byId = transfers.map(strip).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { balances, transfers: byId }
}

/** Debits equal credits per currency, and no wallet beyond its limit. */
async function assertBooksBalance(ledger: Ledger): Promise<void> {
  const totals = new Map<string, bigint[]>()
  for (const a of ACCOUNTS) {
    const b = await ledger.balance(a.id)
    const t = totals.get(a.currency) ?? [0n, 0n, 0n, 0n]
    t[0]! += b.debitsPosted
    t[1]! += b.creditsPosted
    t[2]! += b.debitsPending
    t[3]! += b.creditsPending
    totals.set(a.currency, t)
    if (a.flags?.debitsMustNotExceedCredits) assert.ok(b.debitsPosted + b.debitsPending <= b.creditsPosted, a.id)
  }
  for (const [currency, [dp, cp, dpe, cpe]] of totals) {
    assert.equal(dp, cp, `${currency} posted debits = credits`)
    assert.equal(dpe, cpe, `${currency} pending debits = credits`)
  }
}

/** Two distinct accounts, by index. */
const pairArb = fc
  .tuple(fc.nat({ max: IDS.length - 1 }), fc.nat({ max: IDS.length - 2 }))
  .map(([a, k]) => [IDS[a]!, IDS[(a + 1 + k) % IDS.length]!] as const)

type Shape =
  | { kind: 'posted' | 'pending'; pair: readonly [string, string]; amount: bigint; timeoutMs: number }
  | { kind: 'post_pending' | 'void_pending'; ref: number; amount: bigint | undefined }

const shapeArb: fc.Arbitrary<Shape> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('posted' as const, 'pending' as const),
    pair: pairArb,
    amount: fc.bigInt({ min: 1n, max: 600n }),
    timeoutMs: fc.integer({ min: 1, max: 3000 }),
  }),
  fc.record({
    kind: fc.constantFrom('post_pending' as const, 'void_pending' as const),
    ref: fc.nat(),
    amount: fc.option(fc.bigInt({ min: 1n, max: 600n }), { nil: undefined }),
  }),
)

function toInput(shape: Shape, i: number): TransferInput {
  const id = `t${i}`
  switch (shape.kind) {
    case 'posted':
      return { kind: 'posted', id, debitAccountId: shape.pair[0], creditAccountId: shape.pair[1], amount: shape.amount }
    case 'pending':
      return {
        kind: 'pending',
        id,
        debitAccountId: shape.pair[0],
        creditAccountId: shape.pair[1],
        amount: shape.amount,
        timeoutMs: shape.timeoutMs,
      }
    case 'post_pending':
    case 'void_pending': {
      const pendingId = `t${i === 0 ? 'x' : shape.ref % i}`
      if (shape.kind === 'void_pending') return { kind: 'void_pending', id, pendingId }
      return shape.amount === undefined
        ? { kind: 'post_pending', id, pendingId }
        : { kind: 'post_pending', id, pendingId, amount: shape.amount }
    }
  }
}

/** Cuts a list into consecutive batches of the given sizes (the last takes the rest). */
function batches<T>(list: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = []
  let at = 0
  for (const size of sizes) {
    if (at >= list.length) break
    out.push(list.slice(at, at + size))
    at += size
  }
  if (at < list.length) out.push(list.slice(at))
  return out
}

describe('ledger: properties over whole ledgers', () => {
  let tmp: TempDb

  before(async () => {
    tmp = await TempDb.create()
  })

  after(async () => {
    await tmp.dispose()
  })

  it('any interleaving, duplication and batching of retries of independent transfers gives the same ledger', async () => {
    // Posted and pending transfers among accounts without limits commute, so the order of first arrival does
    // not matter either; transfers naming a missing account or crossing currencies fail in any order.
    const unlimited = fc.record({
      kind: fc.constantFrom('posted' as const, 'pending' as const),
      pair: pairArb.filter(([a, b]) => !a.startsWith('w') && !b.startsWith('w') && a !== 'usd-w' && b !== 'usd-w'),
      amount: fc.bigInt({ min: 1n, max: 2n ** 40n }),
      timeoutMs: fc.integer({ min: 1, max: 3000 }),
    })
    const scenario = fc.array(unlimited, { minLength: 1, maxLength: 15 }).chain((shapes) => {
      const inputs = shapes.map(toInput)
      const copies = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: inputs.length, maxLength: inputs.length })
      return fc.tuple(
        fc.constant(inputs),
        copies.chain((counts) => {
          const submissions = inputs.flatMap((t, i) => Array.from({ length: counts[i] ?? 1 }, () => t))
          return fc.shuffledSubarray(submissions, { minLength: submissions.length, maxLength: submissions.length })
        }),
        fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 20 }),
        fc.array(fc.boolean(), { maxLength: 20 }),
      )
    })
    await fc.assert(
      fc.asyncProperty(scenario, async ([inputs, submissions, sizes, restarts]) => {
        const clock = new FakeClock(START)
        const reference = await fresh(tmp.fresh(), clock)
        const expected = await reference.createTransfers(inputs)
        const want = await snapshot(reference, false)
        await reference.close()

        const store = tmp.fresh()
        let ledger = await fresh(store, clock)
        const seen = new Set<string>()
        try {
          for (const [b, batch] of batches(submissions, sizes).entries()) {
            const results = await ledger.createTransfers(batch)
            for (const r of results) {
              const first = expected.find((e) => e.id === r.id)?.result
              if (first === 'ok') assert.equal(r.result, seen.has(r.id) ? 'exists' : 'ok', r.id)
              else assert.equal(r.result, first, r.id)
              seen.add(r.id)
            }
            await assertBooksBalance(ledger)
            if (restarts[b]) {
              await ledger.close()
              ledger = await open(store, clock)
            }
          }
          assert.deepEqual(await snapshot(ledger, false), want)
          assert.deepEqual(await ledger.audit(), [])
        } finally {
          await ledger.close()
        }
      }),
      { numRuns: 60 },
    )
  })

  it('retries of applied transfers, anywhere after them and in any batching, change nothing (with limits)', async () => {
    const scenario = fc.array(shapeArb, { minLength: 1, maxLength: 15 }).chain((shapes) => {
      const inputs = shapes.map(toInput)
      return fc.tuple(
        fc.constant(inputs),
        // For each position, which earlier transfers to retry right after it.
        fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: inputs.length, maxLength: inputs.length }),
        fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 30 }),
      )
    })
    await fc.assert(
      fc.asyncProperty(scenario, async ([inputs, retryPicks, sizes]) => {
        const clock = new FakeClock(START)
        // Reference: each transfer once, one per call.
        const reference = await fresh(tmp.fresh(), clock)
        const applied = new Set<number>()
        for (const [i, t] of inputs.entries()) {
          const [r] = await reference.createTransfers([t])
          if (r?.result === 'ok') applied.add(i)
        }
        const want = await snapshot(reference, true)
        await reference.close()

        // Same first arrivals, with retries of applied transfers sprinkled after them, batched at random.
        const submissions: Array<{ t: TransferInput; retry: boolean }> = []
        for (const [i, t] of inputs.entries()) {
          submissions.push({ t, retry: false })
          const done = [...applied].filter((j) => j <= i)
          for (const pick of retryPicks[i] ?? []) {
            if (done.length > 0) submissions.push({ t: inputs[done[pick % done.length]!]!, retry: true })
          }
        }
        const ledger = await fresh(tmp.fresh(), clock)
        try {
          for (const batch of batches(submissions, sizes)) {
            const results = await ledger.createTransfers(batch.map((s) => s.t))
            for (const [k, r] of results.entries()) if (batch[k]?.retry) assert.equal(r.result, 'exists', r.id)
            await assertBooksBalance(ledger)
          }
          assert.deepEqual(await snapshot(ledger, true), want)
          assert.deepEqual(await ledger.audit(), [])
        } finally {
          await ledger.close()
        }
      }),
      { numRuns: 60 },
    )
  })

  it('debits equal credits after every batch, whatever is thrown at the ledger (chains, time, expiry)', async () => {
    type Step =
      | { op: 'batch'; shapes: Array<{ shape: Shape; linked: boolean }> }
      | { op: 'advance'; ms: number }
      | { op: 'expire' }
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          op: fc.constant('batch' as const),
          shapes: fc.array(fc.record({ shape: shapeArb, linked: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.nat({ max: 2000 }) }) },
      { weight: 1, arbitrary: fc.constant({ op: 'expire' as const }) },
    )
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (steps) => {
        const clock = new FakeClock(START)
        const ledger = await fresh(tmp.fresh(), clock)
        let n = 0
        try {
          for (const step of steps) {
            if (step.op === 'advance') clock.advance(step.ms)
            else if (step.op === 'expire') await ledger.expirePending()
            else {
              const batch = step.shapes.map(({ shape, linked }, k) => ({
                ...toInput(shape, n + k),
                linked: linked && k < step.shapes.length - 1,
              }))
              const results = await ledger.createTransfers(batch)
              // A chain is all applied or not at all.
              let chainStart = 0
              for (let k = 0; k < batch.length; k++) {
                if (batch[k]?.linked) continue
                const chain = results.slice(chainStart, k + 1).map((r) => r.result)
                const ok = chain.every((r) => r === 'ok' || r === 'exists')
                if (!ok) {
                  assert.equal(chain.filter((r) => r !== 'linked_event_failed').length, 1)
                  for (const r of results.slice(chainStart, k + 1)) {
                    assert.equal(await ledger.getTransfer(r.id), undefined, `${r.id} of a failed chain`)
                  }
                }
                chainStart = k + 1
              }
              n += batch.length
            }
            await assertBooksBalance(ledger)
          }
          assert.deepEqual(await ledger.audit(), [])
        } finally {
          await ledger.close()
        }
      }),
      { numRuns: 100 },
    )
  })
})
