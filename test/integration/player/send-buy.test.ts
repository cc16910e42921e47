import assert from 'node:assert/strict'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { PurchasePendingError } from '../../../protocols/purchase/errors.ts'
import { PURCHASE_CODES, PURCHASE_OPS, PURCHASE_PROTOCOL } from '../../../protocols/purchase/index.ts'
import type { PurchaseOrder } from '../../../protocols/purchase/order.ts'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import { registerRpc } from '../../../protocols/rpc/index.ts'
import { PurchaseRefusedError } from '../../../roles/player/errors.ts'
import { sendBuy } from '../../../roles/player/purchase.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'

/**
 * The retailer answers `ERR_PURCHASE_PENDING` when its clearinghouse or registrar did not answer in time: the
 * purchase is saved on its side and the same order resumes it. The player took that answer for a final refusal, and
 * a 65-node cut of market-1000 (a partition) bought again under a new purchase id: the first order's money stayed
 * held at the clearinghouse (the ledger check's "pending" row).
 */
describe('player: sendBuy and the retailer’s "pending"', function () {
  this.timeout(60_000)
  let buyer: ConsortNode
  let retailer: ConsortNode
  let answers: Array<() => unknown>
  let orders: string[]

  before(async () => {
    const net = await createTestNetwork(systemClock)
    buyer = await startMemoryNode({ network: net, clock: systemClock })
    retailer = await startMemoryNode({ network: net, clock: systemClock })
    await registerRpc(retailer.libp2p, retailer.network.protocol(PURCHASE_PROTOCOL), {
      [PURCHASE_OPS.buy]: async (body) => {
        orders.push((body as { order: PurchaseOrder }).order.order.purchaseId)
        return answers.shift()!()
      },
    })
    await buyer.libp2p.dial(retailer.libp2p.getMultiaddrs()[0]!)
  })

  after(async () => {
    await stopAll([buyer, retailer])
  })

  const call = (purchaseId: string, attempts: number) =>
    sendBuy({
      libp2p: buyer.libp2p,
      network: buyer.network,
      order: { order: { purchaseId, retailer: retailer.keys.signer.publicKey } } as unknown as PurchaseOrder,
      device: { bytes: new Uint8Array([1]) } as unknown as SignedRecord<'consort/device'>,
      attempts,
      retryBaseMs: 10,
    })
  const pending = () => {
    throw new PurchasePendingError('the clearinghouse did not answer the capture')
  }
  const sold = () => ({ receipt: new Uint8Array([2]), licence: new Uint8Array([3]) })

  it('sends the same order again after a "pending", and takes the answer that follows', async () => {
    answers = [pending, sold]
    orders = []
    const answer = await call('p-1', 3)
    assert.deepEqual([...answer.licence], [3])
    assert.deepEqual(orders, ['p-1', 'p-1'])
  })

  it('leaves the purchase pending, never refused, when the retailer still says "pending" at the last attempt', async () => {
    answers = [pending, pending]
    orders = []
    await assert.rejects(call('p-2', 2), (err: unknown) => {
      assert.ok(isError(err, PurchasePendingError), `got ${(err as Error).name}`)
      return true
    })
    assert.deepEqual(orders, ['p-2', 'p-2'])
  })

  it('still takes a typed refusal as final', async () => {
    answers = [
      () => {
        throw Object.assign(new Error('no money'), { code: PURCHASE_CODES.paymentRefused })
      },
    ]
    orders = []
    await assert.rejects(call('p-3', 3), (err: unknown) => {
      assert.ok(isError(err, PurchaseRefusedError))
      assert.equal(err.remoteCode, PURCHASE_CODES.paymentRefused)
      return true
    })
    assert.deepEqual(orders, ['p-3'])
  })
})
