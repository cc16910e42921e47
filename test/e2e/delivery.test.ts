import assert from 'node:assert/strict'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { SEGMENT_TAG_BYTES } from '../../keys/segments.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import {
  CLEARING_OPS,
  CLEARING_PROTOCOL,
  type DeliveryResponse,
  deliveryResponse,
} from '../../protocols/clearing/index.ts'
import { FakeClock } from '../../protocols/clock.ts'
import {
  buildDeliveryReceipt,
  collectAcks,
  DELIVERY_OPS,
  DELIVERY_PROTOCOL,
  DeliveryRecorder,
  signDeliveryAck,
} from '../../protocols/delivery/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { DeliveryPeer } from '../../protocols/records/types/delivery.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import {
  deliveryParticipant,
  distributorParticipant,
  trackBytes,
  walletParticipant,
} from '../../roles/clearinghouse/index.ts'
import { MemorySink, type PlayerRole } from '../../roles/player/index.ts'
import { SAMPLE_ISRC } from '../../roles/production/index.ts'
import { startChainWorld, type WorldListener } from '../helpers/chain-world.ts'
import type { createTestNetwork } from '../helpers/network.ts'
import { startMemoryNode, stopAll } from '../helpers/nodes.ts'
import { publishSampleDownloadContract } from '../helpers/sample-contract.ts'
import { waitUntil } from '../helpers/wait.ts'

/**
 * Paid delivery end to end (issue 19, decision 0511), every role real on the memory transport: a label publishes the
 * sample release and a contract version with a delivery fee; a second delivery node carries the release; a listener
 * buys, fetches the track from both delivery nodes, gets each one's signed acknowledgement, signs its delivery
 * receipt and sends it to the clearinghouse, which pays each node from the distributor to the cent. Then what a
 * player or a peer could try: replaying the receipt, a re-download under the same licence, inflating a peer's bytes,
 * paying a friend that served nothing, paying itself, and asking a node to acknowledge blocks it never served.
 */
describe('e2e: paid delivery — fetch → acknowledgements → receipt → the clearinghouse pays the nodes', function () {
  this.timeout(240_000)
  const clock = new FakeClock(Date.UTC(2026, 11, 7, 9))
  const nodes: ConsortNode[] = []
  let keys: Record<
    'registrar' | 'reference' | 'clearinghouse' | 'label' | 'carrier' | 'retailer' | 'listener' | 'account' | 'friend',
    NodeKeys
  >
  let label: ConsortNode
  let carrier: ConsortNode
  let house: ConsortNode
  let listener: ConsortNode
  let player: PlayerRole
  let fetcher: SegmentsService
  let net: Awaited<ReturnType<typeof createTestNetwork>>
  let registrarNode: ConsortNode
  let fund: (amount: bigint) => Promise<unknown>
  let buyer: WorldListener
  let fundBuyer: (amount: bigint) => Promise<unknown>
  let balance: (participant: string) => Promise<bigint>
  let manifest: SignedRecord<'consort/manifest'>
  let licence: SignedRecord<'consort/licence'>
  let device: SignedRecord<'consort/device'>
  let contract: SignedRecord<'consort/contract'>
  let price: bigint
  const PER_GB = 100_000_000n
  const SALE_BPS = 1000

  before(async () => {
    const world = await startChainWorld({
      clock,
      extras: { carrier: ['delivery'] },
      listeners: { listener: {}, buyer: {} },
    })
    nodes.push(...world.nodes)
    const you = world.listeners.get('listener')!
    const shop0 = world.retailers.get('retailer')!
    const carried0 = world.extras.get('carrier')!
    keys = {
      ...world.keys,
      carrier: carried0.keys,
      retailer: shop0.keys,
      listener: you.keys,
      account: you.account,
      friend: await createNodeKeys(),
    }
    net = world.net
    registrarNode = world.registrar
    const reference = world.reference
    house = world.house
    label = world.label
    carrier = carried0.node
    const retailer = shop0.node
    listener = you.node
    fund = (amount) => world.fund(you, amount)
    buyer = world.listeners.get('buyer')!
    fundBuyer = (amount) => world.fund(buyer, amount)
    balance = (participant) => world.balance(participant)
    player = you.player
    device = await player.ensureDevice()

    // The sample release, and a new version of its download contract that pays delivery.
    contract = await publishSampleDownloadContract(
      { clock, label, labelKeys: keys.label, retailers: [retailer], reference, house },
      { delivery: { perGB: [{ amount: PER_GB, currency: 'EUR' }], saleBps: SALE_BPS } },
    )
    const shop = retailer.role('retailer')
    const offer = await shop.offers.create({
      offerId: 'first-light-download',
      content: contract.body.content,
      contract: contract.id.toString(),
      price: { amount: 250n, currency: 'EUR' },
      useType: 'PermanentDownload',
      rules: {},
      territories: ['Worldwide'],
    })
    assert.equal(offer.status, 'certified', JSON.stringify(offer.failures))
    price = 250n
    await waitUntil(() => player.directory.manifestFor(SAMPLE_ISRC) !== undefined)
    manifest = player.directory.manifestFor(SAMPLE_ISRC)! as SignedRecord<'consort/manifest'>

    // The carrier seeds the track, so that two delivery nodes serve it.
    const carried = await carrier.role('delivery').seed(manifest.id)
    assert.ok(carried !== undefined)
    const seeded = await carrier.role('delivery').waitForSeed(manifest.id)
    assert.equal(seeded.state, 'complete', JSON.stringify(seeded))

    // The listener buys.
    await fund(10_00n)
    const market = await player.offers(`isrc:${SAMPLE_ISRC}`)
    const listed = market.offers.find((o) => o.offerId === 'first-light-download')!
    const bought = await player.buy(listed.offer)
    licence = player.library
      .licencesFor(SAMPLE_ISRC)
      .find((l) => l.record.body.purchaseId === bought.purchaseId)!.record
    assert.ok(licence !== undefined)

    fetcher = new SegmentsService(
      { libp2p: listener.libp2p, blockstore: listener.helia.blockstore as never, network: listener.network, clock },
      { serve: false, reprovide: false },
    )
    await fetcher.start()
  })

  after(async () => {
    await fetcher?.stop()
    await stopAll(nodes)
  })

  /** Fetch the track from the swarm (dropping what the listener holds first) and collect the acknowledgements. */
  async function fetchAndAck(fetchId: string): Promise<{ peers: DeliveryPeer[]; credentials: Uint8Array[] }> {
    // The player's own prefetch during the purchase may still be storing a first segment: fetch until none was held.
    let recorder: DeliveryRecorder
    for (let attempt = 0; ; attempt++) {
      for (const cid of manifest.body.segments) await listener.helia.blockstore.delete(cid)
      recorder = new DeliveryRecorder(manifest.body.segments)
      const fetch = fetcher.fetch(manifest.body.segments, {
        providers: [label.peerId, carrier.peerId],
        onProgress: recorder.onProgress,
      })
      const summary = await fetch.done
      if (summary.fetched === manifest.body.segments.length) break
      assert.ok(attempt < 5, `the whole track fetched (${summary.fetched} of ${summary.total})`)
    }
    const collected = await collectAcks({
      libp2p: listener.libp2p,
      network: listener.network,
      device: keys.listener.signer.publicKey,
      fetches: [{ fetch: fetchId, manifest: manifest.id, deliveries: recorder.deliveries() }],
    })
    return { peers: collected.peers.get(fetchId) ?? [], credentials: collected.credentials }
  }

  function receipt(fetchId: string, peers: DeliveryPeer[]) {
    return buildDeliveryReceipt({
      network: listener.network,
      device: keys.listener.signer,
      account: keys.account.signer.publicKey,
      fetch: fetchId,
      licence: licence.id,
      manifest: manifest.id,
      peers,
      clock,
    })
  }

  async function send(r: SignedRecord<'consort/delivery'>, credentials: Uint8Array[] = []): Promise<DeliveryResponse> {
    const body = await rpcCall(
      listener.libp2p,
      peerIdOfKey(keys.clearinghouse.signer.publicKey),
      listener.network.protocol(CLEARING_PROTOCOL),
      CLEARING_OPS.delivery,
      { receipt: r.bytes, device: device.bytes, licence: licence.bytes, manifest: manifest.bytes, credentials },
    )
    return parseMessage(deliveryResponse, body, 'response')
  }

  const role = () => house.role('clearinghouse')

  /** The documented rule (decision 0511), computed here from the contract, not by the code under test. */
  function expected(bytes: number): bigint {
    const size = BigInt(trackBytes(manifest))
    return (BigInt(bytes) * PER_GB) / 1_000_000_000n + (price * BigInt(SALE_BPS) * BigInt(bytes)) / (10_000n * size)
  }

  it('pays each delivery node for the bytes it served, from the distributor, to the cent; a replay pays nothing more', async () => {
    const { peers, credentials } = await fetchAndAck('fetch-1')
    // Which of the two nodes serve a six-block track depends on their measured rates; each that served is paid.
    assert.ok(peers.length >= 1, 'the delivery nodes that served acknowledged')
    const total = peers.reduce((s, p) => s + p.bytes, 0)
    assert.equal(total, trackBytes(manifest), 'every byte of the track, acknowledged once')
    const distributorBefore = await balance(distributorParticipant(keys.label.signer.publicKey))
    const walletBefore = await balance(walletParticipant(keys.account.signer.publicKey))
    const r = receipt('fetch-1', peers)
    const answer = await send(r, credentials)
    assert.equal(answer.status, 'settled')
    assert.deepEqual(answer.unpaid, [])
    let paid = 0n
    for (const p of peers) {
      const owed = expected(p.bytes)
      assert.ok(owed > 0n)
      const line = answer.paid.find((x) => Buffer.from(x.peer).equals(Buffer.from(p.peer)))!
      assert.equal(line.amount, owed)
      assert.equal(await balance(deliveryParticipant(p.peer)), owed)
      paid += owed
    }
    assert.equal(await balance(distributorParticipant(keys.label.signer.publicKey)), distributorBefore - paid)
    assert.equal(
      await balance(walletParticipant(keys.account.signer.publicKey)),
      walletBefore,
      'the listener pays nothing',
    )

    const again = await send(r, credentials)
    assert.equal(again.status, 'duplicate')
    assert.equal(await balance(distributorParticipant(keys.label.signer.publicKey)), distributorBefore - paid)
    assert.deepEqual(await role().engine.ledger.audit(), [])
  })

  it('a re-download under the same licence charges the listener nothing and pays no second delivery', async () => {
    const walletBefore = await balance(walletParticipant(keys.account.signer.publicKey))
    const distributorBefore = await balance(distributorParticipant(keys.label.signer.publicKey))
    const { peers, credentials } = await fetchAndAck('fetch-2')
    assert.ok(peers.length > 0, 'the nodes acknowledge a second delivery: they did serve it again')
    const answer = await send(receipt('fetch-2', peers), credentials)
    assert.equal(answer.status, 'settled')
    assert.deepEqual(answer.paid, [])
    assert.ok(
      answer.unpaid.every((u) => u.reason === 'beyond-licence'),
      JSON.stringify(answer.unpaid),
    )
    assert.equal(await balance(walletParticipant(keys.account.signer.publicKey)), walletBefore)
    assert.equal(await balance(distributorParticipant(keys.label.signer.publicKey)), distributorBefore)
  })

  it('refuses inflated bytes, a second receipt for one fetch, and pays neither a friend that served nothing nor the listener itself', async () => {
    const distributorBefore = await balance(distributorParticipant(keys.label.signer.publicKey))
    const { peers, credentials } = await fetchAndAck('fetch-3')
    // More bytes than the node acknowledged: its signature no longer matches.
    const inflated = peers.map((p, i) => (i === 0 ? { ...p, bytes: p.bytes + 1 } : p))
    await assert.rejects(send(receipt('fetch-3', inflated), credentials), { code: 'ERR_DELIVERY_INVALID' })
    // A friend that signs an acknowledgement without serving: it holds no delivery certificate, so it is not paid.
    const friendAck = signDeliveryAck(
      {
        network: listener.network.name,
        fetch: 'fetch-4',
        device: keys.listener.signer.publicKey,
        manifest: manifest.id,
        blocks: 1,
        bytes: 1000,
      },
      keys.friend.signer,
    )
    const selfAck = signDeliveryAck(
      {
        network: listener.network.name,
        fetch: 'fetch-4',
        device: keys.listener.signer.publicKey,
        manifest: manifest.id,
        blocks: 1,
        bytes: 1000,
      },
      keys.listener.signer,
    )
    const answer = await send(
      receipt('fetch-4', [
        { peer: keys.friend.signer.publicKey, blocks: 1, bytes: 1000, ack: friendAck },
        { peer: keys.listener.signer.publicKey, blocks: 1, bytes: 1000, ack: selfAck },
      ]),
    )
    assert.deepEqual(
      answer.unpaid.map((u) => u.reason),
      ['not-payable', 'self-delivery'],
    )
    assert.deepEqual(answer.paid, [])
    // A second, different receipt for a fetch already settled.
    clock.advance(1000)
    await assert.rejects(
      send(receipt('fetch-4', [{ peer: keys.friend.signer.publicKey, blocks: 1, bytes: 999, ack: friendAck }])),
      { code: 'ERR_DELIVERY_INVALID' },
    )
    assert.equal(await balance(distributorParticipant(keys.label.signer.publicKey)), distributorBefore)
    assert.deepEqual(await role().engine.ledger.audit(), [])
  })

  it('a node acknowledges only blocks it served to the asking peer, once', async () => {
    const protocol = listener.network.protocol(DELIVERY_PROTOCOL)
    const ask = (node: ConsortNode) =>
      rpcCall(listener.libp2p, node.peerId, protocol, DELIVERY_OPS.ack, {
        fetches: [{ fetch: 'fetch-5', manifest: manifest.id, cids: manifest.body.segments }],
      })
    // Whatever the label still had unacknowledged (end-game copies) it confirms once; asked again, nothing.
    await ask(label).catch(() => {})
    await assert.rejects(ask(label), { code: 'ERR_NOTHING_SERVED' })
  })

  it('a second device of the account fetches its licence and plays: the player receipts the fetch with its usage, the nodes are paid, the listener is charged nothing, and a re-download says so', async () => {
    const second = await startMemoryNode({
      network: net,
      clock,
      roles: ['player'],
      certRoles: [],
      roleOptions: { player: { account: keys.account, flushIntervalMs: 0 } },
    })
    nodes.push(second)
    for (const n of [label, carrier, house, registrarNode]) await second.libp2p.dial(n.libp2p.getMultiaddrs()[0]!)
    const player2 = second.role('player')
    await player2.ensureDevice()
    await player2.directory.remember(manifest)
    const wallet = () => balance(walletParticipant(keys.account.signer.publicKey))
    const walletBefore = await wallet()
    const view = await player2.fetchLicence(licence.body.purchaseId)
    assert.equal(await wallet(), walletBefore, 'a licence on another device of the account charges nothing')
    // Only the delivery nodes hold the track: the account's first device, which seeds what it fetched, could otherwise
    // serve every block, and then nothing would be owed (seen beside busy loops). A device of the account never being
    // paid for delivering to it is the 'self-delivery' refusal above.
    const nodesPaid = new Set([label.peerId.toString(), carrier.peerId.toString()])
    for (const node of nodes) {
      if (nodesPaid.has(node.peerId.toString())) continue
      for (const cid of manifest.body.segments) await node.helia.blockstore.delete(cid)
    }
    const paidBefore = await balance(distributorParticipant(keys.label.signer.publicKey))
    const first = await player2.play(SAMPLE_ISRC, { sink: new MemorySink() })
    assert.equal(first.mode, 'licensed')
    assert.equal(first.delivery?.redownload, false)
    assert.equal(first.delivery?.charged, 0)
    assert.ok((first.delivery?.fetchedBytes ?? 0) > 0)
    clock.advance(5_000)
    await player2.flushUsage()
    assert.equal(player2.deliveries.pending, 0, 'the receipt was settled')
    const paid = paidBefore - (await balance(distributorParticipant(keys.label.signer.publicKey)))
    assert.deepEqual(
      first.sources.peers.filter((p) => !nodesPaid.has(p.peer)),
      [],
      'only the delivery nodes served',
    )
    const owed = first.sources.peers.reduce((sum, p) => sum + expected(p.bytes), 0n)
    assert.ok(owed > 0n)
    assert.equal(
      paid,
      owed,
      `the distributor paid each node for what it served, to the cent: ${JSON.stringify(first.sources)} ${JSON.stringify(first.delivery)}`,
    )
    // Fetched again under the same licence: a re-download, free to the listener, and no second delivery paid.
    for (const cid of manifest.body.segments) await second.helia.blockstore.delete(cid)
    const again = await player2.play(SAMPLE_ISRC, { sink: new MemorySink() })
    assert.equal(again.delivery?.redownload, true)
    assert.equal(again.delivery?.charged, 0)
    clock.advance(5_000)
    await player2.flushUsage()
    assert.equal(await wallet(), walletBefore, 'plays and re-downloads charged the listener nothing')
    // Per licence the nodes are paid one delivery of the track: the re-download pays nothing more.
    const total = paidBefore - (await balance(distributorParticipant(keys.label.signer.publicKey)))
    assert.equal(total, paid, 'no second delivery')
    void view
  })
  it('a purchase pays the nodes for the segments the player prefetched while buying, to the cent; the play after it fetches only the rest and is no re-download', async () => {
    // Only the delivery nodes hold the track: every block the buyer fetches is one they are paid for.
    const servers = new Set([label.peerId.toString(), carrier.peerId.toString()])
    for (const node of nodes) {
      if (servers.has(node.peerId.toString())) continue
      for (const cid of manifest.body.segments) await node.helia.blockstore.delete(cid)
    }
    const payees = [label, carrier].map((n) => ({ node: n, key: n.keys.signer.publicKey }))
    const paidTo = async () => Promise.all(payees.map((p) => balance(deliveryParticipant(p.key))))
    const distributor = () => balance(distributorParticipant(keys.label.signer.publicKey))
    const before = await paidTo()
    const distributorBefore = await distributor()
    const player3 = buyer.player
    await fundBuyer(10_00n)
    const market = await player3.offers(`isrc:${SAMPLE_ISRC}`)
    await player3.buy(market.offers.find((o) => o.offerId === 'first-light-download')!.offer)
    // The prefetch started with the purchase ends on its own and is receipted under the new licence.
    await waitUntil(() => player3.deliveries.pending > 0)
    clock.advance(5_000)
    await player3.flushUsage()
    assert.equal(player3.deliveries.pending, 0, 'the prefetch receipt was settled')
    // Each node is paid for whole blocks: the prefetch asks for the first two segments, each full.
    const block = manifest.body.segmentSize + SEGMENT_TAG_BYTES
    const afterPrefetch = await paidTo()
    const prefetched = afterPrefetch.map((paid, i) => {
      const delta = paid - before[i]!
      const blocks = [0, 1, 2].find((k) => expected(k * block) === delta)
      assert.ok(blocks !== undefined, `node ${i} was paid ${delta}: not a whole number of prefetched blocks`)
      return blocks
    })
    assert.equal(
      prefetched.reduce((a, b) => a + b, 0),
      2,
      'both prefetched segments paid, once',
    )
    // The play fetches the rest; the prefetch's few segments do not make it a re-download.
    const play = await player3.play(SAMPLE_ISRC, { sink: new MemorySink() })
    assert.equal(play.mode, 'licensed')
    assert.equal(play.delivery?.redownload, false)
    assert.equal(play.delivery?.fetchedBytes, trackBytes(manifest) - 2 * block)
    clock.advance(5_000)
    await player3.flushUsage()
    assert.equal(player3.deliveries.pending, 0)
    const afterPlay = await paidTo()
    let total = 0n
    payees.forEach((p, i) => {
      const served = play.sources.peers.find((x) => x.peer === p.node.peerId.toString())?.bytes ?? 0
      const byPlay = served - prefetched[i]! * block
      assert.equal(afterPlay[i]! - afterPrefetch[i]!, expected(byPlay), `node ${i}: the play's bytes, to the cent`)
      total += afterPlay[i]! - before[i]!
    })
    assert.equal(await distributor(), distributorBefore - total, 'the distributor paid exactly what the nodes got')
    assert.ok(total <= expected(trackBytes(manifest)) + 4n, 'about one delivery of the track, never two')
    assert.deepEqual(await role().engine.ledger.audit(), [])
  })
})
