import assert from 'node:assert/strict'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { isError } from '../../../protocols/errors.ts'
import type { ClearinghouseRole } from '../../../roles/clearinghouse/index.ts'
import { MemorySink, UsageDeniedError } from '../../../roles/player/index.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { announce, licenceFor, type PlayerNode, packageTrack, startPlayer, startWorld, type World } from './world.ts'

const DAY_MS = 24 * 3600_000

describe('player: usage reports to the clearinghouse', function () {
  this.timeout(180_000)
  let world: World
  let house: ConsortNode | undefined

  before(async () => {
    // No clearinghouse at first: the plays are made offline; the test starts one when it reconnects.
    world = await startWorld({}, { clearinghouse: false })
  })

  after(async () => {
    await house?.stop()
    await world?.stop()
  })

  async function startClearinghouse(): Promise<ClearinghouseRole> {
    house = await startMemoryNode({
      network: world.net,
      clock: world.clock,
      keys: world.keys.clearinghouse,
      roles: ['clearinghouse'],
      roleOptions: { clearinghouse: { sync: false } },
    })
    for (const peer of [world.registrar, world.producer, world.retailer]) {
      await house.libp2p.dial(peer.libp2p.getMultiaddrs()[0]!)
    }
    return house.role('clearinghouse')
  }

  async function listen(player: PlayerNode, isrc: string, times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      await player.role.play(isrc, { sink: new MemorySink() })
      world.clock.advance(61_000) // the 60 s track is heard before the next play starts
    }
  }

  it('plays made offline are reported exactly once after reconnecting, and the licence then syncs', async () => {
    const player = await startPlayer(world)
    const track = await packageTrack(world, 'GBAYE0603001')
    await announce(player, track)
    const { purchaseId } = await licenceFor(world, player, track, { offline: 2 })

    await listen(player, track.isrc, 3)
    const offline = await player.role.flushUsage()
    assert.equal(offline.acknowledged, 0)
    assert.ok(offline.errors.length > 0)
    assert.ok(offline.pendingReports >= 1)
    const pending = player.role.usage().pending.filter((e) => e.purchaseId === purchaseId)
    assert.equal(pending.length, 3)
    assert.ok(pending.every((e) => e.status === 'reported'))

    // past the offline window, playback waits for the reports
    world.clock.advance(2 * DAY_MS)
    await assert.rejects(
      player.role.play(track.isrc, { sink: new MemorySink() }),
      (err: unknown) =>
        isError(err, UsageDeniedError) && err.reason === 'offline-too-long' && /delivered/.test(err.message),
    )

    const role = await startClearinghouse()
    await player.node.libp2p.dial(house!.libp2p.getMultiaddrs()[0]!)
    const online = await player.role.flushUsage()
    assert.ok(online.acknowledged >= 1, JSON.stringify(online))
    assert.equal(online.pendingReports, 0)
    assert.deepEqual(online.synced, [purchaseId])
    await waitUntil(() => role.engine.ingest.pending === 0)
    assert.equal(role.engine.ingest.stats.events, 3)
    assert.equal(role.engine.ingest.stats.duplicateEvents, 0)

    // nothing is sent twice
    const again = await player.role.flushUsage()
    assert.equal(again.built, 0)
    assert.equal(again.acknowledged, 0)
    assert.equal(role.engine.ingest.stats.events, 3)
    const acknowledged = player.role.usage().acknowledged.filter((e) => e.purchaseId === purchaseId)
    assert.equal(acknowledged.length, 3)
    assert.deepEqual(
      acknowledged.map((e) => e.seconds),
      [60, 60, 60],
    )

    // synced: the licence plays again
    await player.role.play(track.isrc, { sink: new MemorySink(), seconds: 1 })
  })
})
