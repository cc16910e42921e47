import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { recordId, signRecord } from '../../../protocols/records/envelope.ts'
import { protocolId } from '../../../protocols/rpc/constants.ts'
import { registerRpc } from '../../../protocols/rpc/server.ts'
import { SYNC_OPS, SYNC_PROTOCOL } from '../../../protocols/sync/index.ts'
import { encodeGossipMessage } from '../../../protocols/topics/message.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { sampleBodies } from '../../helpers/record-samples.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { createMarket, type Market, TRACK_A, TRACK_B } from './market.ts'

/**
 * Catch-up (protocols/sync): a reference service that was offline while a contract, an offer (with its
 * certification), a withdrawal and a release went out learns every one of them as soon as it is back, from whichever
 * peer it reconnects to, without anybody announcing anything again.
 */
describe('catch-up: a node that was away learns what it missed on reconnect', function () {
  this.timeout(120_000)
  let market: Market & { extra: ConsortNode[] }
  let dir: string
  let lateKeys: NodeKeys
  let late: ConsortNode | undefined

  const lateRole = () => late!.role('reference')
  const startLate = async () => {
    late = await startMemoryNode({
      network: market.net,
      clock: market.clock,
      keys: lateKeys,
      roles: ['reference'],
      roleOptions: { reference: { fetchUnknownContracts: false } },
      dataDir: path.join(dir, 'late-reference'),
    })
    return late
  }
  const offersFor = async (content: string) =>
    (await lateRole().query({ content, territory: 'DE', at: null, limit: 10 })).map((m) => recordId(m.offer).toString())

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'consort-sync-'))
    lateKeys = await createNodeKeys()
    market = await createMarket({ retailers: 1, referenceKeys: [lateKeys] })
    await startLate()
  })

  after(async () => {
    await late?.stop()
    await market?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('learns a contract, an offer, a withdrawal and a release published while it was offline', async () => {
    const shop = market.retailers[0]!
    // While connected, it hears of a contract and an offer by gossip (or by catch-up on connecting).
    await late!.libp2p.dial(shop.node.libp2p.getMultiaddrs()[0]!)
    const contract = await market.publishContract({ content: [TRACK_A, TRACK_B] })
    const base = { contract: contract.id.toString(), price: { amount: 99n, currency: 'EUR' } }
    const first = await shop.role.offers.create({
      ...base,
      offerId: 'first',
      content: [TRACK_A],
      useType: 'PermanentDownload',
      territories: ['DE'],
    })
    assert.equal(first.status, 'certified', JSON.stringify(first.failures))
    await waitUntil(async () => (await offersFor(TRACK_A)).includes(first.offer), {
      message: 'the late reference service knows the first offer',
    })

    // Offline: meanwhile a new contract, an offer under it, the first offer's withdrawal and a release go out.
    await late!.stop()
    late = undefined
    const second = signRecord('consort/contract', market.contractBody({ content: [TRACK_B] }), market.label.keys.signer)
    await market.label.topics.publish('contracts', second, market.label.credentials.attachments())
    await waitUntil(async () => (await shop.role.store.contractByCid(second.id)) != null)
    const offer = await shop.role.offers.create({
      ...base,
      contract: second.id.toString(),
      offerId: 'second',
      content: [TRACK_B],
      useType: 'OnDemandStream',
      territories: ['DE'],
    })
    assert.equal(offer.status, 'certified', JSON.stringify(offer.failures))
    await shop.role.offers.withdraw('first', 'sold out')
    const releaseBody = sampleBodies(market.net.name, market.clock.now())['consort/release']
    const release = signRecord('consort/release', releaseBody, market.label.keys.signer)
    await market.label.topics.publish('catalog', release, market.label.credentials.attachments())

    // Back: it reconnects to one peer (the label) and catches up from it alone.
    const back = await startLate()
    await back.libp2p.dial(market.label.libp2p.getMultiaddrs()[0]!)
    await waitUntil(
      async () =>
        (await lateRole().store.contractByCid(second.id)) != null &&
        (await offersFor(TRACK_B)).includes(offer.offer) &&
        !(await offersFor(TRACK_A)).includes(first.offer) &&
        (await lateRole().store.release(`icpn:${releaseBody.icpn}`)) != null,
      {
        message: 'the reference service knows the new contract, offer and release, and the withdrawal',
      },
    )
    const viaSync = (await back.sync.log.tail({ limit: 100 })).filter((e) => e.via === 'sync').map((e) => e.type)
    for (const type of ['consort/contract', 'consort/offer', 'consort/revocation', 'consort/release'])
      assert.ok(viaSync.includes(type), `${type} came by catch-up (${viaSync.join(', ')})`)

    // Asking again brings nothing new: the cursor moved past what it has.
    const again = await back.sync.syncWith(market.label.peerId)
    assert.equal(again.error, undefined)
    assert.equal(again.received, 0)
  })

  it('refuses what a peer serves that does not pass the checks, and a message on a topic it did not ask for', async () => {
    const back = late!
    const liar = await startMemoryNode({ network: market.net, clock: market.clock })
    try {
      const protocol = protocolId(market.net.name, SYNC_PROTOCOL)
      // A forged contract (signed by a key nobody certified), then a usage report nobody asked for.
      const forged = signRecord(
        'consort/contract',
        market.contractBody({ contractId: 'forged' }),
        (await createNodeKeys()).signer,
      )
      let topic: 'contracts' | 'usage' = 'contracts'
      await liar.libp2p.unhandle(protocol)
      await registerRpc(liar.libp2p, protocol, {
        [SYNC_OPS.pull]: async () => ({
          epoch: 'ab'.repeat(16),
          messages: [{ topic, data: encodeGossipMessage([forged.bytes]) }],
          next: 1,
          more: false,
        }),
      })
      await back.libp2p.dial(liar.libp2p.getMultiaddrs()[0]!)
      const run = await back.sync.syncWith(liar.peerId)
      assert.equal(run.rejected, 1, JSON.stringify(run))
      assert.equal(await lateRole().store.contractByCid(forged.id), undefined)

      topic = 'usage'
      await back.sync.log.setCursor(liar.peerId.toString(), { epoch: 'cd'.repeat(16), after: 0 })
      const offTopic = await back.sync.syncWith(liar.peerId)
      assert.match(offTopic.error ?? '', /not asked for/)
    } finally {
      await liar.stop()
    }
  })
})
