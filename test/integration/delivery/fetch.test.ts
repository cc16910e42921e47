import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { decryptSegment } from '../../../keys/segments.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import { LEAD_LOOKUP_WAIT_MS } from '../../../protocols/segments/fetcher.ts'
import type { FetchProgressEvent } from '../../../protocols/segments/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { deliveryOf, dial, removeDir, startDeliveryNode } from './nodes.ts'
import { buildTrack, collect, storeTrack, type TestTrack } from './track.ts'

/** Decrypt fetched segments in order and join them: the recording as the producer had it. */
function decryptAll(track: TestTrack, blocks: Uint8Array[]): Uint8Array {
  const parts = blocks.map((block, i) => decryptSegment(track.contentKey, track.keyId, i, block))
  return new Uint8Array(Buffer.concat(parts))
}

describe('delivery: fetching a track from the swarm', function () {
  this.timeout(60_000)
  const clock = new FakeClock()
  let network: TestNetwork
  const nodes: ConsortNode[] = []
  const dirs: string[] = []

  before(async () => {
    network = await createTestNetwork(clock)
  })

  afterEach(async () => {
    await stopAll(nodes.splice(0))
    for (const dir of dirs.splice(0)) await removeDir(dir)
  })

  /** A seeder holding a new track (the segments `holds` picks, all by default) and a player connected to it. */
  async function seededPlayer(segmentCount: number, holds?: (index: number) => boolean) {
    const seeder = await startDeliveryNode(network, clock)
    const player = await startDeliveryNode(network, clock)
    nodes.push(seeder, player)
    const track = await buildTrack(network, clock, { segmentCount })
    await storeTrack(seeder, track, holds)
    await dial(player, seeder)
    return { seeder, player, track }
  }

  it('fetches a published track from another node, byte-identical, and it decrypts', async () => {
    const { seeder, player, track } = await seededPlayer(24)

    const events: FetchProgressEvent[] = []
    const fetch = deliveryOf(player).segments.fetchTrack(track.manifest, { onProgress: (e) => events.push(e) })
    const summary = await fetch.done
    assert.equal(summary.fetched, 24)
    assert.equal(summary.cached, 0)
    assert.equal(summary.duplicateBytes, 0)
    assert.equal(
      summary.bytesFetched,
      track.segments.reduce((n, s) => n + s.length, 0),
    )
    assert.deepEqual(
      summary.peers.map((p) => [p.peer, p.blocks, p.dropped]),
      [[seeder.peerId.toString(), 24, null]],
    )

    const fetched: Uint8Array[] = []
    for (let i = 0; i < track.cids.length; i++) {
      fetched.push(await collectBlock(player.helia.blockstore.get(track.cids[i]!, { offline: true })))
      assert.deepEqual(fetched[i], track.segments[i], `segment ${i} is byte-identical`)
    }
    assert.deepEqual(decryptAll(track, fetched), track.plaintext)
    assert.equal(events[0]?.type, 'start')
    assert.equal(events.filter((e) => e.type === 'block').length, 24)
    assert.equal(events.at(-1)?.type, 'done')
    assert.ok(events.some((e) => e.type === 'provider' && e.source === 'connected'))
    // the manifest came along, so the player can serve it as well as the segments
    assert.equal(await player.records.has(track.manifest.id), true)
  })

  it('yields segment 0 first, before the rest of the track is there', async () => {
    // the seeder holds the first half now and the rest later, as a swarm still filling up would
    const { seeder, player, track } = await seededPlayer(12, (i) => i < 6)

    const fetch = deliveryOf(player).segments.fetchTrack(track.manifest)
    const order: number[] = []
    let presentAtFirst = -1
    for await (const block of fetch.blocks()) {
      if (order.length === 0) {
        presentAtFirst = fetch.present
        // the player decrypts and plays segment 0 while the rest is missing
        assert.deepEqual(
          decryptSegment(track.contentKey, track.keyId, 0, block.bytes),
          track.plaintext.subarray(0, 16 * 1024),
        )
        await storeTrack(seeder, track, (i) => i >= 6)
      }
      order.push(block.index)
      assert.deepEqual(block.bytes, track.segments[block.index])
    }
    assert.deepEqual(
      order,
      track.cids.map((_, i) => i),
    )
    assert.ok(presentAtFirst >= 1 && presentAtFirst <= 6, `segment 0 came with ${presentAtFirst} of 12 present`)
    const summary = await fetch.done
    assert.equal(summary.fetched, 12)
  })

  it('asks for the lead block alone, and the rest only once it has arrived (a play at 0 and a seek to 7)', async () => {
    const { seeder, player, track } = await seededPlayer(12)

    for (const lead of [0, 7]) {
      for (const cid of track.cids) await player.helia.blockstore.delete(cid)
      const events: FetchProgressEvent[] = []
      const fetch = deliveryOf(player).segments.fetch(track.cids, {
        root: null,
        leadIndex: lead,
        onProgress: (e) => events.push(e),
      })
      await fetch.done
      const steps = events.flatMap((e) =>
        e.type === 'request' ? [`ask ${e.index}`] : e.type === 'block' ? [`got ${e.index}`] : [],
      )
      // nothing else is asked for until the lead block is in; then every block comes, each once
      assert.deepEqual(steps.slice(0, 2), [`ask ${lead}`, `got ${lead}`], steps.join(', '))
      const asked = steps.filter((s) => s.startsWith('ask ')).map((s) => Number(s.slice(4)))
      assert.deepEqual(
        [...asked].sort((a, b) => a - b),
        track.cids.map((_, i) => i),
      )
      // behind it, the others go out in playback order
      const rest = track.cids.map((_, i) => i).filter((i) => i !== lead)
      assert.deepEqual(asked.slice(1, 5), rest.slice(0, 4))
      const summary = await fetch.done
      assert.equal(summary.fetched, 12)
      assert.equal(summary.duplicateBytes, 0)
    }
    for (const lead of [-1, 12, 1.5]) {
      assert.throws(() => deliveryOf(player).segments.fetch(track.cids, { root: null, leadIndex: lead }), {
        name: 'InvalidFetchRequestError',
        message: /leadIndex/,
      })
    }
  })

  it('with a lead block held by a peer at hand, the DHT lookup waits for it (at most LEAD_LOOKUP_WAIT_MS)', async () => {
    // at hand ← player → relay ← far: the far seeder is found only through the DHT
    const atHand = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    const far = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    const relay = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    const player = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    nodes.push(atHand, far, relay, player)
    const track = await buildTrack(network, clock, { segmentCount: 6 })
    await storeTrack(atHand, track)
    await storeTrack(far, track)
    await dial(far, relay)
    await dial(player, relay)
    await dial(player, atHand)
    assert.equal(await deliveryOf(far).segments.announcer.add(track.manifest.id), true)

    // the peer at hand holds the lead block's request until the far seeder has been found
    const server = deliveryOf(atHand).segments.server
    server.pause()
    const at = new Map<string, number>()
    let leadFrom: string | null = null
    // the far seeder is connected too (the DHT's routing table dialled it): not asking connected peers keeps it to
    // be found through the DHT
    const fetch = deliveryOf(player).segments.fetch(track.cids, {
      root: track.manifest.id,
      leadIndex: 0,
      providers: [atHand.peerId],
      askConnected: false,
      onProgress: (e) => {
        const step = e.type === 'request' && e.index === 0 ? 'lead asked' : e.type === 'provider' ? e.source : null
        if (step !== null && !at.has(step)) at.set(step, performance.now())
        if (e.type === 'block' && e.index === 0) leadFrom = e.peer
      },
    })
    try {
      // the stalled peer still holds its copy: the far seeder's, asked for once the lead was late, comes first
      await waitUntil(() => leadFrom !== null, { timeoutMs: 30_000, message: 'the lead block from the far seeder' })
    } finally {
      server.resume()
    }
    const summary = await fetch.done
    assert.equal(summary.fetched, 6)
    const waited = at.get('dht')! - at.get('lead asked')!
    assert.ok(waited >= LEAD_LOOKUP_WAIT_MS, `the DHT was asked ${waited.toFixed(0)} ms after the lead block`)
    assert.ok(at.get('given')! <= at.get('lead asked')!)
    // the lead block came from the far seeder, asked for it again once it was late at the stalled one
    assert.equal(leadFrom, far.peerId.toString())
  })

  it('resumes after a restart: blocks already on disk are not fetched again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'consort-delivery-resume-'))
    dirs.push(dir)
    const keys = await createNodeKeys()
    const seeder = await startDeliveryNode(network, clock)
    nodes.push(seeder)
    const track = await buildTrack(network, clock, { segmentCount: 40 })
    await storeTrack(seeder, track)

    const first = await startDeliveryNode(network, clock, { dataDir: dir, keys })
    nodes.push(first)
    await dial(first, seeder)
    const partial = deliveryOf(first).segments.fetchTrack(track.manifest, {
      // a small window so that the fetch is cut off well before the end
      maxWindow: 2,
      onProgress: (e) => {
        if (e.type === 'block' && e.done >= 15) partial.abort()
      },
    })
    await assert.rejects(partial.done, { name: 'FetchAbortedError' })
    await waitUntil(() => deliveryOf(first).segments.server.stats().active === 0)
    const stored = partial.present
    assert.ok(stored >= 15 && stored < 40, `${stored} blocks stored before the cut`)
    await first.stop()
    nodes.splice(nodes.indexOf(first), 1)

    const again = await startDeliveryNode(network, clock, { dataDir: dir, keys })
    nodes.push(again)
    await dial(again, seeder)
    const served = deliveryOf(seeder).segments.server.stats().blocksServed
    const resumed = deliveryOf(again).segments.fetchTrack(track.manifest)
    const summary = await resumed.done
    assert.ok(summary.cached >= stored, `${summary.cached} cached, ${stored} stored before`)
    assert.equal(summary.cached + summary.fetched, 40)
    assert.equal(deliveryOf(seeder).segments.server.stats().blocksServed - served, summary.fetched)
    for (const block of await collect(resumed.blocks())) {
      // the on-disk blockstore hands back Buffers: compare the bytes
      assert.deepEqual(new Uint8Array(block.bytes), track.segments[block.index])
    }
  })

  it('fetches over TCP on loopback', async () => {
    const start = async () => {
      const node = await createConsortNode({
        dataDir: null,
        network: network.record,
        keys: await createNodeKeys(),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        roles: ['delivery'],
        clock,
      })
      nodes.push(node)
      await node.start()
      return node
    }
    const seeder = await start()
    const player = await start()
    const track = await buildTrack(network, clock, { segmentCount: 8, segmentSize: 256 * 1024 })
    await storeTrack(seeder, track)
    await player.libp2p.dial(seeder.libp2p.getMultiaddrs()[0]!)
    const fetch = deliveryOf(player).segments.fetchTrack(track.manifest)
    const blocks = (await collect(fetch.blocks())).map((b) => b.bytes)
    assert.deepEqual(decryptAll(track, blocks), track.plaintext)
    assert.equal((await fetch.done).fetched, 8)
  })
})
