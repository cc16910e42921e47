import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { lpStream } from '@libp2p/utils'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import {
  type BlockServedEvent,
  getBlocks,
  requestHave,
  SEGMENT_ERROR_CODES,
  type SegmentPriority,
} from '../../../protocols/segments/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { rawCid } from '../../helpers/records.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { deliveryOf, dial, startDeliveryNode } from './nodes.ts'
import { buildTrack, collect, storeTrack } from './track.ts'

describe('delivery: the segments server', function () {
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

  it('answers queued requests in priority order: now, then prefetch, then sync', async () => {
    const seeder = await startDeliveryNode(network, clock, { init: { server: { maxActive: 1 } } })
    const client = await startDeliveryNode(network, clock)
    nodes.push(seeder, client)
    const track = await buildTrack(network, clock, { segmentCount: 6 })
    await storeTrack(seeder, track)
    await dial(client, seeder)
    const server = deliveryOf(seeder).segments.server
    const protocol = deliveryOf(client).segments.protocol
    const served: BlockServedEvent[] = []
    server.addEventListener('served', (e) => served.push((e as CustomEvent<BlockServedEvent>).detail))

    server.pause()
    const asked: SegmentPriority[] = ['sync', 'prefetch', 'now', 'sync', 'now', 'prefetch']
    const answers = asked.map(async (priority, i) => {
      const got = await collect(getBlocks(client.libp2p, seeder.peerId, protocol, [track.cids[i]!], { priority }))
      assert.deepEqual(got[0]?.block, track.segments[i])
    })
    await waitUntil(() => server.stats().queued === asked.length, { message: 'all six requests queued' })
    server.resume()
    await Promise.all(answers)

    const order = served.map((e) => track.cids.findIndex((c) => c.equals(e.cid)))
    assert.deepEqual(order, [2, 4, 1, 5, 0, 3], 'most urgent first, first come first served within a priority')
    assert.deepEqual(
      served.map((e) => e.priority),
      ['now', 'now', 'prefetch', 'prefetch', 'sync', 'sync'],
    )
  })

  it('says which blocks it holds, and answers absent for the others', async () => {
    const seeder = await startDeliveryNode(network, clock)
    const client = await startDeliveryNode(network, clock)
    nodes.push(seeder, client)
    const track = await buildTrack(network, clock, { segmentCount: 10 })
    await storeTrack(seeder, track, (i) => i % 3 === 0)
    await dial(client, seeder)
    const protocol = deliveryOf(client).segments.protocol
    const have = await requestHave(client.libp2p, seeder.peerId, protocol, track.cids)
    assert.deepEqual(
      have,
      track.cids.map((_, i) => i % 3 === 0),
    )
    const answers = await collect(getBlocks(client.libp2p, seeder.peerId, protocol, track.cids.slice(0, 4)))
    assert.deepEqual(
      answers.map((a) => [a.index, a.block == null ? null : a.block.length]),
      [
        [0, track.segments[0]!.length],
        [1, null],
        [2, null],
        [3, track.segments[3]!.length],
      ],
    )
    assert.equal(deliveryOf(seeder).segments.server.stats().absent, 2)
  })

  it('refuses a malformed request with ERR_BAD_REQUEST', async () => {
    const seeder = await startDeliveryNode(network, clock)
    const client = await startDeliveryNode(network, clock)
    nodes.push(seeder, client)
    await dial(client, seeder)
    const stream = await client.libp2p.dialProtocol(seeder.peerId, deliveryOf(client).segments.protocol)
    const lp = lpStream(stream)
    await lp.write(dagCbor.encode({ v: 1, op: 'get', pri: 7, cids: [rawCid(new Uint8Array([1]))] }))
    const reply = dagCbor.decode((await lp.read()).subarray()) as Record<string, unknown>
    assert.equal(reply.error, SEGMENT_ERROR_CODES.badRequest)
    assert.match(String(reply.message), /request\.pri/)
    await stream.close()
  })

  it('answers busy when its queue is full, and the fetcher backs off and retries', async () => {
    const seeder = await startDeliveryNode(network, clock, {
      init: { server: { maxQueued: 2, maxQueuedPerPeer: 2, maxActive: 1 } },
    })
    const client = await startDeliveryNode(network, clock)
    nodes.push(seeder, client)
    const track = await buildTrack(network, clock, { segmentCount: 12 })
    await storeTrack(seeder, track)
    await dial(client, seeder)
    const server = deliveryOf(seeder).segments.server
    server.pause()
    const fetch = deliveryOf(client).segments.fetchTrack(track.manifest)
    // the fetcher's first window is four requests: two wait in the queue, two are refused
    await waitUntil(() => server.stats().busy >= 2, { message: 'the server refused the overflow' })
    server.resume()
    const summary = await fetch.done
    assert.equal(summary.fetched, 12)
    assert.deepEqual(
      summary.peers.map((p) => p.dropped),
      [null],
    )
  })
})
