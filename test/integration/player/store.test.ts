import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ClassicLevel } from 'classic-level'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { isError } from '../../../protocols/errors.ts'
import { DecryptionError, MemorySink, PurchaseRefusedError, StoreTamperedError } from '../../../roles/player/index.ts'
import { openContentKey } from '../../../roles/player/purchase.ts'
import { announce, licenceFor, type PlayerNode, packageTrack, startPlayer, startWorld, type World } from './world.ts'

/** The player role's own sublevel of its node's LevelDB, as an owner with a disk editor sees it. */
function playerDb(player: PlayerNode) {
  return player.node.stores.db.sublevel<string, Uint8Array>('role-player', { valueEncoding: 'view' })
}

/** Find a stored log entry by its kind (the entry's bytes contain `kind` as a CBOR text string). */
async function entryOfKind(player: PlayerNode, kind: string, nth = 0): Promise<{ key: string; bytes: Uint8Array }> {
  const needle = Buffer.concat([Buffer.from([0x60 + kind.length]), Buffer.from(kind)])
  let seen = 0
  for await (const [key, bytes] of playerDb(player).iterator({ gte: 'log!', lt: 'log!~' })) {
    if (Buffer.from(bytes).includes(needle) && seen++ === nth) return { key, bytes }
  }
  throw new Error(`no ${kind} entry`)
}

describe('player: the tamper-evident licence store', function () {
  this.timeout(120_000)
  let world: World
  const dirs: string[] = []

  before(async () => {
    world = await startWorld({ deviceLimit: 5 })
  })

  after(async () => {
    await world?.stop()
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  })

  it('detects an edited entry while running, refuses playback, and resyncs without losing counted uses', async () => {
    const player = await startPlayer(world)
    const track = await packageTrack(world, 'GBAYE0602001')
    await announce(player, track)
    const { purchaseId } = await licenceFor(world, player, track, { plays: 3 })
    await player.role.play(track.isrc, { sink: new MemorySink(), seconds: 2 })

    // someone raises a counter by hand: one byte of the `use` entry of the play
    const { key, bytes } = await entryOfKind(player, 'use')
    const edited = Uint8Array.from(bytes)
    edited[edited.length - 70]! ^= 0x01
    await playerDb(player).put(key, edited)

    await assert.rejects(player.role.play(track.isrc, { sink: new MemorySink() }), StoreTamperedError)
    await assert.rejects(player.role.copy('export', track.isrc, { out: '/nonexistent/x.flac' }), StoreTamperedError)
    const view = player.role.licences().find((l) => l.purchaseId === purchaseId)!
    assert.equal(view.playable, false)
    assert.equal(view.reason, 'store-tampered')
    assert.equal(player.role.status().store.ok, false)

    const resync = await player.role.resync({ flush: false })
    assert.deepEqual(resync.licences, [purchaseId])
    assert.deepEqual(resync.refused, [])
    assert.equal(player.role.status().store.ok, true)
    // the play counted before the edit is still counted: the edited entry's signature fails, but its seconds
    // (entries of their own, signed) prove the play started
    const restored = player.role.licences().find((l) => l.purchaseId === purchaseId)!
    assert.equal(restored.state.plays, 1)
    assert.equal(restored.state.playSeconds, 2)
    await player.role.play(track.isrc, { sink: new MemorySink(), seconds: 1 })
  })

  it('detects entries deleted on disk at the next start', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'consort-player-store-'))
    dirs.push(dir)
    const keys = await createNodeKeys()
    const account = await createNodeKeys()
    const first = await startPlayer(world, { keys, account, dataDir: dir })
    const track = await packageTrack(world, 'GBAYE0602002')
    await announce(first, track)
    const { purchaseId } = await licenceFor(world, first, track, { plays: 5 })
    await first.role.play(track.isrc, { sink: new MemorySink(), seconds: 1 })
    await first.role.play(track.isrc, { sink: new MemorySink(), seconds: 1 })
    const before = first.role.licences()[0]!.state.plays
    assert.equal(before, 2)
    await first.node.stop()

    // with the node stopped, delete the entry that started the second play from the database on disk
    const db = new ClassicLevel<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' })
    const sub = db.sublevel<string, Uint8Array>('role-player', { valueEncoding: 'view' })
    const needle = Buffer.from([0x63, ...Buffer.from('use')])
    const uses: string[] = []
    for await (const [key, value] of sub.iterator({ gte: 'log!', lt: 'log!~' })) {
      if (Buffer.from(value).includes(needle)) uses.push(key)
    }
    assert.equal(uses.length, 4, 'play, seconds, play, seconds')
    await sub.del(uses[2]!)
    await db.close()

    const second = await startPlayer(world, { keys, account, dataDir: dir })
    assert.equal(second.role.status().store.ok, false)
    assert.match(second.role.tampered!.message, /missing|link/)
    await assert.rejects(second.role.play(track.isrc, { sink: new MemorySink() }), StoreTamperedError)
    const resync = await second.role.resync({ flush: false })
    assert.deepEqual(resync.licences, [purchaseId])
    assert.equal(resync.unreadableEntries, 0)
    assert.ok(resync.salvagedEntries > 0)
    // both plays are still counted: the second one's seconds, signed by the device, prove it started
    assert.equal(second.role.licences()[0]!.state.plays, 2)
    await second.role.play(track.isrc, { sink: new MemorySink(), seconds: 1 })
    assert.equal(second.role.licences()[0]!.state.plays, 3)
  })

  it('compacts the log into a signed snapshot that keeps every counter and event, across a restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'consort-player-compact-'))
    dirs.push(dir)
    const keys = await createNodeKeys()
    const account = await createNodeKeys()
    const init = { compactAfter: 12 }
    const first = await startPlayer(world, { keys, account, dataDir: dir, init })
    const track = await packageTrack(world, 'GBAYE0602005')
    await announce(first, track)
    const { purchaseId } = await licenceFor(world, first, track, { plays: 10, export: 2 })
    for (let i = 0; i < 5; i++) await first.role.play(track.isrc, { sink: new MemorySink(), seconds: 2 })
    await first.role.copy('export', track.isrc, { out: path.join(dir, 'copy.flac') })
    assert.ok(first.role.status().store.entries < 12, `compacted: ${first.role.status().store.entries} entries`)
    const before = first.role.licences()[0]!
    assert.equal(before.state.plays, 5)
    assert.equal(before.state.exports, 1)
    const pending = first.role.usage().pending.length
    assert.equal(pending, 6)
    await first.node.stop()

    const second = await startPlayer(world, { keys, account, dataDir: dir, init })
    assert.equal(second.role.status().store.ok, true, second.role.tampered?.message)
    const after = second.role.licences()[0]!
    assert.equal(after.purchaseId, purchaseId)
    assert.deepEqual(after.state, before.state)
    assert.equal(second.role.usage().pending.length, pending)
    await second.role.play(track.isrc, { sink: new MemorySink(), seconds: 1 })
    assert.equal(second.role.licences()[0]!.state.plays, 6)
  })

  it('a licence for device A does not decrypt on device B', async () => {
    const a = await startPlayer(world)
    const b = await startPlayer(world)
    const track = await packageTrack(world, 'GBAYE0602003')
    await announce(a, track)
    await announce(b, track)
    const { licence } = await licenceFor(world, a, track)
    const key = openContentKey(licence, track.isrc, a.node.keys.sealing)
    assert.deepEqual(key, track.contentKey)
    assert.throws(() => openContentKey(licence, track.isrc, b.node.keys.sealing), DecryptionError)
    // B holds no licence: it can only hear the preview
    const result = await b.role.play(track.isrc, { sink: new MemorySink() })
    assert.equal(result.mode, 'preview')
    // and B cannot claim A's purchase: it belongs to another account
    await assert.rejects(
      b.role.fetchLicence(licence.body.purchaseId),
      (err: unknown) => isError(err, PurchaseRefusedError) && err.remoteCode === 'ERR_UNAUTHORISED',
    )
  })

  it('a second device of the account gets its own licence within the limit; a revoked device gets none', async () => {
    const account = await createNodeKeys()
    const phone = await startPlayer(world, { account })
    const laptop = await startPlayer(world, { account })
    const car = await startPlayer(world, { account })
    const track = await packageTrack(world, 'GBAYE0602004')
    for (const p of [phone, laptop, car]) await announce(p, track)
    const { purchaseId, licence } = await licenceFor(world, phone, track, { devices: 2 })

    const second = await laptop.role.fetchLicence(purchaseId)
    assert.notEqual(second.licence, licence.id.toString())
    const held = laptop.role.library.licences.get(purchaseId)!
    assert.deepEqual(held.record.body.device, laptop.node.keys.signer.publicKey)
    const sink = new MemorySink()
    await laptop.role.play(track.isrc, { sink })
    assert.deepEqual(sink.bytes(), track.plaintext)

    await assert.rejects(
      car.role.fetchLicence(purchaseId),
      (err: unknown) => isError(err, PurchaseRefusedError) && err.remoteCode === 'ERR_DEVICE_LIMIT',
    )

    const registration = world.registrar.role('registration')
    await registration.registrar.revoke(
      'device',
      Buffer.from(laptop.node.keys.signer.publicKey).toString('hex'),
      'lost',
    )
    // refused by the registrar, or already by the player itself once the revocation reached it by gossip
    await assert.rejects(laptop.role.fetchLicence(purchaseId), /ERR_DEVICE_REVOKED/)
  })
})
