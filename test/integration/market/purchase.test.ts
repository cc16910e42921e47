import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { CLEARING_CODES } from '../../../protocols/clearing/index.ts'
import { LICENCE_CODES } from '../../../protocols/licence/index.ts'
import {
  buyResponse,
  PURCHASE_CODES,
  PURCHASE_OPS,
  PURCHASE_PROTOCOL,
  type PurchaseOrder,
  signPurchaseOrder,
} from '../../../protocols/purchase/index.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import type { RetailerService } from '../../../roles/retailer/index.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'
import { createMarket, DAY, type Market, TRACK_A } from './market.ts'
import { type StandInClearinghouse, type StandInRegistrar, standInClearinghouse, standInRegistrar } from './services.ts'

/**
 * The retailer's side of a purchase (`/purchase/1` `buy`) against the clearing and licence protocols: checks
 * before any money moves, authorise → receipt → licence → capture, a void on any refusal, and idempotency by
 * purchase id across retries, concurrent retries and a retailer restart — never two charges.
 */
describe('market: the retailer sells (purchase protocol)', () => {
  let market: Market & { extra: ConsortNode[] }
  let clearing: StandInClearinghouse
  let registrar: StandInRegistrar
  let clearinghouseKeys: NodeKeys
  let player: ConsortNode
  let account: NodeKeys
  let deviceKeys: NodeKeys
  let device: SignedRecord<'consort/device'>
  let contract: SignedRecord<'consort/contract'>
  let dataDir: string
  let purchaseCounter = 0

  before(async () => {
    clearinghouseKeys = await createNodeKeys()
    const registrarKeys = await createNodeKeys()
    market = await createMarket({
      retailers: 1,
      clearinghouses: [clearinghouseKeys],
      registrar: registrarKeys,
      extraNodes: [{ roles: [], keys: clearinghouseKeys }, { roles: [], keys: registrarKeys }, { roles: [] }],
    })
    const [clearingNode, registrarNode, playerNode] = market.extra
    clearing = await standInClearinghouse(clearingNode!, market.clock)
    registrar = await standInRegistrar(registrarNode!, registrarKeys, market.clock)
    player = playerNode!
    account = await createNodeKeys()
    deviceKeys = await createNodeKeys()
    device = signRecord(
      'consort/device',
      {
        network: market.net.name,
        created: market.clock.now(),
        serial: 1,
        account: account.signer.publicKey,
        device: deviceKeys.signer.publicKey,
        sealingKey: deviceKeys.sealing.publicKey,
        name: 'test player',
        notBefore: market.clock.now() - 1000,
        notAfter: market.clock.now() + 365 * DAY,
        // The account's territory, as the registrar attests it: the orders are for it.
        territory: 'DE',
      },
      market.net.registrarSigner,
    )
    contract = await market.publishContract({ territories: ['DE', 'FR', 'GB'], excludedTerritories: [] })
    dataDir = await mkdtemp(join(tmpdir(), 'consort-retailer-'))
  })

  after(async () => {
    await market?.stop()
    if (dataDir != null) await rm(dataDir, { recursive: true, force: true })
  })

  const shop = () => market.retailers[0]!

  async function onSale(
    role: RetailerService,
    offerId: string,
    territories = ['DE', 'FR'],
    under: SignedRecord<'consort/contract'> = contract,
  ) {
    const view = await role.offers.create({
      offerId,
      content: [TRACK_A],
      contract: under.id.toString(),
      price: { amount: 99n, currency: 'EUR' },
      useType: 'PermanentDownload',
      territories,
    })
    assert.equal(view.status, 'certified', JSON.stringify(view.failures))
    const records = await role.offers.records(offerId)
    return { offer: records.offer, certification: records.certification! }
  }

  function order(
    offer: SignedRecord<'consort/offer'>,
    certification: SignedRecord<'consort/certification'>,
    overrides: Partial<PurchaseOrder['order']> = {},
  ): PurchaseOrder {
    return signPurchaseOrder(
      {
        network: market.net.name,
        purchaseId: `purchase-${++purchaseCounter}`,
        offer: offer.id,
        certification: certification.id,
        retailer: offer.signer,
        clearinghouse: clearinghouseKeys.signer.publicKey,
        account: account.signer.publicKey,
        device: deviceKeys.signer.publicKey,
        price: offer.body.price,
        territory: 'DE',
        created: market.clock.now(),
        ...overrides,
      },
      account.signer,
    )
  }

  async function buy(purchase: PurchaseOrder, to: ConsortNode = shop().node) {
    const raw = await rpcCall(
      player.libp2p,
      to.libp2p.getMultiaddrs(),
      player.network.protocol(PURCHASE_PROTOCOL),
      PURCHASE_OPS.buy,
      { order: purchase, device: device.bytes },
      { deadlineMs: 30_000 },
    )
    const answer = buyResponse.parse(raw)
    const options = { network: market.net.name, now: market.clock.now() }
    return {
      receipt: decodeRecordAs('consort/receipt', answer.receipt, options),
      licence: decodeRecordAs('consort/licence', answer.licence, options),
      raw: answer,
    }
  }

  it('sells a certified offer: authorise, receipt, capture, licence', async () => {
    const { offer, certification } = await onSale(shop().role, 'sale-1')
    const purchase = order(offer, certification)
    const { receipt, licence } = await buy(purchase)
    const auth = clearing.authorisations.get(purchase.order.purchaseId)
    assert.equal(auth?.state, 'captured')
    assert.equal(auth?.amount, 99n)
    assert.equal(receipt.body.purchaseId, purchase.order.purchaseId)
    assert.ok(receipt.body.offer.equals(offer.id))
    assert.ok(receipt.body.certification.equals(certification.id))
    assert.deepEqual(receipt.body.price, { amount: 99n, currency: 'EUR' })
    assert.equal(receipt.body.authorisation, auth?.authorisation)
    assert.ok(Buffer.compare(receipt.signer, shop().keys.signer.publicKey) === 0)
    assert.equal(licence.body.purchaseId, purchase.order.purchaseId)
    assert.ok(licence.body.receipt.equals(receipt.id))
    const stored = await shop().role.purchases.status(purchase.order.purchaseId)
    assert.deepEqual(
      stored?.history.map((h) => h.state),
      ['started', 'authorised', 'receipted', 'captured', 'licensed'],
    )
  })

  it('answers a purchase sent twice (and twice at once) with the same receipt and licence, charged once', async () => {
    const { offer, certification } = await onSale(shop().role, 'sale-2')
    const purchase = order(offer, certification)
    const calls = { ...clearing.calls }
    const first = await buy(purchase)
    const second = await buy(purchase)
    assert.deepEqual(second.raw, first.raw)
    const concurrent = order(offer, certification)
    const [a, b] = await Promise.all([buy(concurrent), buy(concurrent)])
    assert.deepEqual(a.raw, b.raw)
    assert.equal(clearing.calls.authorise - calls.authorise, 2, 'one authorisation per purchase')
    assert.equal(clearing.calls.capture - calls.capture, 2, 'one capture per purchase')
    for (const id of [purchase.order.purchaseId, concurrent.order.purchaseId]) {
      assert.equal(clearing.authorisations.get(id)?.state, 'captured')
    }
    // The same purchase id with another order is a conflict, not a second sale.
    const other = order(offer, certification, { purchaseId: purchase.order.purchaseId, territory: 'FR' })
    await assert.rejects(buy(other), { code: 'ERR_PURCHASE_CONFLICT' })
  })

  it('refuses before any money moves: bad order, wrong price, territory, unknown or stale offer', async () => {
    const { offer, certification } = await onSale(shop().role, 'sale-3')
    const calls = clearing.calls.authorise
    await assert.rejects(buy(order(offer, certification, { price: { amount: 1n, currency: 'EUR' } })), {
      code: PURCHASE_CODES.priceMismatch,
    })
    await assert.rejects(buy(order(offer, certification, { territory: 'US' })), { code: PURCHASE_CODES.territory })
    const forged = order(offer, certification)
    forged.sig[0] = (forged.sig[0]! + 1) % 256
    await assert.rejects(buy(forged), { code: CLEARING_CODES.orderInvalid })
    const stranger = await createNodeKeys()
    await assert.rejects(buy(order(offer, certification, { clearinghouse: stranger.signer.publicKey })), {
      code: CLEARING_CODES.orderInvalid,
    })
    const foreign = signRecord('consort/offer', { ...offer.body, offerId: 'not-mine' }, stranger.signer)
    await assert.rejects(buy(order(foreign, certification, { retailer: shop().keys.signer.publicKey })), {
      code: PURCHASE_CODES.offerUnknown,
    })
    await shop().role.offers.update('sale-3', { price: { amount: 109n, currency: 'EUR' } })
    await assert.rejects(buy(order(offer, certification)), { code: PURCHASE_CODES.offerStale })
    assert.equal(clearing.calls.authorise, calls, 'no authorisation was asked for')
  })

  it('refuses an offer bought after its revocation (a contract update)', async () => {
    const narrowing = await market.publishContract({ territories: ['DE', 'FR'], excludedTerritories: [] })
    const doomed = await onSale(shop().role, 'doomed', ['DE'], narrowing)
    const purchase = order(doomed.offer, doomed.certification, { territory: 'DE' })
    const revoked = nextEvent(market.referenceRole, 'revoked')
    await market.publishContract({
      contractId: narrowing.body.contractId,
      seq: narrowing.body.seq + 1,
      territories: ['FR', 'GB'],
      excludedTerritories: [],
    })
    await revoked
    await waitUntil(async () => (await shop().role.offers.get('doomed')).status === 'revoked', {
      message: 'the retailer learns the revocation',
    })
    const before = clearing.calls.authorise
    await assert.rejects(buy(purchase), { code: PURCHASE_CODES.offerRevoked })
    assert.equal(clearing.calls.authorise, before)
    assert.equal(clearing.authorisations.has(purchase.order.purchaseId), false)
  })

  it('refunds a captured payment when the licence is refused (against the withdrawal), and says so on every retry', async () => {
    const { offer, certification } = await onSale(shop().role, 'sale-4')
    const purchase = order(offer, certification)
    registrar.refuse.set(purchase.order.purchaseId, LICENCE_CODES.deviceRevoked)
    await assert.rejects(buy(purchase), { code: PURCHASE_CODES.licenceRefused })
    assert.equal(clearing.authorisations.get(purchase.order.purchaseId)?.state, 'refunded')
    assert.ok(registrar.withdrawn.has(purchase.order.purchaseId), 'the receipt was withdrawn before the refund')
    registrar.refuse.delete(purchase.order.purchaseId)
    await assert.rejects(buy(purchase), { code: PURCHASE_CODES.licenceRefused })
    assert.equal(clearing.authorisations.get(purchase.order.purchaseId)?.state, 'refunded')
    assert.deepEqual(
      (await shop().role.purchases.status(purchase.order.purchaseId))?.history.map((h) => h.state),
      ['started', 'authorised', 'receipted', 'captured', 'refunding', 'refunded'],
    )
  })

  it('refuses when the payment is refused, with nothing to capture', async () => {
    const { offer, certification } = await onSale(shop().role, 'sale-5')
    const purchase = order(offer, certification)
    clearing.refuseNext = CLEARING_CODES.insufficientFunds
    const captures = clearing.calls.capture
    await assert.rejects(buy(purchase), { code: PURCHASE_CODES.paymentRefused })
    await assert.rejects(buy(purchase), { code: PURCHASE_CODES.paymentRefused })
    assert.equal(clearing.calls.capture, captures)
    assert.equal((await shop().role.purchases.status(purchase.order.purchaseId))?.state, 'voided')
  })

  it('resumes after the clearinghouse stopped answering and after a retailer restart: one charge, one licence', async () => {
    const keys = await createNodeKeys()
    const start = () =>
      startMemoryNode({
        network: market.net,
        clock: market.clock,
        keys,
        roles: ['retailer'],
        roleOptions: { retailer: { renewCheckIntervalMs: 0 } },
        dataDir,
      })
    let node = await start()
    try {
      const connect = async (n: ConsortNode) => {
        for (const peer of [market.reference, ...market.extra]) await n.libp2p.dial(peer.libp2p.getMultiaddrs()[0]!)
      }
      await connect(node)
      let role = node.role('retailer')
      const { offer, certification } = await onSale(role, 'durable')
      const purchase = order(offer, certification)
      const registrarCalls = registrar.calls

      // The clearinghouse goes quiet after authorising: the capture gets no answer, and no licence is asked for.
      const moved = nextEvent<{ state: string }>(role.purchases, 'purchase', (e) => e.state === 'receipted')
      const unplugged = moved.then(() => clearing.unplug())
      await assert.rejects(buy(purchase, node), { code: 'ERR_PURCHASE_PENDING' })
      await unplugged
      assert.equal((await role.purchases.status(purchase.order.purchaseId))?.state, 'receipted')
      assert.equal(clearing.authorisations.get(purchase.order.purchaseId)?.state, 'pending')
      assert.equal(registrar.calls, registrarCalls, 'no licence before the capture')

      // The retailer restarts on the same data; the clearinghouse answers again; the buyer retries.
      await node.stop()
      node = await start()
      await connect(node)
      role = node.role('retailer')
      await clearing.serve()
      const { receipt, licence } = await buy(purchase, node)
      assert.equal(clearing.authorisations.get(purchase.order.purchaseId)?.state, 'captured')
      assert.equal(registrar.calls - registrarCalls, 1, 'the licence was asked for once')
      assert.equal(receipt.body.purchaseId, purchase.order.purchaseId)
      assert.equal(licence.body.purchaseId, purchase.order.purchaseId)
      const again = await buy(purchase, node)
      assert.ok(again.receipt.id.equals(receipt.id))
    } finally {
      await node.stop()
      await clearing.serve()
    }
  })
})
