import assert from 'node:assert/strict'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createHelia } from 'helia'
import type { CID } from 'multiformats/cid'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import { bitswapSource } from '../../../protocols/segments/bitswap-source.ts'
import { BITSWAP_PEER_ID } from '../../../protocols/segments/fetcher.ts'
import { SegmentsService } from '../../../protocols/segments/service.ts'
import { MemorySink } from '../../../roles/player/index.ts'
import { announce, licenceFor, type PlayerNode, packageTrack, startWorld, type World } from './world.ts'

/**
 * The IPFS network can serve a listener: a stock Helia node — `createHelia` from the `helia` package, with its own
 * bitswap, identify, noise and yamux over TCP on loopback, and none of Consort's code or protocols — holds a track's
 * encrypted segments, as a pinning service would. A licensed player plays the whole track from it when it is the only
 * holder (over bitswap, the fetcher's source beside `/segments/1`), every block checked against its CID; and when
 * `/segments/1` peers hold part of a track, bitswap is asked only for the rest.
 */
describe('player: a stock Helia node serves listeners over bitswap', function () {
  this.timeout(120_000)
  let world: World
  let stock: Awaited<ReturnType<typeof createHelia>>
  /** What the stock node holds, and which blocks it has handed out. */
  const blocks = new MemoryBlockstore()
  const served = new Set<string>()
  let listener: ConsortNode
  let player: PlayerNode

  before(async () => {
    world = await startWorld()
    const get = blocks.get.bind(blocks)
    blocks.get = (cid: CID, options?: Parameters<typeof get>[1]) => {
      served.add(cid.toString())
      return get(cid, options)
    }
    stock = await createHelia({
      blockstore: blocks,
      datastore: new MemoryDatastore(),
      libp2p: {
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        // no bootstrap list, mDNS, UPnP or public relays: the test stays on loopback
        peerDiscovery: [],
        services: { identify: identify() },
      },
    })
    await stock.start()
    assert.ok(
      !stock.libp2p.getProtocols().some((p: string) => p.startsWith('/consort/')),
      'the stock node speaks no Consort protocol',
    )

    // A listener on TCP and the memory transport: it reaches the world on memory and the stock node on TCP.
    const account = await createNodeKeys()
    listener = await createConsortNode({
      dataDir: null,
      network: world.net.record,
      keys: await createNodeKeys(),
      listen: [`/memory/consort-stock-helia-${process.pid}`, '/ip4/127.0.0.1/tcp/0'],
      transports: { tcp: true, memory: true },
      roles: ['player'],
      roleOptions: { player: { account, flushIntervalMs: 0 } },
      clock: world.clock,
      targetConnections: 0,
    })
    await listener.start()
    for (const peer of [world.registrar, world.producer, world.retailer]) {
      await listener.libp2p.dial(peer.libp2p.getMultiaddrs()[0]!)
    }
    await listener.libp2p.dial(stock.libp2p.getMultiaddrs()[0]!)
    const role = listener.role('player')
    await role.ensureDevice()
    player = { node: listener, role, account }
  })

  after(async () => {
    await stock?.stop()
    await listener?.stop()
    await world?.stop()
  })

  /** Give the stock node a copy of blocks the label holds. */
  async function pin(cids: readonly CID[]): Promise<void> {
    for (const cid of cids) {
      await blocks.put(cid, await collectBlock(world.producer.helia.blockstore.get(cid, { offline: true })))
    }
  }

  it('plays the whole track from blocks only the stock node holds', async () => {
    const track = await packageTrack(world, 'GBAYE0605002')
    const segments = track.manifest.body.segments
    await pin(segments)

    // Every Consort node lets go of the segments: the label's seeder stops and its blockstore drops them.
    await world.seeder.stop()
    for (const cid of segments) await world.producer.helia.blockstore.delete(cid)
    for (const node of [...world.nodes, listener]) {
      for (const cid of segments) assert.equal(await node.helia.blockstore.has(cid), false)
    }

    await announce(player, track)
    await licenceFor(world, player, track)
    const sink = new MemorySink()
    const result = await player.role.play(track.isrc, { sink })
    assert.equal(result.mode, 'licensed')
    assert.equal(result.stopped, 'end')
    assert.deepEqual(sink.bytes(), track.plaintext, 'the decrypted audio is the packaged track')
    for (const cid of segments) assert.ok(served.has(cid.toString()), `the stock node served ${cid}`)
  })

  it('asks bitswap only for the blocks that no /segments/1 peer holds', async () => {
    const track = await packageTrack(world, 'GBAYE0605003')
    const segments = track.manifest.body.segments
    assert.ok(segments.length >= 4, `${segments.length} segments`)
    await pin(segments)
    // the label keeps (and serves on /segments/1) the first half only
    const half = Math.floor(segments.length / 2)
    for (const cid of segments.slice(half)) await world.producer.helia.blockstore.delete(cid)
    const seeder = new SegmentsService(
      {
        libp2p: world.producer.libp2p,
        blockstore: world.producer.helia.blockstore as never,
        network: world.producer.network,
        clock: world.clock,
      },
      { reprovide: false },
    )
    await seeder.start()
    const fetcher = new SegmentsService(
      {
        libp2p: listener.libp2p,
        blockstore: listener.helia.blockstore as never,
        bitswap: bitswapSource(listener.helia.blockstore as never),
        network: listener.network,
        clock: world.clock,
      },
      { serve: false, reprovide: false },
    )
    await fetcher.start()
    try {
      served.clear()
      const summary = await fetcher.fetch(segments, { root: null }).done
      assert.equal(summary.fetched, segments.length)
      const byPeer = new Map(summary.peers.map((p) => [p.peer, p]))
      assert.equal(byPeer.get(world.producer.peerId.toString())?.blocks, half, JSON.stringify(summary.peers))
      assert.equal(byPeer.get(BITSWAP_PEER_ID)?.blocks, segments.length - half, JSON.stringify(summary.peers))
      assert.deepEqual(
        [...served].sort(),
        segments
          .slice(half)
          .map((c) => c.toString())
          .sort(),
        'the stock node was asked for the second half only',
      )
    } finally {
      await fetcher.stop()
      await seeder.stop()
    }
  })
})
