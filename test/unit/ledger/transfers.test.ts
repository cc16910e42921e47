import assert from 'node:assert/strict'
import { FakeClock } from '../../../protocols/clock.ts'
import {
  ConflictingFlagsError,
  InvalidAccountKindError,
  InvalidBatchError,
  InvalidFieldError,
  InvalidIdError,
  InvalidLedgerAmountError,
  InvalidLedgerCurrencyError,
  InvalidTimeoutError,
  InvalidTransferKindError,
  type Ledger,
  LedgerClosedError,
  LinkedChainOpenError,
  MAX_BATCH_SIZE,
  MAX_TRANSFER_AMOUNT,
  SameAccountError,
  type TransferInput,
} from '../../../roles/clearinghouse/ledger/index.ts'
import { bal, eur, open, START, sums, TempDb, wallet } from './helpers.ts'

const ACCOUNTS = ['bank', 'alice', 'bob', 'shop', 'label', 'fee', 'usd-bank']

describe('ledger: accounts and transfers', () => {
  let tmp: TempDb
  let ledger: Ledger
  let clock: FakeClock

  beforeEach(async () => {
    tmp = await TempDb.create()
    clock = new FakeClock(START)
    ledger = await open(tmp.sublevel(), clock)
    const results = await ledger.createAccounts([
      eur('bank', 'external'),
      wallet('alice'),
      wallet('bob'),
      eur('shop', 'retailer'),
      eur('label', 'distributor'),
      eur('fee', 'fee'),
      { id: 'usd-bank', currency: 'USD', kind: 'external', owner: 'bank' },
    ])
    assert.ok(results.every((r) => r.result === 'ok'))
  })

  afterEach(async () => {
    await ledger.close()
    await tmp.dispose()
  })

  const posted = (id: string, from: string, to: string, amount: bigint, extra: Partial<TransferInput> = {}) =>
    ({ kind: 'posted', id, debitAccountId: from, creditAccountId: to, amount, ...extra }) as TransferInput

  describe('accounts', () => {
    it('creates idempotently: same fields answer exists, different fields are refused', async () => {
      const results = await ledger.createAccounts([
        wallet('alice'),
        { ...wallet('alice'), owner: 'mallory' },
        eur('carol'),
        eur('carol'),
        { ...eur('carol'), currency: 'USD' },
      ])
      assert.deepEqual(
        results.map((r) => r.result),
        ['exists', 'exists_with_different_fields', 'ok', 'exists', 'exists_with_different_fields'],
      )
      const alice = await ledger.getAccount('alice')
      assert.equal(alice?.owner, 'owner-of-alice')
      assert.deepEqual(alice?.flags, { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false })
      assert.equal(alice?.timestamp, START)
      assert.deepEqual(await ledger.balance('carol'), bal(0n, 0n))
      assert.equal(await ledger.getAccount('nobody'), undefined)
    })

    it('refuses malformed accounts before writing any of the batch', async () => {
      const bad: Array<[unknown, new (...args: never[]) => Error, string]> = [
        [{ ...eur('x'), currency: 'EURO' }, InvalidLedgerCurrencyError, 'accounts[1].currency'],
        [{ ...eur('x'), currency: 'eur' }, InvalidLedgerCurrencyError, 'accounts[1].currency'],
        [{ ...eur('x'), kind: 'bank' }, InvalidAccountKindError, 'accounts[1].kind'],
        [{ ...eur('x'), id: 'a/b' }, InvalidIdError, 'accounts[1].id'],
        [{ ...eur('x'), id: '' }, InvalidIdError, 'accounts[1].id'],
        [{ ...eur('x'), id: 'x'.repeat(129) }, InvalidIdError, 'accounts[1].id'],
        [{ ...eur('x'), owner: '' }, InvalidFieldError, 'accounts[1].owner'],
        [{ ...eur('x'), colour: 'red' }, InvalidFieldError, 'accounts[1].colour'],
        [
          { ...eur('x'), flags: { debitsMustNotExceedCredits: 1 } },
          InvalidFieldError,
          'accounts[1].flags.debitsMustNotExceedCredits',
        ],
        [
          { ...eur('x'), flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: true } },
          ConflictingFlagsError,
          'accounts[1].flags',
        ],
      ]
      for (const [account, type, field] of bad) {
        await assert.rejects(
          ledger.createAccounts([eur('fine'), account]),
          (err: unknown) => err instanceof type && (err as { field?: string }).field === field,
          field,
        )
      }
      assert.equal(await ledger.getAccount('fine'), undefined)
    })
  })

  describe('posted transfers', () => {
    it('moves money, keeps debits = credits and records who, what and when', async () => {
      clock.advance(5)
      const results = await ledger.createTransfers([
        posted('t1', 'bank', 'alice', 1000n, { code: 'topup', reference: 'card:77', userData: '{"x":1}' }),
        posted('t2', 'alice', 'shop', 300n),
      ])
      assert.deepEqual(
        results.map((r) => [r.index, r.id, r.result]),
        [
          [0, 't1', 'ok'],
          [1, 't2', 'ok'],
        ],
      )
      assert.deepEqual(await ledger.balance('alice'), bal(300n, 1000n))
      assert.deepEqual(await ledger.balance('bank'), bal(1000n, 0n))
      assert.deepEqual(await ledger.balance('shop'), bal(0n, 300n))
      const total = await sums(ledger, ACCOUNTS)
      assert.equal(total.debitsPosted, total.creditsPosted)
      const t1 = await ledger.getTransfer('t1')
      assert.deepEqual(t1, {
        id: 't1',
        kind: 'posted',
        debitAccountId: 'bank',
        creditAccountId: 'alice',
        amount: 1000n,
        currency: 'EUR',
        code: 'topup',
        reference: 'card:77',
        userData: '{"x":1}',
        pendingId: null,
        timeoutMs: null,
        expiresAt: null,
        timestamp: START + 5,
        seq: 1,
      })
      assert.equal(await ledger.getTransfer('nope'), undefined)
    })

    it('answers a retry with exists, a reused id with other fields with exists_with_different_fields', async () => {
      await ledger.createTransfers([posted('t1', 'bank', 'alice', 1000n, { code: 'topup' })])
      clock.advance(1000)
      const results = await ledger.createTransfers([
        posted('t1', 'bank', 'alice', 1000n, { code: 'topup' }),
        posted('t1', 'bank', 'alice', 1001n, { code: 'topup' }),
        posted('t1', 'bank', 'alice', 1000n, { code: 'other' }),
        posted('t1', 'bank', 'bob', 1000n, { code: 'topup' }),
        posted('t1', 'bank', 'alice', 1000n, { code: 'topup', reference: 'r' }),
        posted('t1', 'bank', 'alice', 1000n, { code: 'topup', userData: 'u' }),
        {
          kind: 'pending',
          id: 't1',
          debitAccountId: 'bank',
          creditAccountId: 'alice',
          amount: 1000n,
          timeoutMs: 5,
          code: 'topup',
        },
      ])
      assert.deepEqual(
        results.map((r) => r.result),
        ['exists', ...Array.from({ length: 6 }, () => 'exists_with_different_fields')],
      )
      assert.deepEqual(await ledger.balance('alice'), bal(0n, 1000n))
      assert.equal((await ledger.getTransfer('t1'))?.timestamp, START, 'the first write stands')
      // Same id twice in one batch: the second is a retry of the first.
      const dup = await ledger.createTransfers([posted('t2', 'bank', 'bob', 5n), posted('t2', 'bank', 'bob', 5n)])
      assert.deepEqual(
        dup.map((r) => r.result),
        ['ok', 'exists'],
      )
      assert.deepEqual(await ledger.balance('bob'), bal(0n, 5n))
    })

    it('refuses, per item, what the state does not allow', async () => {
      await ledger.createTransfers([posted('fund', 'bank', 'alice', 100n)])
      const results = await ledger.createTransfers([
        posted('a', 'ghost', 'alice', 1n),
        posted('b', 'alice', 'ghost', 1n),
        posted('c', 'usd-bank', 'alice', 1n),
        posted('d', 'alice', 'shop', 101n),
        posted('e', 'alice', 'shop', 100n),
        posted('f', 'alice', 'shop', 1n),
        posted('g', 'bob', 'shop', 1n),
      ])
      assert.deepEqual(
        results.map((r) => r.result),
        [
          'debit_account_not_found',
          'credit_account_not_found',
          'accounts_must_have_same_currency',
          'exceeds_credits',
          'ok',
          'exceeds_credits',
          'exceeds_credits',
        ],
      )
      assert.deepEqual(await ledger.balance('alice'), bal(100n, 100n))
      for (const id of ['a', 'b', 'c', 'd', 'f', 'g']) assert.equal(await ledger.getTransfer(id), undefined)
    })

    it('enforces creditsMustNotExceedDebits on the credit side', async () => {
      await ledger.createAccounts([eur('loan', 'external', { creditsMustNotExceedDebits: true })])
      const results = await ledger.createTransfers([
        posted('l1', 'bank', 'loan', 10n),
        posted('l2', 'loan', 'bank', 4n),
        posted('l3', 'bank', 'loan', 4n),
        posted('l4', 'bank', 'loan', 1n),
      ])
      assert.deepEqual(
        results.map((r) => r.result),
        ['exceeds_debits', 'ok', 'ok', 'exceeds_debits'],
      )
    })

    it('throws a typed error naming the field for malformed transfers, writing nothing', async () => {
      const cases: Array<[unknown, new (...args: never[]) => Error, string]> = [
        [posted('x', 'bank', 'alice', 0n), InvalidLedgerAmountError, 'transfers[1].amount'],
        [posted('x', 'bank', 'alice', -5n), InvalidLedgerAmountError, 'transfers[1].amount'],
        [posted('x', 'bank', 'alice', 5 as unknown as bigint), InvalidLedgerAmountError, 'transfers[1].amount'],
        [posted('x', 'bank', 'alice', MAX_TRANSFER_AMOUNT + 1n), InvalidLedgerAmountError, 'transfers[1].amount'],
        [posted('x', 'bank', 'bank', 5n), SameAccountError, 'transfers[1]'],
        [posted('x y', 'bank', 'alice', 5n), InvalidIdError, 'transfers[1].id'],
        [posted('x', 'bank/1', 'alice', 5n), InvalidIdError, 'transfers[1].debitAccountId'],
        [posted('x', 'bank', 'alice', 5n, { code: 'c'.repeat(65) }), InvalidFieldError, 'transfers[1].code'],
        [{ ...posted('x', 'bank', 'alice', 5n), timeoutMs: 5 }, InvalidFieldError, 'transfers[1].timeoutMs'],
        [{ ...posted('x', 'bank', 'alice', 5n), kind: 'refund' }, InvalidTransferKindError, 'transfers[1].kind'],
        [
          { kind: 'pending', id: 'x', debitAccountId: 'bank', creditAccountId: 'alice', amount: 5n, timeoutMs: 0 },
          InvalidTimeoutError,
          'transfers[1].timeoutMs',
        ],
        [
          { kind: 'post_pending', id: 'x', pendingId: 'p', debitAccountId: 'bank' },
          InvalidFieldError,
          'transfers[1].debitAccountId',
        ],
        [{ kind: 'void_pending', id: 'x', pendingId: 'x' }, InvalidFieldError, 'transfers[1].pendingId'],
        [{ kind: 'void_pending', id: 'x', pendingId: 'p', amount: 5n }, InvalidFieldError, 'transfers[1].amount'],
        [{ ...posted('x', 'bank', 'alice', 5n), linked: 'yes' }, InvalidFieldError, 'transfers[1].linked'],
      ]
      for (const [transfer, type, field] of cases) {
        await assert.rejects(
          ledger.createTransfers([posted('fine', 'bank', 'alice', 1n), transfer]),
          (err: unknown) => err instanceof type && (err as { field?: string }).field === field,
          field,
        )
      }
      await assert.rejects(
        ledger.createTransfers([posted('fine', 'bank', 'alice', 1n, { linked: true })]),
        LinkedChainOpenError,
      )
      await assert.rejects(ledger.createTransfers('nope' as unknown as []), InvalidBatchError)
      const big = Array.from({ length: MAX_BATCH_SIZE + 1 }, (_, i) => posted(`b${i}`, 'bank', 'alice', 1n))
      await assert.rejects(ledger.createTransfers(big), InvalidBatchError)
      assert.equal(await ledger.getTransfer('fine'), undefined)
      assert.deepEqual(await ledger.balance('alice'), bal(0n, 0n))
      assert.deepEqual(await ledger.createTransfers([]), [])
    })
  })

  describe('linked chains', () => {
    const sale = (n: number, price: bigint, linkedLast = false): TransferInput[] => [
      posted(`sale${n}:label`, 'alice', 'label', (price * 60n) / 100n, { linked: true }),
      posted(`sale${n}:fee`, 'alice', 'fee', (price * 5n) / 100n, { linked: true }),
      posted(`sale${n}:shop`, 'alice', 'shop', price - (price * 60n) / 100n - (price * 5n) / 100n, {
        linked: linkedLast,
      }),
    ]

    it('applies a chain whole or not at all, and other items of the batch regardless', async () => {
      await ledger.createTransfers([posted('fund', 'bank', 'alice', 170n)])
      const results = await ledger.createTransfers([
        ...sale(1, 100n),
        ...sale(2, 100n),
        posted('after', 'bank', 'bob', 7n),
      ])
      assert.deepEqual(
        results.map((r) => r.result),
        ['ok', 'ok', 'ok', 'linked_event_failed', 'linked_event_failed', 'exceeds_credits', 'ok'],
      )
      // sale2's label and fee parts fit (60 + 5 of the 70 left), its shop part (35) does not: none is applied.
      assert.deepEqual(await ledger.balance('alice'), bal(100n, 170n))
      assert.deepEqual(await ledger.balance('label'), bal(0n, 60n))
      assert.equal(await ledger.getTransfer('sale2:label'), undefined)
      assert.equal(await ledger.getTransfer('sale2:fee'), undefined)
      assert.deepEqual(await ledger.balance('bob'), bal(0n, 7n))
      // The failed chain leaves no gap in the log.
      const page = await ledger.transfers({ limit: 10 })
      assert.deepEqual(
        page.transfers.map((t) => [t.seq, t.id]),
        [
          [1, 'fund'],
          [2, 'sale1:label'],
          [3, 'sale1:fee'],
          [4, 'sale1:shop'],
          [5, 'after'],
        ],
      )
      assert.deepEqual(await ledger.audit(), [])
    })

    it('fails a chain when its first item fails, and answers a retried chain with exists throughout', async () => {
      const first = await ledger.createTransfers(sale(1, 100n))
      assert.deepEqual(
        first.map((r) => r.result),
        ['exceeds_credits', 'linked_event_failed', 'linked_event_failed'],
      )
      await ledger.createTransfers([posted('fund', 'bank', 'alice', 100n)])
      assert.deepEqual(
        (await ledger.createTransfers(sale(1, 100n))).map((r) => r.result),
        ['ok', 'ok', 'ok'],
      )
      assert.deepEqual(
        (await ledger.createTransfers(sale(1, 100n))).map((r) => r.result),
        ['exists', 'exists', 'exists'],
      )
      // A chain that reuses an id with other fields fails whole.
      const changed = sale(1, 100n)
      changed[2] = posted('sale1:shop', 'alice', 'shop', 36n)
      changed.push(posted('extra', 'bank', 'bob', 1n))
      changed[2] = { ...changed[2], linked: true } as TransferInput
      const r = await ledger.createTransfers(changed)
      assert.deepEqual(
        r.map((x) => x.result),
        ['linked_event_failed', 'linked_event_failed', 'exists_with_different_fields', 'linked_event_failed'],
      )
      assert.equal(await ledger.getTransfer('extra'), undefined)
      assert.deepEqual(await ledger.balance('alice'), bal(100n, 100n))
    })

    it('rolls back a pending created and posted inside a chain that then fails', async () => {
      await ledger.createTransfers([posted('fund', 'bank', 'alice', 50n)])
      const results = await ledger.createTransfers([
        {
          kind: 'pending',
          id: 'p',
          debitAccountId: 'alice',
          creditAccountId: 'shop',
          amount: 50n,
          timeoutMs: 1000,
          linked: true,
        },
        { kind: 'post_pending', id: 'p:post', pendingId: 'p', linked: true },
        posted('over', 'alice', 'shop', 1n),
      ])
      assert.deepEqual(
        results.map((r) => r.result),
        ['linked_event_failed', 'linked_event_failed', 'exceeds_credits'],
      )
      assert.equal(await ledger.getTransfer('p'), undefined)
      assert.equal(await ledger.pendingStatus('p'), undefined)
      assert.deepEqual(await ledger.balance('alice'), bal(0n, 50n))
      assert.deepEqual(await ledger.audit(), [])
    })
  })

  it('serialises concurrent callers: no double spend from a race', async () => {
    await ledger.createTransfers([posted('fund', 'bank', 'alice', 100n)])
    const racers = Array.from({ length: 20 }, (_, i) =>
      ledger.createTransfers([posted(`spend${i}`, 'alice', 'shop', 10n)]),
    )
    const results = (await Promise.all(racers)).flat()
    assert.equal(results.filter((r) => r.result === 'ok').length, 10)
    assert.equal(results.filter((r) => r.result === 'exceeds_credits').length, 10)
    assert.deepEqual(await ledger.balance('alice'), bal(100n, 100n))
  })

  it('refuses calls after close', async () => {
    await ledger.close()
    await assert.rejects(ledger.balance('alice'), LedgerClosedError)
    await assert.rejects(ledger.createTransfers([posted('x', 'bank', 'alice', 1n)]), LedgerClosedError)
  })
})
