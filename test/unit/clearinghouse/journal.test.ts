import assert from 'node:assert/strict'
import { MemoryLevel } from 'memory-level'
import { FakeClock } from '../../../protocols/clock.ts'
import { Journal, type JournalEntry } from '../../../roles/clearinghouse/journal.ts'
import { openLedger } from '../../../roles/clearinghouse/ledger/index.ts'
import { StateKeys } from '../../../roles/clearinghouse/state.ts'
import { put, type StateLevel, StateStore } from '../../../roles/clearinghouse/store.ts'

describe('clearinghouse journal', () => {
  async function open(root: MemoryLevel<string, Uint8Array>) {
    const ledgerStore = root.sublevel('ledger', { valueEncoding: 'view' })
    const store = new StateStore(root.sublevel('state', { valueEncoding: 'view' }) as unknown as StateLevel, false)
    const ledger = await openLedger(ledgerStore as never, { clock: new FakeClock(), sync: false })
    const journal = new Journal(store, ledger)
    await journal.open()
    return { store, ledger, journal }
  }

  const entry = (n: number): JournalEntry => ({
    kind: 'test',
    ref: `t${n}`,
    accounts: [
      { id: 'a', currency: 'EUR', kind: 'external', owner: 'a', flags: {} },
      { id: 'b', currency: 'EUR', kind: 'retailer', owner: 'b', flags: {} },
    ],
    // Small amounts come back from DAG-CBOR as numbers: the row must still decode after a crash.
    transfers: [
      {
        kind: 'posted',
        id: `x${n}.0`,
        debitAccountId: 'a',
        creditAccountId: 'b',
        amount: 5n,
        code: 'c',
        reference: 'r',
      },
      {
        kind: 'posted',
        id: `x${n}.1`,
        debitAccountId: 'a',
        creditAccountId: 'b',
        amount: 2n ** 60n,
        code: 'c',
        reference: 'r',
      },
    ],
    onSuccess: [put(`done/${n}`, { v: 1 })],
    onFailure: [put(`failed/${n}`, { v: 1 })],
  })

  it('replays, after a crash, a batch whose intent was written but not applied: once', async () => {
    const root = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
    await root.open()
    const first = await open(root)
    const { n, ops } = first.journal.intent(() => entry(1))
    await first.store.write(ops)
    // Crash: the ledger never saw it. A restart replays it.
    await first.ledger.close()
    const second = await open(root)
    assert.equal((await second.journal.pending()).length, 1)
    assert.equal(await second.journal.recover(), 1)
    assert.equal((await second.ledger.balance('b')).creditsPosted, 5n + 2n ** 60n)
    assert.ok(await second.store.has('done/1'))
    assert.ok(!(await second.store.has(StateKeys.journal(n))))
    // The next intent gets the next number; a crash after the ledger applied it replays to `exists`, not twice.
    const next = second.journal.intent(() => entry(2))
    assert.equal(next.n, n + 1)
    await second.store.write(next.ops)
    await second.journal.apply(next.n, next.entry)
    await second.store.write(next.ops)
    await second.ledger.close()
    const third = await open(root)
    assert.equal(await third.journal.recover(), 1)
    assert.equal((await third.ledger.balance('b')).creditsPosted, 2n * (5n + 2n ** 60n))
    assert.deepEqual(await third.ledger.audit(), [])
    await third.ledger.close()
  })
})
