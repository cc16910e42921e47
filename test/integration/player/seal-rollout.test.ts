import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IdentifyResult } from '@libp2p/interface'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL } from '../../../protocols/clearing/index.ts'
import { decodeRecordAs } from '../../../protocols/records/envelope.ts'
import { registerRpc } from '../../../protocols/rpc/server.ts'
import type { ClearinghouseRole } from '../../../roles/clearinghouse/index.ts'
import { decodeReportRow, StateKeys } from '../../../roles/clearinghouse/state.ts'
import { MemorySink } from '../../../roles/player/index.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'
import {
  announce,
  licenceFor,
  type PackagedTrack,
  type PlayerNode,
  packageTrack,
  startPlayer,
  startWorld,
  type World,
} from './world.ts'

/**
 * Rolling upgrade of the usage box versions (decisions 0515, 0518): a current player and a clearinghouse that opens
 * only version 1, as one released before 0515 does (`sealVersions: [1]`: it serves only `clearing/1` and refuses a
 * box of version 2 with the same words). Real nodes on the memory transport; the clearinghouse keeps its state on
 * disk across its upgrades and rollbacks, as an operator's would.
 */
describe('player: usage boxes across a clearinghouse upgrade (decision 0518)', function () {
  this.timeout(180_000)
  let world: World
  let dataDir: string
  let house: ConsortNode | undefined
  let player: PlayerNode
  let track: PackagedTrack
  let purchaseId: string

  before(async () => {
    world = await startWorld({}, { clearinghouse: false })
    dataDir = await mkdtemp(join(tmpdir(), `consort-seal-rollout-${process.pid}-`))
    player = await startPlayer(world)
    track = await packageTrack(world, 'GBAYE0603101')
    await announce(player, track)
    ;({ purchaseId } = await licenceFor(world, player, track))
  })

  after(async () => {
    await house?.stop()
    await world?.stop()
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
  })

  /** (Re)start the clearinghouse on its keys and data directory, and connect the player to it once identified. */
  async function startClearinghouse(
    options: Record<string, unknown> = {},
    beforePlayer?: (house: ConsortNode) => Promise<void>,
  ): Promise<ClearinghouseRole> {
    await house?.stop()
    house = await startMemoryNode({
      network: world.net,
      clock: world.clock,
      keys: world.keys.clearinghouse,
      dataDir,
      roles: ['clearinghouse'],
      roleOptions: { clearinghouse: { sync: false, verifyWorkers: 0, ...options } },
    })
    for (const peer of [world.registrar, world.producer, world.retailer]) {
      await house.libp2p.dial(peer.libp2p.getMultiaddrs()[0]!)
    }
    await beforePlayer?.(house)
    // The player connects once the clearinghouse serves what the test wants of it (a node restarted on a data
    // directory may dial peers it knew before that): a fresh connection, identified with the protocols served now.
    const houseId = house.libp2p.peerId
    const v2 = house.network.protocol(CLEARING_PROTOCOL, 2)
    const announcesV2 = house.libp2p.getProtocols().includes(v2)
    const identified = nextEvent<IdentifyResult>(
      player.node.libp2p,
      'peer:identify',
      (d) => d.peerId.equals(houseId) && d.protocols.includes(v2) === announcesV2,
    )
    await player.node.libp2p.hangUp(houseId)
    await player.node.libp2p.dial(house.libp2p.getMultiaddrs()[0]!)
    await identified
    return house.role('clearinghouse')
  }

  async function listen(times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      await player.role.play(track.isrc, { sink: new MemorySink() })
      world.clock.advance(61_000) // the 60 s track is heard before the next play starts
    }
  }

  /** Per report stored by the clearinghouse (by `seq`): its id and the version of the box sealed to it. */
  async function storedBoxes(role: ClearinghouseRole): Promise<Map<number, { id: string; version: number }>> {
    await waitUntil(() => role.engine.ingest.pending === 0, { message: 'the clearinghouse stored every report' })
    const out = new Map<number, { id: string; version: number }>()
    for await (const [key, value] of role.engine.store.entries(StateKeys.reportPrefix)) {
      const { bytes } = decodeReportRow(key, value)
      const usage = decodeRecordAs('consort/usage', bytes, { network: world.net.name, now: world.clock.now() })
      out.set(usage.body.seq, { id: usage.id.toString(), version: usage.body.sealed[0]!.box[0]! })
    }
    return new Map([...out].sort(([a], [b]) => a - b))
  }

  function playsAcknowledged(): number {
    return player.role.usage().acknowledged.filter((e) => e.purchaseId === purchaseId).length
  }

  /** Play `plays` times, flush: one report, acknowledged at once; the box versions the clearinghouse stored so far. */
  async function reportTo(role: ClearinghouseRole, plays: number): Promise<number[]> {
    await listen(plays)
    const flush = await player.role.flushUsage()
    assert.equal(flush.acknowledged, 1, JSON.stringify(flush))
    assert.equal(flush.pendingReports, 0)
    assert.deepEqual(flush.errors, [])
    return [...(await storedBoxes(role)).values()].map((b) => b.version)
  }

  it('seals version 1 to a clearinghouse that opens only version 1, version 2 once it is upgraded, 1 again after a rollback', async () => {
    assert.deepEqual(await reportTo(await startClearinghouse({ sealVersions: [1] }), 2), [1])
    assert.equal(playsAcknowledged(), 2)
    // Upgraded in place: it serves clearing/2 on its new connection, and the player's next box is version 2.
    assert.deepEqual(await reportTo(await startClearinghouse(), 1), [1, 2])
    // Rolled back: the new connection announces clearing/1 only, and the player seals version 1 again.
    const role = await startClearinghouse({ sealVersions: [1] })
    assert.deepEqual(await reportTo(role, 1), [1, 2, 1])
    assert.equal(playsAcknowledged(), 4)
    assert.equal(role.engine.ingest.stats.duplicateEvents, 0)
  })

  it('a report refused for its box version stays pending, is sent again as the same bytes, and settles once opened', async () => {
    // A clearinghouse that announces clearing/2 but opens only version 1 (a misconfigured one, or the moment between a
    // rollback and the player's next word with it): the player seals version 2 to it, and it refuses the report.
    let unregister = async () => {}
    let role = await startClearinghouse({ sealVersions: [1] }, async (node) => {
      const engine = node.role('clearinghouse').engine
      unregister = await registerRpc(node.libp2p, node.network.protocol(CLEARING_PROTOCOL, 2), {
        [CLEARING_OPS.report]: async (body) => engine.reportRequest(body),
      })
    })
    const before = playsAcknowledged()
    await listen(1)
    const refused = await player.role.flushUsage()
    assert.equal(refused.acknowledged, 0, JSON.stringify(refused))
    assert.equal(refused.pendingReports, 1)
    assert.match(refused.errors.join('\n'), /sealed box version is 2, only 1 is known/)
    const again = await player.role.flushUsage()
    assert.equal(again.built, 0, 'the same report, not a new one')
    assert.equal(again.acknowledged, 0)
    assert.equal(again.pendingReports, 1)
    const pending = player.role.usage().pending.filter((e) => e.purchaseId === purchaseId)
    assert.equal(pending.length, 1)
    assert.equal(pending[0]!.status, 'reported')
    const [kept] = [...player.role.library.reports.values()]
    await unregister()

    // Upgraded: the same report settles, its play counted once.
    role = await startClearinghouse()
    const settled = await player.role.flushUsage()
    assert.equal(settled.built, 0)
    assert.equal(settled.acknowledged, 1, JSON.stringify(settled))
    assert.equal(settled.pendingReports, 0)
    assert.equal(playsAcknowledged(), before + 1)
    const boxes = await storedBoxes(role)
    assert.deepEqual([...boxes.values()].at(-1), { id: kept!.record.id.toString(), version: 2 }, 'the bytes it kept')
    assert.equal(role.engine.ingest.stats.duplicateEvents, 0)
  })
})
