import assert from 'node:assert/strict'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import type { FetchJobStatus, SeedEntry } from '../../../roles/delivery/index.ts'
import type { ControlRoute } from '../../../roles/role.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { deliveryOf, dial, startDeliveryNode } from './nodes.ts'
import { buildTrack, storeTrack } from './track.ts'

/** Call one of the role's control routes as the control API would. */
async function route(node: ConsortNode, method: ControlRoute['method'], path: string, body: unknown = null) {
  for (const candidate of deliveryOf(node).controlRoutes) {
    if (candidate.method !== method) continue
    const names: string[] = []
    const pattern = new RegExp(
      `^${candidate.path.replace(/:(\w+)/g, (_, name: string) => {
        names.push(name)
        return '([^/]+)'
      })}$`,
    )
    const match = pattern.exec(path)
    if (match == null) continue
    const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]))
    return candidate.handler({ params, query: {}, body, signal: new AbortController().signal })
  }
  throw new Error(`no route ${method} ${path}`)
}

describe('delivery: seeding releases and finding them through the DHT', function () {
  this.timeout(90_000)
  const clock = new FakeClock()
  let network: TestNetwork
  const nodes: ConsortNode[] = []

  before(async () => {
    network = await createTestNetwork(clock)
  })

  afterEach(async () => {
    await stopAll(nodes.splice(0))
  })

  it('a delivery node seeds a release: fetches, pins and announces it; a player finds it through the DHT alone', async () => {
    // label → delivery → relay ← player: the player is connected to neither the label nor the delivery node
    const label = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    const delivery = await startDeliveryNode(network, clock)
    const relay = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    const player = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    nodes.push(label, delivery, relay, player)
    const tracks = [
      await buildTrack(network, clock, { segmentCount: 6 }),
      await buildTrack(network, clock, { segmentCount: 4 }),
    ]
    const release = signRecord(
      'consort/release',
      {
        network: network.name,
        created: clock.now(),
        seq: 0,
        icpn: '0724384960650',
        grid: null,
        title: 'A Test Album',
        artists: ['The Testers'],
        type: 'Album',
        label: null,
        genre: null,
        releaseDate: '2026-11-01',
        tracks: tracks.map((t) => ({ isrc: t.manifest.body.isrc, manifest: t.manifest.id })),
        artwork: null,
      },
      tracks[0]!.producer.signer,
    )
    for (const track of tracks) await storeTrack(label, track)
    await label.records.put(release)
    await dial(delivery, label)
    await dial(delivery, relay)
    await dial(player, relay)
    assert.equal(player.libp2p.getConnections(delivery.peerId).length, 0)

    const entry = (await route(delivery, 'POST', '/seeds', { cid: release.id.toString(), wait: true })) as SeedEntry
    assert.equal(entry.state, 'complete', entry.error ?? '')
    assert.equal(entry.kind, 'release')
    assert.deepEqual(
      entry.manifests,
      tracks.map((t) => t.manifest.id.toString()),
    )
    assert.equal(entry.blocks, 1 + 2 + 6 + 4)
    const helia = delivery.helia
    assert.equal(await helia.pins.isPinned(release.id), true)
    for (const track of tracks) {
      assert.equal(await helia.pins.isPinned(track.manifest.id), true)
      for (const cid of track.cids) assert.equal(await helia.pins.isPinned(cid), true, `segment ${cid} pinned`)
    }
    assert.deepEqual((await route(delivery, 'GET', '/seeds')) as SeedEntry[], [entry])
    const announced = deliveryOf(delivery)
      .segments.announcer.roots()
      .map((c) => c.toString())
      .sort()
    assert.deepEqual(announced, [release.id, ...tracks.map((t) => t.manifest.id)].map((c) => c.toString()).sort())

    // the player knows only the manifest's id: the DHT leads it to the delivery node
    const started = (await route(player, 'POST', '/fetches', {
      cid: tracks[0]!.manifest.id.toString(),
      priority: 'now',
    })) as FetchJobStatus
    let status = started
    await waitUntil(
      async () => {
        status = (await route(player, 'GET', `/fetches/${started.id}`)) as FetchJobStatus
        return status.state !== 'resolving' && status.state !== 'fetching'
      },
      { message: 'the fetch finished' },
    )
    assert.equal(status.state, 'complete', status.error ?? '')
    assert.equal(status.title, tracks[0]!.manifest.body.title)
    assert.equal(status.present, 6)
    for (let i = 0; i < 6; i++) assert.equal(await player.helia.blockstore.has(tracks[0]!.cids[i]!), true)
    // the player was never told of the delivery node: the DHT led it there (it may meet the label on the way too)
    assert.ok(deliveryOf(delivery).segments.server.stats().blocksServed >= 1, 'the delivery node served the player')
  })

  it('a seed of something that is not a manifest or a release fails with a reason, and is remembered', async () => {
    const holder = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    const delivery = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    nodes.push(holder, delivery)
    const cert = network.certify(holder.keys, ['delivery'])
    await holder.records.put(cert)
    await dial(delivery, holder)
    const role = deliveryOf(delivery)
    await role.seed(cert.id)
    const entry = await role.waitForSeed(cert.id)
    assert.equal(entry.state, 'failed')
    assert.match(entry.error ?? '', /consort\/cert, not a manifest or a release/)
    assert.deepEqual(await role.seedStatus(cert.id), entry)
  })

  it('a pending seed resumes when the node restarts', async () => {
    const label = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    nodes.push(label)
    const track = await buildTrack(network, clock, { segmentCount: 5 })
    await storeTrack(label, track)
    const { mkdtemp, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = await mkdtemp(join(tmpdir(), 'consort-delivery-seed-'))
    try {
      const keys = (await import('../../../keys/keystore.ts')).createNodeKeys
      const nodeKeys = await keys()
      // first run: nobody holds the track yet, so the seed stays pending when the node stops
      const first = await startDeliveryNode(network, clock, {
        dataDir: dir,
        keys: nodeKeys,
        init: { reprovide: false },
      })
      await deliveryOf(first).seed(track.manifest.id)
      assert.equal((await deliveryOf(first).seedStatus(track.manifest.id))?.state, 'pending')
      await first.stop()
      const second = await startDeliveryNode(network, clock, {
        dataDir: dir,
        keys: nodeKeys,
        init: { reprovide: false },
      })
      nodes.push(second)
      await dial(second, label)
      const entry = await deliveryOf(second).waitForSeed(track.manifest.id)
      assert.equal(entry.state, 'complete', entry.error ?? '')
      assert.equal(await second.helia.pins.isPinned(track.manifest.id), true)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
