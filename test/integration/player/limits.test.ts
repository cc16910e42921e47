import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { isError } from '../../../protocols/errors.ts'
import { MemorySink, UsageDeniedError } from '../../../roles/player/index.ts'
import { announce, licenceFor, type PackagedTrack, packageTrack, startPlayer, startWorld, type World } from './world.ts'

const HOUR = 3_600_000

/**
 * Issue 11: a licence's limits survive whatever the listener does to its own device. Wiping the player's store
 * (`db/`) and fetching the licences again, setting the clock back, or a play whose audio never came: none gives back
 * a use. Each test fails on the code before the fix.
 */
describe('player: limits survive the device (issue 11)', function () {
  this.timeout(180_000)
  let world: World
  const dirs: string[] = []

  before(async () => {
    world = await startWorld()
  })

  after(async () => {
    await world?.stop()
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  })

  /** A player on a data dir of its own, so that its store can be wiped and the node started again. */
  async function playerOnDisk(keys?: NodeKeys, account?: NodeKeys, dir?: string) {
    const dataDir = dir ?? (await mkdtemp(path.join(tmpdir(), 'consort-limits-')))
    if (dir === undefined) dirs.push(dataDir)
    const player = await startPlayer(world, {
      dataDir,
      ...(keys !== undefined ? { keys } : {}),
      ...(account !== undefined ? { account } : {}),
    })
    return { player, dataDir }
  }

  /** Stop the node, delete its `db/` (the licence store, its device registration with it), start it again. */
  async function wipe(p: Awaited<ReturnType<typeof playerOnDisk>>, keys: NodeKeys, track: PackagedTrack) {
    await p.player.node.stop()
    world.nodes.splice(world.nodes.indexOf(p.player.node), 1)
    await rm(path.join(p.dataDir, 'db'), { recursive: true, force: true })
    const again = await playerOnDisk(keys, p.player.account, p.dataDir)
    await announce(again.player, track)
    assert.equal(again.player.role.licences().length, 0, 'the store is empty')
    return again
  }

  async function listen(role: Awaited<ReturnType<typeof playerOnDisk>>['player']['role'], isrc: string) {
    await role.play(isrc, { sink: new MemorySink(), seconds: 5 })
    world.clock.advance(6_000)
  }

  it('finding 3: wiping the store and fetching the licence again gives back no play and no export', async () => {
    const keys = await createNodeKeys()
    const first = await playerOnDisk(keys)
    const track = await packageTrack(world, 'GBAYE2611001')
    await announce(first.player, track)
    const { purchaseId } = await licenceFor(world, first.player, track, { plays: 3, export: 1 })
    await listen(first.player.role, track.isrc)
    await listen(first.player.role, track.isrc)
    const dir = await mkdtemp(path.join(tmpdir(), 'consort-limits-out-'))
    dirs.push(dir)
    await first.player.role.copy('export', track.isrc, { out: path.join(dir, 'one.flac') })
    world.clock.advance(70_000) // the export is reported once it could have been heard
    const flushed = await first.player.role.flushUsage()
    assert.equal(flushed.pendingReports, 0, JSON.stringify(flushed))

    const again = await wipe(first, keys, track)
    const view = await again.player.role.fetchLicence(purchaseId)
    assert.equal(view.remaining.plays, 1, 'two of three plays were used')
    assert.equal(view.remaining.exports, 0, 'the one export was used')
    await listen(again.player.role, track.isrc)
    await assert.rejects(
      again.player.role.play(track.isrc, { sink: new MemorySink() }),
      (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'plays-exhausted',
    )
    await assert.rejects(
      again.player.role.copy('export', track.isrc, { out: path.join(dir, 'two.flac') }),
      (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'export-exhausted',
    )
  })

  it('finding 3: the purchase’s old answer replayed to a wiped store is fetched again with its uses', async () => {
    const keys = await createNodeKeys()
    const first = await playerOnDisk(keys)
    const track = await packageTrack(world, 'GBAYE2611002')
    await announce(first.player, track)
    const { purchaseId, licence } = await licenceFor(world, first.player, track, { plays: 2 })
    await listen(first.player.role, track.isrc)
    await first.player.role.flushUsage()
    world.clock.advance(HOUR)

    const again = await wipe(first, keys, track)
    // The licence as the purchase first answered it (no uses in it): it is not taken as it is.
    const view = await again.player.role.receiveLicence(licence.bytes)
    assert.equal(view.purchaseId, purchaseId)
    assert.equal(view.remaining.plays, 1)
  })

  it('finding 3: a rental window opened before the wipe stays where it was', async () => {
    const keys = await createNodeKeys()
    const first = await playerOnDisk(keys)
    const track = await packageTrack(world, 'GBAYE2611003')
    await announce(first.player, track)
    const { purchaseId } = await licenceFor(world, first.player, track, { rentalSeconds: 3600 })
    await listen(first.player.role, track.isrc)
    await first.player.role.flushUsage()
    world.clock.advance(2 * HOUR)
    const again = await wipe(first, keys, track)
    const view = await again.player.role.fetchLicence(purchaseId)
    assert.equal(view.playable, false)
    assert.equal(view.reason, 'rental-expired')
  })

  it('lower finding: setting the clock back after a rental ended does not allow another play', async () => {
    const player = await startPlayer(world)
    const track = await packageTrack(world, 'GBAYE2611004')
    await announce(player, track)
    await licenceFor(world, player, track, { rentalSeconds: 3600 })
    const start = world.clock.now()
    await listen(player.role, track.isrc)
    world.clock.advance(2 * HOUR)
    await assert.rejects(
      player.role.play(track.isrc, { sink: new MemorySink() }),
      (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'rental-expired',
    )
    // The listener sets the device's clock back into the rental window.
    world.clock.set(start + 10 * 60_000)
    try {
      await assert.rejects(
        player.role.play(track.isrc, { sink: new MemorySink(), seconds: 1 }),
        (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'rental-expired',
      )
    } finally {
      world.clock.set(start + 3 * HOUR)
    }
  })

  it('finding 6: a play whose segments never came is no play: not counted, not reported', async () => {
    const player = await startPlayer(world)
    const track = await packageTrack(world, 'GBAYE2611005')
    await announce(player, track)
    const { purchaseId } = await licenceFor(world, player, track, { plays: 3 })
    // Nobody holds the track's segments any more.
    for (const cid of track.manifest.body.segments) await world.producer.helia.blockstore.delete(cid)
    await assert.rejects(player.role.play(track.isrc, { sink: new MemorySink(), signal: AbortSignal.timeout(3_000) }))
    // A web session opened and closed without a range served is no play either.
    const session = await player.role.streams.open(`isrc:${track.isrc}`)
    await player.role.streams.close(session.session)
    const view = player.role.licences().find((l) => l.purchaseId === purchaseId)!
    assert.equal(view.state.plays, 0, 'no play was counted')
    assert.equal(view.remaining.plays, 3)
    assert.deepEqual(
      player.role.usage().pending.filter((e) => e.purchaseId === purchaseId),
      [],
      'nothing to report',
    )
  })
})
