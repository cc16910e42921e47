import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { ControlApi } from '../../../node/control-api.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import type { FetchJobStatus, SeedEntry } from '../../../roles/delivery/index.ts'
import { consortJson, runConsort } from '../../helpers/cli.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { dial, removeDir, startDeliveryNode } from './nodes.ts'
import { buildTrack, storeTrack, type TestTrack } from './track.ts'

/**
 * `consort seed`, `consort seeds` and `consort fetch` as a user runs them: the CLI (`bin/consort.ts`) in its own
 * process, talking to nodes through the daemon's control API (the same `ControlApi` a `consort daemon` serves,
 * found through the node's data dir). The nodes run in this process on the memory transport so that the test
 * does not pay for three daemon start-ups.
 */
describe('delivery: the command line against running nodes', function () {
  this.timeout(60_000)
  const clock = new FakeClock()
  let network: TestNetwork
  let root: string
  let track: TestTrack
  const nodes: ConsortNode[] = []
  const apis: ControlApi[] = []
  let label: ConsortNode
  let carrier: ConsortNode
  let listener: ConsortNode
  let carrierDir: string
  let listenerDir: string
  /** Node's compile cache in the test's directory: each later CLI start is cheaper. */
  let env: Record<string, string>

  async function nodeWithApi(name: string): Promise<{ node: ConsortNode; dir: string }> {
    const dir = join(root, name)
    const node = await startDeliveryNode(network, clock, { dataDir: dir, init: { reprovide: false } })
    nodes.push(node)
    const api = new ControlApi(node)
    await api.start()
    apis.push(api)
    return { node, dir }
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'consort-delivery-cli-'))
    env = { NODE_COMPILE_CACHE: join(root, 'compile-cache') }
    network = await createTestNetwork(clock)
    label = await startDeliveryNode(network, clock, { init: { reprovide: false } })
    nodes.push(label)
    ;({ node: carrier, dir: carrierDir } = await nodeWithApi('carrier'))
    ;({ node: listener, dir: listenerDir } = await nodeWithApi('listener'))
    track = await buildTrack(network, clock, { segmentCount: 20 })
    await storeTrack(label, track)
    // label ← carrier ← listener: the listener can only get the track from the carrier once it carries it
    await dial(carrier, label)
    await dial(listener, carrier)
  })

  after(async () => {
    for (const api of apis.splice(0)) await api.stop()
    await stopAll(nodes.splice(0))
    await removeDir(root)
  })

  it('seed carries a manifest (fetched, pinned), seeds lists it, and seeding again answers at once', async () => {
    const manifest = track.manifest.id.toString()
    const seeded = await consortJson<SeedEntry>(['seed', manifest, '--data-dir', carrierDir], { env })
    assert.equal(seeded.state, 'complete', JSON.stringify(seeded))
    assert.equal(seeded.kind, 'manifest')
    assert.deepEqual(seeded.manifests, [manifest])
    assert.equal(seeded.blocks, 1 + track.segments.length)
    assert.equal(await carrier.helia.pins.isPinned(track.manifest.id), true)
    for (const cid of track.cids) assert.equal(await carrier.helia.blockstore.has(cid), true, `${cid} held`)

    const again = await consortJson<SeedEntry>(['seed', manifest, '--no-wait', '--data-dir', carrierDir], { env })
    assert.deepEqual(again, seeded)

    const listed = await consortJson<SeedEntry[]>(['seeds', '--data-dir', carrierDir], { env })
    assert.deepEqual(
      listed.map((s) => [s.cid, s.state]),
      [[manifest, 'complete']],
    )
    const table = await runConsort(['seeds', '--data-dir', carrierDir], { env })
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, new RegExp(`${manifest}\\s+manifest\\s+complete\\s+1\\s+21`))
  })

  it('fetch brings a track into the node byte-identical and prints the finished job', async () => {
    const manifest = track.manifest.id.toString()
    const status = await consortJson<FetchJobStatus>(
      ['fetch', manifest, '--priority', 'prefetch', '--data-dir', listenerDir],
      { env },
    )
    assert.equal(status.state, 'complete', JSON.stringify(status))
    assert.equal(status.priority, 'prefetch')
    assert.equal(status.total, track.segments.length)
    assert.equal(status.present, track.segments.length)
    assert.equal(status.cached, 0)
    assert.equal(
      status.bytesFetched,
      track.segments.reduce((n, s) => n + s.length, 0),
    )
    assert.equal(status.duplicateBytes, 0)
    for (let i = 0; i < track.cids.length; i++) {
      const held = await collectBlock(listener.helia.blockstore.get(track.cids[i]!, { offline: true }))
      assert.deepEqual(new Uint8Array(held), track.segments[i], `segment ${i}`)
    }

    // a second fetch finds every block at home; the human form says so
    const again = await runConsort(['fetch', manifest, '--data-dir', listenerDir], { env })
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /^complete: /)
    assert.match(again.stdout, /segments\s+20\/20 \(20 already held\)/)
  })

  it('a bad priority is a usage error (exit 2); a CID that is not one fails with the field named (exit 1)', async () => {
    const manifest = track.manifest.id.toString()
    const priority = await runConsort(['fetch', manifest, '--priority', 'soon', '--data-dir', listenerDir], { env })
    assert.equal(priority.code, 2)
    assert.match(priority.stderr, /--priority: "soon" is not one of now, prefetch, sync/)
    const cid = await runConsort(['seed', 'not-a-cid', '--data-dir', carrierDir], { env })
    assert.equal(cid.code, 1)
    assert.match(cid.stderr, /body\.cid: not a CID: not-a-cid/)
    const noDaemon = await runConsort(['seeds', '--data-dir', join(root, 'nobody')], { env })
    assert.equal(noDaemon.code, 1)
    assert.match(noDaemon.stderr, /no daemon is running/)
  })
})
