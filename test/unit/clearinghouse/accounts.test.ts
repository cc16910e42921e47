import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { signAccountRequest } from '../../../protocols/clearing/account.ts'
import { wireCodeOf } from '../../../protocols/rpc/errors.ts'
import type { ClearingEngine } from '../../../roles/clearinghouse/engine.ts'
import { isTestNetwork, TestPaymentGateway } from '../../../roles/clearinghouse/gateway.ts'
import { type Buyer, Market } from './market.ts'

/** Rejects with the error the clearinghouse would answer with `code` (its wire code). */
async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.equal(wireCodeOf(err), code, err.message)
    return true
  })
}

describe('clearinghouse accounts', () => {
  let m: Market
  let engine: ClearingEngine
  let buyer: Buyer

  beforeEach(async () => {
    m = await Market.create()
    ;({ engine } = await m.engine())
    buyer = await m.buyer()
  })

  afterEach(async () => {
    await engine.close()
  })

  it('tops up a wallet once per request id, and shows its balance to its holder only', async () => {
    const request = m.fundRequest(buyer, 2500n, 'EUR', 'my-topup')
    const first = (await engine.account(request)) as { transferId: string; balance: { available: bigint } }
    assert.equal(first.balance.available, 2500n)
    const again = (await engine.account(request, 'fund')) as typeof first
    assert.equal(again.transferId, first.transferId)
    assert.equal(again.balance.available, 2500n)
    // The same request id for another amount is refused.
    await rejects(engine.account(m.fundRequest(buyer, 10n, 'EUR', 'my-topup')), 'ERR_BAD_REQUEST')
    await engine.account(m.fundRequest(buyer, 300n, 'USD'))
    const balance = (await engine.account(m.accountRequest(buyer, 'balance'))) as {
      balances: Array<{ currency: string; available: bigint }>
    }
    assert.deepEqual(
      balance.balances.map((b) => [b.currency, b.available]),
      [
        ['EUR', 2500n],
        ['USD', 300n],
      ],
    )
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('refuses requests not signed by the account, stale ones, sent as another op, and declined payments', async () => {
    const stranger = await createNodeKeys(m.random)
    const request = m.fundRequest(buyer, 100n)
    const forged = signAccountRequest(request.request, stranger.signer)
    await rejects(engine.account(forged), 'ERR_UNAUTHORISED')
    await rejects(
      engine.account({ ...request, request: { ...request.request, amount: 1_000_000n } }),
      'ERR_UNAUTHORISED',
    )
    await rejects(engine.account(request, 'balance'), 'ERR_INVALID_INIT')
    const stale = m.fundRequest(buyer, 100n)
    m.clock.advance(10 * 60_000)
    await rejects(engine.account(stale), 'ERR_BAD_REQUEST')
    const declined = signAccountRequest(
      { ...m.fundRequest(buyer, 100n).request, paymentToken: 'decline' },
      buyer.account.signer,
    )
    await rejects(engine.account(declined), 'ERR_PAYMENT_DECLINED')
    await rejects(engine.account(m.fundRequest(buyer, 10n ** 12n)), 'ERR_PAYMENT_DECLINED')
    const balance = (await engine.account(m.accountRequest(buyer, 'balance'))) as { balances: unknown[] }
    assert.deepEqual(balance.balances, [])
  })

  it('runs the test gateway only on a test network unless told to', async () => {
    assert.ok(isTestNetwork('devnet'))
    assert.ok(isTestNetwork('testnet'))
    assert.ok(isTestNetwork('consort-test'))
    assert.ok(!isTestNetwork('consort'))
    assert.ok(!isTestNetwork('latest'))
    assert.throws(() => new TestPaymentGateway('consort'), { name: 'TestGatewayRefusedError' })
    assert.equal(new TestPaymentGateway('consort', { allowOnAnyNetwork: true }).kind, 'test')
    const live = await Market.create({ name: 'consort' })
    const { engine: quiet } = await live.engine()
    assert.equal(quiet.gateway, null)
    const b = await live.buyer()
    await rejects(quiet.account(live.fundRequest(b, 100n)), 'ERR_NO_GATEWAY')
    await quiet.close()
    await assert.rejects(live.engine({ gateway: 'test' }), { name: 'TestGatewayRefusedError' })
    const { engine: allowed } = await live.engine({ gateway: 'test', allowTestGateway: true })
    assert.equal(allowed.gateway?.kind, 'test')
    await allowed.close()
  })
})
