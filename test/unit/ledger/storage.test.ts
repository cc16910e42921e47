import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { FakeClock } from '../../../protocols/clock.ts'
import {
  AccountNotFoundError,
  InvalidQueryError,
  InvariantViolationError,
  type Ledger,
  LedgerCorruptError,
  LedgerVersionError,
  MAX_PAGE_SIZE,
  type TransferInput,
} from '../../../roles/clearinghouse/ledger/index.ts'
import { bal, eur, open, START, TempDb, wallet } from './helpers.ts'

const posted = (id: string, from: string, to: string, amount: bigint): TransferInput => ({
  kind: 'posted',
  id,
  debitAccountId: from,
  creditAccountId: to,
  amount,
})

const RAW = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

async function populate(ledger: Ledger): Promise<void> {
  await ledger.createAccounts([eur('bank', 'external'), wallet('alice'), wallet('bob'), eur('shop', 'retailer')])
  const results = await ledger.createTransfers([
    posted('fund-a', 'bank', 'alice', 500n),
    posted('fund-b', 'bank', 'bob', 300n),
    posted('buy-1', 'alice', 'shop', 120n),
    { kind: 'pending', id: 'auth-1', debitAccountId: 'bob', creditAccountId: 'shop', amount: 99n, timeoutMs: 60_000 },
    { kind: 'pending', id: 'auth-2', debitAccountId: 'alice', creditAccountId: 'shop', amount: 50n, timeoutMs: 1_000 },
    { kind: 'pending', id: 'auth-3', debitAccountId: 'alice', creditAccountId: 'shop', amount: 10n, timeoutMs: 60_000 },
    { kind: 'post_pending', id: 'cap-3', pendingId: 'auth-3', amount: 7n },
  ])
  assert.ok(results.every((r) => r.result === 'ok'))
}

describe('ledger: storage, queries and audit', () => {
  let tmp: TempDb
  let clock: FakeClock
  let ledger: Ledger

  beforeEach(async () => {
    tmp = await TempDb.create()
    clock = new FakeClock(START)
    ledger = await open(tmp.sublevel(), clock)
  })

  afterEach(async () => {
    await ledger.close()
    await tmp.dispose()
  })

  describe('queries', () => {
    it('pages through all transfers and one account, bounded by limit', async () => {
      await ledger.createAccounts([eur('a'), eur('b'), eur('c')])
      for (let i = 0; i < 25; i++) {
        await ledger.createTransfers([posted(`t${i}`, i % 2 === 0 ? 'a' : 'c', 'b', BigInt(i + 1))])
      }
      const all: string[] = []
      let after = 0
      for (;;) {
        const page = await ledger.transfers({ after, limit: 10 })
        all.push(...page.transfers.map((t) => t.id))
        if (page.next === null) break
        after = page.next
      }
      assert.deepEqual(
        all,
        Array.from({ length: 25 }, (_, i) => `t${i}`),
      )
      const ofA = await ledger.transfers({ accountId: 'a', limit: 5 })
      assert.deepEqual(
        ofA.transfers.map((t) => t.id),
        ['t0', 't2', 't4', 't6', 't8'],
      )
      assert.equal(ofA.next, 9)
      const rest = await ledger.transfers({ accountId: 'a', after: ofA.next ?? 0, limit: MAX_PAGE_SIZE })
      assert.deepEqual(
        rest.transfers.map((t) => t.id),
        ['t10', 't12', 't14', 't16', 't18', 't20', 't22', 't24'],
      )
      assert.equal(rest.next, null)
      assert.equal((await ledger.transfers({ accountId: 'b', limit: MAX_PAGE_SIZE })).transfers.length, 25)
      // An account whose id is a prefix of another's sees only its own transfers.
      await ledger.createAccounts([eur('a.', 'retailer')])
      await ledger.createTransfers([posted('x', 'a.', 'b', 1n)])
      assert.equal((await ledger.transfers({ accountId: 'a', limit: MAX_PAGE_SIZE })).transfers.length, 13)
    })

    it('refuses unbounded or malformed queries', async () => {
      await assert.rejects(ledger.transfers({ limit: 0 }), InvalidQueryError)
      await assert.rejects(ledger.transfers({ limit: MAX_PAGE_SIZE + 1 }), InvalidQueryError)
      await assert.rejects(ledger.transfers({ limit: 1.5 }), InvalidQueryError)
      await assert.rejects(ledger.transfers({ limit: 10, after: -1 }), InvalidQueryError)
      await assert.rejects(ledger.transfers({ limit: 10, accountId: 'ghost' }), AccountNotFoundError)
      await assert.rejects(ledger.balance('ghost'), AccountNotFoundError)
    })
  })

  it('keeps everything across a restart: balances, transfers, pending state, idempotency, expiry', async () => {
    await populate(ledger)
    const before = {
      balances: await Promise.all(['bank', 'alice', 'bob', 'shop'].map((id) => ledger.balance(id))),
      page: await ledger.transfers({ limit: MAX_PAGE_SIZE }),
      account: await ledger.getAccount('alice'),
    }
    await ledger.close()
    await tmp.reopen()
    ledger = await open(tmp.sublevel(), clock)
    assert.deepEqual(
      await Promise.all(['bank', 'alice', 'bob', 'shop'].map((id) => ledger.balance(id))),
      before.balances,
    )
    assert.deepEqual(await ledger.transfers({ limit: MAX_PAGE_SIZE }), before.page)
    assert.deepEqual(await ledger.getAccount('alice'), before.account)
    assert.deepEqual(await ledger.audit(), [])
    // Retries after the restart are still recognised.
    assert.deepEqual(
      (
        await ledger.createTransfers([
          posted('fund-a', 'bank', 'alice', 500n),
          { kind: 'post_pending', id: 'cap-3', pendingId: 'auth-3', amount: 7n },
        ])
      ).map((r) => r.result),
      ['exists', 'exists'],
    )
    assert.equal(
      (await ledger.createTransfers([{ kind: 'void_pending', id: 'v3', pendingId: 'auth-3' }]))[0]?.result,
      'pending_transfer_already_posted',
    )
    // Open reservations survive, and still expire on time.
    assert.deepEqual(await ledger.balance('alice'), bal(127n, 500n, 50n, 0n))
    clock.advance(1_000)
    assert.equal(await ledger.expirePending(), 1)
    assert.deepEqual(await ledger.balance('alice'), bal(127n, 500n, 0n, 0n))
    assert.equal(
      (await ledger.createTransfers([{ kind: 'post_pending', id: 'cap-1', pendingId: 'auth-1' }]))[0]?.result,
      'ok',
    )
    // New transfers continue the log without a gap.
    const last = (await ledger.transfers({ after: 7, limit: 10 })).transfers
    assert.deepEqual(
      last.map((t) => [t.seq, t.id]),
      [[8, 'cap-1']],
    )
    assert.deepEqual(await ledger.audit(), [])
  })

  describe('audit', () => {
    it('is clean on a healthy ledger', async () => {
      await populate(ledger)
      assert.deepEqual(await ledger.audit(), [])
    })

    it('catches a balance row corrupted by hand', async () => {
      await populate(ledger)
      const store = tmp.sublevel()
      const forged = dagCbor.encode({
        v: 1,
        debitsPosted: 0,
        creditsPosted: 1_000_500,
        debitsPending: 0,
        creditsPending: 0,
      })
      await store.put('b/alice', forged, RAW)
      const violations = await ledger.audit()
      const codes = violations.map((v) => `${v.code}:${v.accountId ?? ''}`)
      assert.ok(codes.includes('balance_mismatch:alice'), codes.join(' '))
      assert.ok(codes.includes('cache_mismatch:alice'), 'the in-memory balance no longer mirrors the disk')
      assert.ok(violations.some((v) => v.code === 'unbalanced_currency' && v.message.includes('EUR')))
      const mismatch = violations.find((v) => v.code === 'balance_mismatch' && v.message.includes('creditsPosted'))
      assert.match(mismatch?.message ?? '', /stored 1000500, the log gives 500/)
      // Garbage bytes are reported too, not thrown.
      await store.put('b/bob', new Uint8Array([1, 2, 3]), RAW)
      const again = await ledger.audit()
      assert.ok(again.some((v) => v.code === 'corrupt_record' && v.key === 'b/bob'))
      // And such a store refuses to open unless asked to.
      await ledger.close()
      await assert.rejects(open(tmp.sublevel(), clock), /corrupt|inconsistent/)
    })

    it('catches a transfer deleted by hand', async () => {
      await populate(ledger)
      const store = tmp.sublevel()
      await store.del('t/buy-1', RAW)
      const violations = await ledger.audit()
      assert.ok(
        violations.some((v) => v.code === 'transfer_missing' && v.transferId === 'buy-1'),
        JSON.stringify(violations),
      )
      assert.ok(violations.some((v) => v.code === 'balance_mismatch' && v.accountId === 'alice'))
      assert.ok(violations.some((v) => v.code === 'balance_mismatch' && v.accountId === 'shop'))
      assert.ok(violations.some((v) => v.code === 'index_orphan' && v.transferId === 'buy-1'))
    })

    it('catches a transfer erased with its log entry, and a pending resolution erased', async () => {
      await populate(ledger)
      const store = tmp.sublevel()
      const buy = await ledger.getTransfer('buy-1')
      await store.batch(
        [
          { type: 'del', key: 't/buy-1' },
          { type: 'del', key: `l/${String(buy?.seq).padStart(16, '0')}` },
          { type: 'del', key: 's/auth-3' },
        ],
        RAW,
      )
      const codes = (await ledger.audit()).map((v) => v.code)
      for (const code of ['log_gap', 'balance_mismatch', 'index_orphan', 'pending_mismatch']) {
        assert.ok(codes.includes(code as (typeof codes)[number]), `${code} in ${codes.join(' ')}`)
      }
    })

    it('catches a transfer forged into the store', async () => {
      await populate(ledger)
      const store = tmp.sublevel()
      const t = await ledger.getTransfer('buy-1')
      const forged = dagCbor.encode({ v: 1, ...t, id: 'forged', seq: 99 })
      await store.put('t/forged', forged, RAW)
      const violations = await ledger.audit()
      assert.ok(violations.some((v) => v.code === 'transfer_not_in_log' && v.transferId === 'forged'))
    })
  })

  it('asserts the invariants before writing: a violation throws and writes nothing', async () => {
    await populate(ledger)
    await ledger.close()
    // Break the books on disk, then open without the open-time check: the next write must refuse to go on.
    const store = tmp.sublevel()
    await store.put(
      'b/bank',
      dagCbor.encode({ v: 1, debitsPosted: 801, creditsPosted: 0, debitsPending: 0, creditsPending: 0 }),
      RAW,
    )
    await assert.rejects(open(store, clock), LedgerCorruptError)
    ledger = await open(store, clock, { verifyOnOpen: false })
    await assert.rejects(ledger.createTransfers([posted('more', 'bank', 'alice', 5n)]), InvariantViolationError)
    assert.equal(await ledger.getTransfer('more'), undefined)
    assert.deepEqual(await ledger.balance('alice'), bal(127n, 500n, 50n, 0n))
    assert.equal((await ledger.transfers({ after: 7, limit: 10 })).transfers.length, 0)
    assert.ok((await ledger.audit()).some((v) => v.code === 'unbalanced_currency'))
  })

  it('refuses a store of another layout version or one that is not a ledger', async () => {
    const other = tmp.sublevel('other')
    await other.put('m/version', dagCbor.encode(2), RAW)
    await assert.rejects(open(other, clock), LedgerVersionError)
    const foreign = tmp.sublevel('foreign')
    await foreign.put('hello', new Uint8Array([1]), RAW)
    await assert.rejects(open(foreign, clock), LedgerVersionError)
  })
})
