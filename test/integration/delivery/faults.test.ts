import assert from 'node:assert/strict'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import type { FetchProgressEvent } from '../../../protocols/segments/index.ts'
import { SegmentsService } from '../../../protocols/segments/service.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { deliveryOf, dial, startDeliveryNode } from './nodes.ts'
import { buildTrack, collect, storeTrack } from './track.ts'

/**
 * A fetcher on the player's node that asks `/segments/1` peers only (no bitswap): the faults below are those of the
 * segments protocol; how bitswap covers for a seeder is tested at the end.
 */
async function segmentsOnly(node: ConsortNode, clock: FakeClock): Promise<SegmentsService> {
  const service = new SegmentsService(
    { libp2p: node.libp2p, blockstore: node.helia.blockstore as never, network: node.network, clock },
    { serve: false, reprovide: false },
  )
  await service.start()
  return service
}

describe('delivery: faulty and vanishing seeders', function () {
  this.timeout(60_000)
  const clock = new FakeClock()
  let network: TestNetwork
  const nodes: ConsortNode[] = []

  before(async () => {
    network = await createTestNetwork(clock)
  })

  afterEach(async () => {
    await stopAll(nodes.splice(0))
  })

  it('a seeder serving corrupt blocks cannot spoil a fetch: it is dropped, penalised, and its blocks come from elsewhere', async () => {
    const good = await startDeliveryNode(network, clock)
    const bad = await startDeliveryNode(network, clock, { init: { faultInjection: { corruptBlocks: true } } })
    const player = await startDeliveryNode(network, clock)
    nodes.push(good, bad, player)
    const track = await buildTrack(network, clock, { segmentCount: 30 })
    // the good seeder holds the even segments only at first, so the odd ones must be asked of the bad seeder
    await storeTrack(good, track, (i) => i % 2 === 0)
    await storeTrack(bad, track)
    await dial(player, good)
    await dial(player, bad)

    const badPeer = bad.peerId.toString()
    const events: FetchProgressEvent[] = []
    const segments = await segmentsOnly(player, clock)
    const fetch = segments.fetchTrack(track.manifest, {
      onProgress: (e) => {
        events.push(e)
        // once the bad seeder is caught, the good one gets the rest: the fetch must find it there
        if (e.type === 'peer-dropped' && e.peer === badPeer) void storeTrack(good, track, (i) => i % 2 === 1)
      },
    })
    const blocks = await collect(fetch.blocks())
    const summary = await fetch.done

    // every block stored is the real one
    assert.equal(blocks.length, 30)
    for (const block of blocks) assert.deepEqual(block.bytes, track.segments[block.index])
    assert.ok(summary.badBytes > 0)
    assert.deepEqual(
      summary.peers.find((p) => p.peer === badPeer),
      {
        peer: badPeer,
        source: 'connected',
        blocks: 0,
        bytes: 0,
        bytesRelayed: 0,
        duplicateBlocks: 0,
        rateBps: null,
        dropped: 'bad-block',
      },
    )
    assert.equal(summary.peers.find((p) => p.peer === good.peerId.toString())?.blocks, 30)
    assert.ok(events.some((e) => e.type === 'bad-block' && e.peer === badPeer))
    // penalised: the next fetch does not ask it at all
    assert.equal(segments.penalties.isBanned(badPeer), true)
    const other = await buildTrack(network, clock, { segmentCount: 4 })
    await storeTrack(good, other)
    await storeTrack(bad, other)
    const asked = deliveryOf(bad).segments.server.stats().requests
    const second = await segments.fetchTrack(other.manifest).done
    assert.deepEqual(
      second.peers.map((p) => p.peer),
      [good.peerId.toString()],
    )
    assert.equal(deliveryOf(bad).segments.server.stats().requests, asked)
  })

  it('with only a corrupt seeder the fetch fails and stores nothing bad', async () => {
    const bad = await startDeliveryNode(network, clock, { init: { faultInjection: { corruptBlocks: true } } })
    const player = await startDeliveryNode(network, clock)
    nodes.push(bad, player)
    const track = await buildTrack(network, clock, { segmentCount: 6 })
    await storeTrack(bad, track)
    await dial(player, bad)
    const events: string[] = []
    const fetch = (await segmentsOnly(player, clock)).fetchTrack(track.manifest, {
      stallTimeoutMs: 1500,
      onProgress: (e) => {
        if (e.type === 'start') events.push(e.fetchId)
      },
    })
    // The fetch's id leads its log lines, its start event and its error, so that one fetch among many can be followed.
    assert.match(fetch.id, /^fetch-\d+$/)
    await assert.rejects(
      fetch.done,
      (err: Error) => err.name === 'NoProvidersError' && err.message.startsWith(`${fetch.id}:`),
    )
    assert.deepEqual(events, [fetch.id])
    for (const cid of track.cids) assert.equal(await player.helia.blockstore.has(cid), false)
  })

  it('a seeder that corrupts its /segments/1 answers but holds the real blocks still serves them over bitswap', async () => {
    const bad = await startDeliveryNode(network, clock, { init: { faultInjection: { corruptBlocks: true } } })
    const player = await startDeliveryNode(network, clock)
    nodes.push(bad, player)
    const track = await buildTrack(network, clock, { segmentCount: 6 })
    await storeTrack(bad, track)
    await dial(player, bad)
    const fetch = deliveryOf(player).segments.fetchTrack(track.manifest, { stallTimeoutMs: 5000 })
    const blocks = await collect(fetch.blocks())
    const summary = await fetch.done
    for (const block of blocks) assert.deepEqual(block.bytes, track.segments[block.index])
    assert.equal(summary.peers.find((p) => p.peer === bad.peerId.toString())?.dropped, 'bad-block')
    assert.equal(summary.peers.find((p) => p.source === 'bitswap')?.blocks, 6)
  })

  it('four seeders, one killed mid-fetch: the fetch still completes', async () => {
    const seeders = await Promise.all([0, 1, 2, 3].map(async () => startDeliveryNode(network, clock)))
    const player = await startDeliveryNode(network, clock)
    nodes.push(...seeders, player)
    const track = await buildTrack(network, clock, { segmentCount: 64 })
    for (const seeder of seeders) {
      await storeTrack(seeder, track)
      await dial(player, seeder)
    }
    const victim = seeders[1]!
    const victimId = victim.peerId.toString()
    let killed: Promise<void> | null = null
    let doneAtKill = 0
    let fromVictim = 0
    const fetch = deliveryOf(player).segments.fetchTrack(track.manifest, {
      onProgress: (e) => {
        // kill the victim once it has served a couple of blocks, while it still has requests in flight
        if (e.type === 'block' && e.peer === victimId) fromVictim++
        if (killed == null && fromVictim >= 2) {
          doneAtKill = e.type === 'block' ? e.done : 0
          killed = victim.stop()
        }
      },
    })
    const summary = await fetch.done
    await killed
    assert.ok(killed != null, 'the victim was killed during the fetch')
    assert.ok(doneAtKill < 64)
    assert.equal(summary.fetched, 64)
    const victimSummary = summary.peers.find((p) => p.peer === victimId)
    assert.ok(
      victimSummary?.dropped === 'unreachable' || victimSummary?.dropped === 'failing',
      JSON.stringify(victimSummary),
    )
    assert.ok(summary.peers.filter((p) => p.blocks > 0).length >= 2, 'more than one seeder served')
    for await (const block of fetch.blocks()) assert.deepEqual(block.bytes, track.segments[block.index])
  })
})
