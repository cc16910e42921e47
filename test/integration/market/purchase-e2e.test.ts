import assert from 'node:assert/strict'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { seal } from '../../../keys/seal.ts'
import { generateContentKey, generateKeyId } from '../../../keys/segments.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { signAccountRequest } from '../../../protocols/clearing/account.ts'
import { balanceResponse, CLEARING_OPS, CLEARING_PROTOCOL, fundResponse } from '../../../protocols/clearing/index.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { ESCROW_SEAL_CONTEXT } from '../../../protocols/escrow/index.ts'
import { parseMessage } from '../../../protocols/messages.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import {
  buyResponse,
  PURCHASE_OPS,
  PURCHASE_PROTOCOL,
  type PurchaseOrder,
  signPurchaseOrder,
} from '../../../protocols/purchase/index.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import { depositEscrow, registerDevice } from '../../../protocols/register/client.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { connectMesh, startMemoryNode, stopAll } from '../../helpers/nodes.ts'
import { contractBody } from '../../helpers/record-bodies.ts'
import { sampleManifestBody } from '../../helpers/records.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { waitForMesh } from './market.ts'

const ISRC = 'USRC17607839'
const DAY = 24 * 3600_000

/**
 * The purchase with every service real: a contract published by hand → the retailer's offer → certified by the
 * reference service → bought over `/purchase/1` → the clearinghouse authorises, captures against the retailer's
 * receipt and signs the payment proof, the registrar issues the licence against receipt and proof. Sent twice, the purchase answers the same receipt and
 * licence, and the buyer's wallet is charged once.
 */
describe('market: a purchase through the real clearinghouse and registrar', () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 3, 10))
  const nodes: ConsortNode[] = []
  let net: TestNetwork
  let keys: Record<'registrar' | 'reference' | 'clearinghouse' | 'label' | 'retailer' | 'buyer' | 'account', NodeKeys>
  let label: ConsortNode
  let retailer: ConsortNode
  let buyer: ConsortNode
  let device: SignedRecord<'consort/device'>
  let contract: SignedRecord<'consort/contract'>

  before(async () => {
    keys = {
      registrar: await createNodeKeys(),
      reference: await createNodeKeys(),
      clearinghouse: await createNodeKeys(),
      label: await createNodeKeys(),
      retailer: await createNodeKeys(),
      buyer: await createNodeKeys(),
      account: await createNodeKeys(),
    }
    net = await createTestNetwork(clock, {
      registrar: keys.registrar,
      references: [keys.reference],
      clearinghouses: [keys.clearinghouse],
    })
    const start = async (name: keyof typeof keys, options: Parameters<typeof startMemoryNode>[0]) => {
      const node = await startMemoryNode({ ...options, keys: keys[name] })
      nodes.push(node)
      return node
    }
    await start('registrar', { network: net, clock, roles: ['registration'] })
    await start('reference', { network: net, clock, roles: ['reference'] })
    await start('clearinghouse', {
      network: net,
      clock,
      roles: ['clearinghouse'],
      roleOptions: { clearinghouse: { sync: false } },
    })
    label = await start('label', { network: net, clock, certRoles: ['production'] })
    retailer = await start('retailer', {
      network: net,
      clock,
      roles: ['retailer'],
      roleOptions: { retailer: { renewCheckIntervalMs: 0 } },
    })
    buyer = await start('buyer', { network: net, clock, certRoles: [] })
    label.topics.subscribe('contracts', { onMessage: () => {} })
    await connectMesh(nodes, 3)
    await waitForMesh(nodes.slice(1, 5), topicString(net.name, 'contracts'))

    // The label escrows the track's content key with the registrar (the registrar re-seals it into licences).
    const contentKey = generateContentKey()
    const keyId = generateKeyId()
    const manifest = signRecord(
      'consort/manifest',
      sampleManifestBody(net.name, clock.now(), { isrc: ISRC, keyId }),
      keys.label.signer,
    )
    await label.records.put(manifest)
    const escrow = signRecord(
      'consort/escrow',
      {
        network: net.name,
        created: clock.now(),
        keyId,
        isrc: ISRC,
        manifest: manifest.id,
        recipient: keys.registrar.signer.publicKey,
        sealedKey: seal(keys.registrar.sealing.publicKey, contentKey, ESCROW_SEAL_CONTEXT),
      },
      keys.label.signer,
    )
    await depositEscrow(label.libp2p, label.network, {
      escrows: [escrow],
      manifests: [manifest],
      release: null,
      attachments: label.credentials.attachments(),
    })

    // The buyer's device, registered with the registrar to the buyer's account.
    device = await registerDevice(buyer.libp2p, buyer.network, {
      account: keys.account.signer,
      device: keys.buyer.signer,
      sealingKey: keys.buyer.sealing.publicKey,
      name: 'test player',
      now: clock.now(),
    })

    // A contract published by hand on the contracts topic.
    contract = signRecord(
      'consort/contract',
      contractBody(net.name, keys.label.signer.publicKey, [`isrc:${ISRC}`], clock.now(), {
        contractId: 'hand-made-1',
        validFrom: clock.now() - DAY,
        validUntil: clock.now() + 365 * DAY,
        ruleBounds: { maxDevices: 3 },
        splits: [{ party: 'Hand Made Records', key: keys.label.signer.publicKey, bps: 10_000 }],
      }),
      keys.label.signer,
    )
    await label.records.put(contract)
    await label.topics.publish('contracts', contract, label.credentials.attachments())
    const reference = nodes[1]!.role('reference')
    const shop = retailer.role('retailer')
    await waitUntil(async () => (await reference.store.contractByCid(contract.id)) != null)
    await waitUntil(async () => (await shop.store.contractByCid(contract.id)) != null)
  })

  after(async () => {
    await stopAll(nodes)
  })

  async function account(op: 'fund' | 'balance', requestId: string, amount: bigint | null = null) {
    const request = signAccountRequest(
      {
        network: net.name,
        account: keys.account.signer.publicKey,
        op,
        amount,
        currency: amount != null ? 'EUR' : null,
        paymentToken: op === 'fund' ? 'test-card' : null,
        period: null,
        requestId,
        created: clock.now(),
      },
      keys.account.signer,
    )
    return rpcCall(
      buyer.libp2p,
      peerIdOfKey(keys.clearinghouse.signer.publicKey),
      buyer.network.protocol(CLEARING_PROTOCOL),
      CLEARING_OPS[op],
      request,
    )
  }

  async function wallet() {
    const answer = parseMessage(
      balanceResponse,
      await account('balance', `balance-${clock.now()}-${Math.floor(performance.now())}`),
      'response',
    )
    return answer.balances.find((b) => b.currency === 'EUR')
  }

  it('sells once, whatever the retries: one receipt, one licence, one charge', async () => {
    const funded = parseMessage(fundResponse, await account('fund', 'top-up-1', 10_00n), 'response')
    assert.equal(funded.balance.available, 10_00n)

    const shop = retailer.role('retailer')
    const view = await shop.offers.create({
      offerId: 'hand-made-download',
      content: [`isrc:${ISRC}`],
      contract: 'hand-made-1',
      price: { amount: 99n, currency: 'EUR' },
      useType: 'PermanentDownload',
      rules: { devices: 3 },
      territories: ['Worldwide'],
    })
    assert.equal(view.status, 'certified', JSON.stringify(view.failures))
    const { offer, certification } = await shop.offers.records('hand-made-download')

    const order: PurchaseOrder = signPurchaseOrder(
      {
        network: net.name,
        purchaseId: 'e2e-purchase-1',
        offer: offer.id,
        certification: certification!.id,
        retailer: keys.retailer.signer.publicKey,
        clearinghouse: keys.clearinghouse.signer.publicKey,
        account: keys.account.signer.publicKey,
        device: keys.buyer.signer.publicKey,
        price: offer.body.price,
        territory: 'Worldwide',
        created: clock.now(),
      },
      keys.account.signer,
    )
    const buy = async () =>
      buyResponse.parse(
        await rpcCall(
          buyer.libp2p,
          retailer.peerId,
          buyer.network.protocol(PURCHASE_PROTOCOL),
          PURCHASE_OPS.buy,
          { order, device: device.bytes },
          { deadlineMs: 30_000 },
        ),
      )
    const first = await buy()
    const options = { network: net.name, now: clock.now() }
    const receipt = decodeRecordAs('consort/receipt', first.receipt, options)
    const licence = decodeRecordAs('consort/licence', first.licence, options)
    assert.equal(receipt.body.purchaseId, 'e2e-purchase-1')
    assert.deepEqual(receipt.body.price, { amount: 99n, currency: 'EUR' })
    assert.ok(licence.body.receipt.equals(receipt.id))
    assert.ok(Buffer.compare(licence.body.device, keys.buyer.signer.publicKey) === 0)
    assert.ok(licence.body.keys.some((k) => k.isrc === ISRC))
    assert.ok(net.registrar.signer.publicKey.every((b, i) => b === licence.signer[i]))

    // Sent again, and twice more at once: the same answer.
    const second = await buy()
    const [third, fourth] = await Promise.all([buy(), buy()])
    for (const again of [second, third, fourth]) {
      assert.deepEqual(again.receipt, first.receipt)
      assert.deepEqual(again.licence, first.licence)
    }

    // The wallet paid 0.99 EUR once, and nothing is left pending.
    const balance = await wallet()
    assert.equal(balance?.available, 10_00n - 99n)
    assert.equal(balance?.pending, 0n)
    const state = await shop.purchases.status('e2e-purchase-1')
    assert.equal(state?.state, 'licensed')
  })
})
