import assert from 'node:assert/strict'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { isError } from '../../../protocols/errors.ts'
import { decodeRecordAs } from '../../../protocols/records/envelope.ts'
import type { ClearinghouseRole } from '../../../roles/clearinghouse/index.ts'
import { decodeReportRow, StateKeys } from '../../../roles/clearinghouse/state.ts'
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

    // The player seals its reports in a session (decision 0513): two reports made within the hour share one ephemeral
    // key, which the report made two days earlier does not; the clearinghouse opened and settled all of them.
    world.clock.advance(61_000)
    for (let i = 0; i < 2; i++) {
      await listen(player, track.isrc, 1)
      assert.equal((await player.role.flushUsage()).acknowledged, 1)
    }
    await waitUntil(() => role.engine.ingest.pending === 0)
    const reports: Array<{ seq: number; ephemeral: string }> = []
    for await (const [key, value] of role.engine.store.entries(StateKeys.reportPrefix)) {
      const { bytes } = decodeReportRow(key, value)
      const usage = decodeRecordAs('consort/usage', bytes, {
        network: world.net.name,
        now: world.clock.now(),
      })
      reports.push({
        seq: usage.body.seq,
        ephemeral: Buffer.from(usage.body.sealed[0]!.box.subarray(1, 33)).toString('hex'),
      })
    }
    reports.sort((a, b) => a.seq - b.seq)
    assert.ok(reports.length >= 3, JSON.stringify(reports))
    const [first, second, third] = [reports[0]!, reports.at(-2)!, reports.at(-1)!].map((r) => r.ephemeral)
    assert.equal(third, second, 'one session for the reports of the hour')
    assert.notEqual(second, first, 'a session older than an hour is not used again')
    assert.equal(role.engine.ingest.stats.duplicateEvents, 0)
  })
})
