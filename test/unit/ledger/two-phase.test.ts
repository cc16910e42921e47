import assert from 'node:assert/strict'
import fc from 'fast-check'
import { FakeClock } from '../../../protocols/clock.ts'
import {
  type Ledger,
  type LedgerStore,
  MAX_EXPIRE_PER_BATCH,
  type TransferInput,
  type TransferResultCode,
} from '../../../roles/clearinghouse/ledger/index.ts'
import { bal, eur, open, START, TempDb, wallet } from './helpers.ts'

async function setup(store: LedgerStore, clock: FakeClock, funds: bigint): Promise<Ledger> {
  const ledger = await open(store, clock)
  await ledger.createAccounts([eur('bank', 'external'), wallet('alice'), eur('shop', 'retailer')])
  const [r] = await ledger.createTransfers([
    { kind: 'posted', id: 'fund', debitAccountId: 'bank', creditAccountId: 'alice', amount: funds },
  ])
  assert.equal(r?.result, 'ok')
  return ledger
}

const pending = (id: string, amount: bigint, timeoutMs = 1000): TransferInput => ({
  kind: 'pending',
  id,
  debitAccountId: 'alice',
  creditAccountId: 'shop',
  amount,
  timeoutMs,
})
const post = (id: string, pendingId: string, amount?: bigint): TransferInput =>
  amount === undefined ? { kind: 'post_pending', id, pendingId } : { kind: 'post_pending', id, pendingId, amount }
const voidP = (id: string, pendingId: string): TransferInput => ({ kind: 'void_pending', id, pendingId })

async function one(ledger: Ledger, t: TransferInput): Promise<TransferResultCode> {
  const [r] = await ledger.createTransfers([t])
  assert.ok(r)
  return r.result
}

describe('ledger: two-phase transfers', () => {
  let tmp: TempDb
  let ledger: Ledger
  let clock: FakeClock

  beforeEach(async () => {
    tmp = await TempDb.create()
    clock = new FakeClock(START)
    ledger = await setup(tmp.sublevel(), clock, 100n)
  })

  afterEach(async () => {
    await ledger.close()
    await tmp.dispose()
  })

  it('reserves: a wallet cannot spend what pending transfers hold', async () => {
    assert.equal(await one(ledger, pending('p1', 80n)), 'ok')
    assert.deepEqual(await ledger.balance('alice'), bal(0n, 100n, 80n, 0n))
    assert.deepEqual(await ledger.balance('shop'), bal(0n, 0n, 0n, 80n))
    assert.equal(await one(ledger, pending('p2', 30n)), 'exceeds_credits')
    assert.equal(
      await one(ledger, { kind: 'posted', id: 'x', debitAccountId: 'alice', creditAccountId: 'shop', amount: 21n }),
      'exceeds_credits',
    )
    assert.equal(await one(ledger, pending('p3', 20n)), 'ok')
    assert.deepEqual(await ledger.pendingStatus('p1'), {
      pendingId: 'p1',
      state: 'pending',
      expiresAt: START + 1000,
      resolvedBy: null,
      postedAmount: 0n,
      resolvedAt: null,
    })
  })

  it('posts part of a pending amount once, releasing the rest; refuses a second resolution', async () => {
    await one(ledger, pending('p1', 80n))
    clock.advance(10)
    assert.equal(await one(ledger, post('p1:post', 'p1', 50n)), 'ok')
    assert.deepEqual(await ledger.balance('alice'), bal(50n, 100n, 0n, 0n))
    assert.deepEqual(await ledger.balance('shop'), bal(0n, 50n, 0n, 0n))
    const status = await ledger.pendingStatus('p1')
    assert.equal(status?.state, 'posted')
    assert.equal(status?.resolvedBy, 'p1:post')
    assert.equal(status?.postedAmount, 50n)
    assert.equal(status?.resolvedAt, START + 10)
    assert.equal(await one(ledger, post('p1:post', 'p1', 50n)), 'exists')
    assert.equal(await one(ledger, post('p1:post', 'p1', 40n)), 'exists_with_different_fields')
    assert.equal(await one(ledger, post('p1:post', 'p1')), 'exists_with_different_fields')
    assert.equal(await one(ledger, post('p1:post2', 'p1', 10n)), 'pending_transfer_already_posted')
    assert.equal(await one(ledger, voidP('p1:void', 'p1')), 'pending_transfer_already_posted')
    const t = await ledger.getTransfer('p1:post')
    assert.equal(t?.amount, 50n)
    assert.equal(t?.debitAccountId, 'alice')
    assert.equal(t?.pendingId, 'p1')
    clock.advance(5000)
    assert.equal(await ledger.expirePending(), 0, 'a posted transfer never expires')
    assert.deepEqual(await ledger.balance('alice'), bal(50n, 100n, 0n, 0n))
    assert.deepEqual(await ledger.audit(), [])
  })

  it('posts the whole amount when none is given; a retry without amount or with the full one is the same', async () => {
    await one(ledger, pending('p1', 80n))
    assert.equal(await one(ledger, post('c', 'p1')), 'ok')
    assert.equal(await one(ledger, post('c', 'p1')), 'exists')
    assert.equal(await one(ledger, post('c', 'p1', 80n)), 'exists')
    assert.deepEqual(await ledger.balance('shop'), bal(0n, 80n))
  })

  it('refuses posting more than pending, posting what is not pending or does not exist', async () => {
    await one(ledger, pending('p1', 80n))
    assert.equal(await one(ledger, post('c', 'p1', 81n)), 'exceeds_pending_transfer_amount')
    assert.equal(await one(ledger, post('c', 'fund')), 'pending_transfer_not_pending')
    assert.equal(await one(ledger, post('c', 'ghost')), 'pending_transfer_not_found')
    assert.equal(await one(ledger, voidP('c', 'ghost')), 'pending_transfer_not_found')
    assert.equal(await ledger.pendingStatus('fund'), undefined)
    assert.equal(await ledger.pendingStatus('ghost'), undefined)
  })

  it('voids once: releases everything, and then refuses a post', async () => {
    await one(ledger, pending('p1', 80n))
    assert.equal(await one(ledger, voidP('v', 'p1')), 'ok')
    assert.deepEqual(await ledger.balance('alice'), bal(0n, 100n))
    assert.deepEqual(await ledger.balance('shop'), bal(0n, 0n))
    assert.equal(await one(ledger, voidP('v', 'p1')), 'exists')
    assert.equal(await one(ledger, post('v', 'p1')), 'exists_with_different_fields')
    assert.equal(await one(ledger, voidP('v2', 'p1')), 'pending_transfer_already_voided')
    assert.equal(await one(ledger, post('c', 'p1')), 'pending_transfer_already_voided')
    assert.equal((await ledger.getTransfer('v'))?.amount, 80n)
    assert.equal((await ledger.pendingStatus('p1'))?.state, 'voided')
  })

  it('creates and posts a pending transfer in one batch', async () => {
    const results = await ledger.createTransfers([pending('p', 60n), post('c', 'p', 60n), pending('q', 40n)])
    assert.deepEqual(
      results.map((r) => r.result),
      ['ok', 'ok', 'ok'],
    )
    assert.deepEqual(await ledger.balance('alice'), bal(60n, 100n, 40n, 0n))
    assert.deepEqual(await ledger.audit(), [])
  })

  it('expires at timestamp + timeoutMs: lazily on access, releasing the reservation', async () => {
    await one(ledger, pending('p1', 80n, 1000))
    clock.advance(999)
    assert.deepEqual(await ledger.balance('alice'), bal(0n, 100n, 80n, 0n))
    clock.advance(1)
    assert.deepEqual(await ledger.balance('alice'), bal(0n, 100n, 0n, 0n), 'released when read after its deadline')
    const status = await ledger.pendingStatus('p1')
    assert.equal(status?.state, 'expired')
    assert.equal(status?.resolvedBy, null)
    assert.equal(status?.resolvedAt, START + 1000)
    assert.equal(await one(ledger, post('c', 'p1')), 'pending_transfer_expired')
    assert.equal(await one(ledger, voidP('v', 'p1')), 'pending_transfer_expired')
    assert.equal(await one(ledger, pending('p1', 80n, 1000)), 'exists', 'the pending transfer itself stands')
    assert.deepEqual(await ledger.audit(), [])
  })

  it('expires a due pending transfer when a post names it, in the same write', async () => {
    await one(ledger, pending('p1', 80n, 1000))
    clock.advance(2000)
    // The post is refused, yet the expiry is written: the money is free for the next item.
    const results = await ledger.createTransfers([
      post('c', 'p1'),
      { kind: 'posted', id: 'buy', debitAccountId: 'alice', creditAccountId: 'shop', amount: 100n },
    ])
    assert.deepEqual(
      results.map((r) => r.result),
      ['pending_transfer_expired', 'ok'],
    )
    assert.deepEqual(await ledger.audit(), [])
  })

  it('expirePending() releases due reservations in bounded batches', async () => {
    await ledger.createTransfers([
      { kind: 'posted', id: 'more', debitAccountId: 'bank', creditAccountId: 'alice', amount: 10_000n },
    ])
    const n = MAX_EXPIRE_PER_BATCH + 76
    const list = Array.from({ length: n }, (_, i) => pending(`p${i}`, 1n, 1000 + (i % 3)))
    list.push(pending('last', 5n, 1005))
    assert.ok((await ledger.createTransfers(list)).every((r) => r.result === 'ok'))
    assert.equal(await ledger.expirePending(), 0)
    clock.advance(1005)
    // A post naming a due reservation beyond this write's expiry quota still finds it expired.
    assert.equal(await one(ledger, post('late', 'last')), 'pending_transfer_expired')
    assert.equal(await ledger.expirePending(), 76)
    assert.equal(await ledger.expirePending(), 0)
    assert.deepEqual(await ledger.balance('alice'), bal(0n, 10_100n, 0n, 0n))
    assert.deepEqual(await ledger.audit(), [])
  })
})

type Command =
  | { op: 'post'; id: number; amount: bigint | undefined }
  | { op: 'void'; id: number }
  | { op: 'advance'; ms: number }
  | { op: 'expire' }
  | { op: 'retryPending' }
  | { op: 'restart' }
  | { op: 'read' }

const commandArb = (max: bigint): fc.Arbitrary<Command> =>
  fc.oneof(
    fc.record({
      op: fc.constant('post' as const),
      id: fc.nat({ max: 2 }),
      amount: fc.option(fc.bigInt({ min: 1n, max: max + 3n }), { nil: undefined }),
    }),
    fc.record({ op: fc.constant('void' as const), id: fc.nat({ max: 2 }) }),
    fc.record({ op: fc.constant('advance' as const), ms: fc.nat({ max: 700 }) }),
    fc.constant({ op: 'expire' as const }),
    fc.constant({ op: 'retryPending' as const }),
    fc.constant({ op: 'restart' as const }),
    fc.constant({ op: 'read' as const }),
  )

describe('ledger: two-phase transfers resolve exactly once (property)', () => {
  let tmp: TempDb

  before(async () => {
    tmp = await TempDb.create()
  })

  after(async () => {
    await tmp.dispose()
  })

  it('whatever sequence of post, void, expiry, retry and restart', async () => {
    const scenario = fc
      .bigInt({ min: 1n, max: 1000n })
      .chain((amount) => fc.tuple(fc.constant(amount), fc.array(commandArb(amount), { minLength: 1, maxLength: 14 })))
    await fc.assert(
      fc.asyncProperty(scenario, async ([amount, commands]) => {
        const store = tmp.fresh()
        const clock = new FakeClock(START)
        let ledger = await setup(store, clock, amount)
        const TIMEOUT = 1000
        assert.equal(await one(ledger, pending('P', amount, TIMEOUT)), 'ok')
        const expiresAt = START + TIMEOUT

        // The model: what resolved P, and which ids were used for what.
        let resolution: { state: 'posted' | 'voided' | 'expired'; by: string | null; posted: bigint } | null = null
        const used = new Map<string, { kind: 'post_pending' | 'void_pending'; amount: bigint }>()
        let resolutions = 0
        const dueNow = () => {
          if (resolution === null && clock.now() >= expiresAt) {
            resolution = { state: 'expired', by: null, posted: 0n }
            resolutions++
          }
        }
        try {
          for (const c of commands) {
            switch (c.op) {
              case 'advance':
                clock.advance(c.ms)
                break
              case 'expire':
              case 'read':
                if (c.op === 'expire') await ledger.expirePending()
                else await ledger.balance('alice')
                dueNow()
                break
              case 'retryPending':
                assert.equal(await one(ledger, pending('P', amount, TIMEOUT)), 'exists')
                dueNow()
                break
              case 'restart':
                await ledger.close()
                ledger = await open(store, clock)
                break
              case 'post':
              case 'void': {
                const id = `r${c.id}`
                const kind = c.op === 'post' ? 'post_pending' : 'void_pending'
                const asked = c.op === 'post' ? (c.amount ?? amount) : amount
                const result = await one(ledger, c.op === 'post' ? post(id, 'P', c.amount) : voidP(id, 'P'))
                dueNow()
                const prior = used.get(id)
                let want: TransferResultCode
                if (prior !== undefined) {
                  want = prior.kind === kind && prior.amount === asked ? 'exists' : 'exists_with_different_fields'
                } else if (resolution !== null) {
                  const r: { state: string } = resolution
                  want =
                    r.state === 'posted'
                      ? 'pending_transfer_already_posted'
                      : r.state === 'voided'
                        ? 'pending_transfer_already_voided'
                        : 'pending_transfer_expired'
                } else if (asked > amount) {
                  want = 'exceeds_pending_transfer_amount'
                } else {
                  want = 'ok'
                  resolution = {
                    state: c.op === 'post' ? 'posted' : 'voided',
                    by: id,
                    posted: c.op === 'post' ? asked : 0n,
                  }
                  resolutions++
                  used.set(id, { kind, amount: asked })
                }
                assert.equal(result, want, `${c.op} ${id} ${asked}`)
                break
              }
            }
            // After every step: the wallet holds exactly what the model says, never more nor less.
            const b = await ledger.balance('alice')
            dueNow()
            const r = resolution as { posted: bigint } | null
            assert.deepEqual(b, bal(r?.posted ?? 0n, amount, r === null ? amount : 0n, 0n))
          }
          clock.advance(TIMEOUT)
          await ledger.expirePending()
          dueNow()
          assert.equal(resolutions, 1, 'resolved exactly once')
          const status = await ledger.pendingStatus('P')
          const final = resolution as { state: string; by: string | null; posted: bigint } | null
          assert.equal(status?.state, final?.state)
          assert.equal(status?.resolvedBy, final?.by)
          assert.equal(status?.postedAmount, final?.posted)
          const shop = await ledger.balance('shop')
          assert.deepEqual(shop, bal(0n, final?.posted ?? 0n))
          assert.deepEqual(await ledger.audit(), [])
        } finally {
          await ledger.close()
        }
      }),
      { numRuns: 150 },
    )
  })
})
