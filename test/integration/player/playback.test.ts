import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { isError } from '../../../protocols/errors.ts'
import type { BlockServedEvent } from '../../../protocols/segments/server.ts'
import { MemorySink, NoLicenceError, UsageDeniedError } from '../../../roles/player/index.ts'
import { byteAtMs } from '../../../roles/player/media.ts'
import { waitUntil } from '../../helpers/wait.ts'
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

describe('player: playback within the rules', function () {
  this.timeout(120_000)
  let world: World
  let player: PlayerNode
  let dir: string

  before(async () => {
    world = await startWorld()
    player = await startPlayer(world)
    dir = await mkdtemp(path.join(tmpdir(), 'consort-player-'))
  })

  after(async () => {
    await world?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  async function track(isrc: string, options: Parameters<typeof packageTrack>[2] = {}): Promise<PackagedTrack> {
    const t = await packageTrack(world, isrc, options)
    await announce(player, t)
    return t
  }

  it('registers the device at start and starts a verified store', async () => {
    const status = player.role.status()
    assert.equal(status.deviceRegistered, true)
    assert.equal(status.store.ok, true)
    assert.equal(status.account, Buffer.from(player.account.signer.publicKey).toString('hex'))
    assert.ok(status.store.entries >= 2, 'genesis and device entries')
  })

  it('decrypts in order as segments arrive and writes the exact audio', async () => {
    const t = await track('GBAYE0601001')
    await licenceFor(world, player, t)
    const out = path.join(dir, 'full.flac')
    const firsts: number[] = []
    const result = await player.role.play(`isrc:${t.isrc}`, { out, onFirstAudio: (ms) => firsts.push(ms) })
    assert.equal(result.mode, 'licensed')
    assert.equal(result.stopped, 'end')
    assert.equal(result.bytes, t.plaintext.length)
    assert.deepEqual(new Uint8Array(await readFile(out)), t.plaintext)
    assert.equal(firsts.length, 1)
    assert.ok(result.firstAudioMs !== null && result.firstAudioMs <= result.elapsedMs)
    const usage = player.role.usage()
    const event = usage.pending.find((e) => e.eventId === result.eventId)
    assert.ok(event !== undefined)
    assert.equal(event.kind, 'play')
    assert.ok(['ready', 'reported'].includes(event.status), event.status)
    assert.equal(event.seconds, 60)
  })

  it('asks the seeder for segment 0 alone; the other segments only once it has come (issue 17)', async () => {
    const t = await track('GBAYE0601009')
    await licenceFor(world, player, t)
    assert.ok(t.manifest.body.segments.length >= 3, `${t.manifest.body.segments.length} segments`)
    const server = world.seeder.server
    const gets = () => server.stats().requests - server.stats().haveRequests
    const before = gets()
    const served: Array<{ cid: string; getsSoFar: number }> = []
    const onServed = (e: Event) => {
      const { cid } = (e as CustomEvent<BlockServedEvent>).detail
      served.push({ cid: cid.toString(), getsSoFar: gets() - before })
    }
    server.addEventListener('served', onServed)
    // the seeder holds every request until the first has queued: all those the player sends at once are then there
    server.pause()
    try {
      const playing = player.role.play(`isrc:${t.isrc}`, { sink: new MemorySink() })
      await waitUntil(() => server.stats().queued > 0)
      server.resume()
      const result = await playing
      assert.equal(result.bytes, t.plaintext.length)
    } finally {
      server.resume()
      server.removeEventListener('served', onServed)
    }
    assert.equal(served[0]?.cid, t.manifest.body.segments[0]!.toString())
    assert.equal(served[0]?.getsSoFar, 1, 'no other segment was asked for before segment 0 was served')
    // and every segment was still delivered, each once
    assert.deepEqual(served.map((s) => s.cid).sort(), t.manifest.body.segments.map((c) => c.toString()).sort())
  })

  it('refuses the play beyond `plays`', async () => {
    const t = await track('GBAYE0601002')
    const { purchaseId } = await licenceFor(world, player, t, { plays: 2 })
    for (let i = 0; i < 2; i++) await player.role.play(t.isrc, { sink: new MemorySink(), seconds: 5 })
    await assert.rejects(
      player.role.play(t.isrc, { sink: new MemorySink() }),
      (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'plays-exhausted',
    )
    const view = player.role.licences().find((l) => l.purchaseId === purchaseId)!
    assert.equal(view.state.plays, 2)
    assert.equal(view.remaining.plays, 0)
    assert.equal(view.playable, false)
  })

  it('expires a rental on the fake clock, counted from the first play', async () => {
    const t = await track('GBAYE0601003')
    await licenceFor(world, player, t, { rentalSeconds: 48 * 3600 })
    world.clock.advance(10 * 24 * 3600_000) // the window does not run before the first play
    await player.role.play(t.isrc, { sink: new MemorySink(), seconds: 1 })
    world.clock.advance(48 * 3600_000)
    await player.role.play(t.isrc, { sink: new MemorySink(), seconds: 1 }) // the last millisecond is still inside
    world.clock.advance(1)
    await assert.rejects(
      player.role.play(t.isrc, { sink: new MemorySink() }),
      (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'rental-expired',
    )
  })

  it('stops playback where `playSeconds` runs out', async () => {
    const t = await track('GBAYE0601004')
    await licenceFor(world, player, t, { playSeconds: 25 })
    const first = await player.role.play(t.isrc, { sink: new MemorySink(), seconds: 10 })
    assert.equal(first.stopped, 'seconds')
    const sink = new MemorySink()
    const second = await player.role.play(t.isrc, { sink })
    assert.equal(second.stopped, 'limit')
    assert.equal(second.limit, 'play-seconds-exhausted')
    // 10 s were used; 15 s were left: the audio stops at 15 s of the track
    assert.equal(sink.bytes().length, byteAtMs(t.manifest.body, 15_000))
    assert.deepEqual(sink.bytes(), t.plaintext.subarray(0, sink.bytes().length))
    await assert.rejects(
      player.role.play(t.isrc, { sink: new MemorySink() }),
      (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'play-seconds-exhausted',
    )
  })

  it('plays only the preview clip without a licence, limited to previewSeconds', async () => {
    const t = await track('GBAYE0601005', { previewBytes: 40 * 1024, previewMs: 40_000 })
    const sink = new MemorySink()
    const result = await player.role.play(t.isrc, { sink })
    assert.equal(result.mode, 'preview')
    assert.equal(result.stopped, 'limit')
    assert.equal(result.limit, 'preview-too-long')
    // the network's default preview is 30 s: 30 of the clip's 40 s, and nothing beyond the clip
    const allowed = byteAtMs({ byteSize: t.previewPlaintext.length, durationMs: 40_000 }, 30_000)
    assert.equal(sink.bytes().length, allowed)
    assert.deepEqual(sink.bytes(), t.previewPlaintext.subarray(0, allowed))
    assert.ok(allowed < t.plaintext.length)
    const event = player.role.usage().pending.find((e) => e.eventId === result.eventId)
    assert.equal(event?.kind, 'preview')
    assert.equal(event?.purchaseId, null)
  })

  it('refuses a track with neither licence nor preview', async () => {
    const t = await track('GBAYE0601006')
    const bare = { ...t.manifest.body, preview: null }
    const { signRecord } = await import('../../../protocols/records/envelope.ts')
    const manifest = signRecord('consort/manifest', { ...bare, seq: 1 }, world.keys.producer.signer)
    await player.role.directory.remember(manifest)
    await assert.rejects(player.role.play(t.isrc, { sink: new MemorySink() }), NoLicenceError)
  })

  it('counts exports and burns and refuses them beyond the licence', async () => {
    const t = await track('GBAYE0601007')
    const { purchaseId } = await licenceFor(world, player, t, { export: 1, burn: 1 })
    const exported = await player.role.copy('export', t.isrc, { out: path.join(dir, 'export.flac') })
    assert.deepEqual(new Uint8Array(await readFile(exported.files[0]!)), t.plaintext)
    assert.equal(exported.remaining.exports, 0)
    await assert.rejects(
      player.role.copy('export', t.isrc, { out: path.join(dir, 'export-2.flac') }),
      (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'export-exhausted',
    )
    await assert.rejects(readFile(path.join(dir, 'export-2.flac')), { code: 'ENOENT' })
    const burned = await player.role.copy('burn', t.isrc, { out: path.join(dir, 'disc.flac') })
    assert.deepEqual(burned.files, [path.join(dir, 'disc.flac'), path.join(dir, 'disc.cue')])
    assert.match(await readFile(burned.files[1]!, 'utf8'), new RegExp(`ISRC ${t.isrc}`))
    assert.match(burned.note, /simulated/)
    await assert.rejects(
      player.role.copy('burn', t.isrc, { out: path.join(dir, 'disc-2.flac') }),
      (err: unknown) => isError(err, UsageDeniedError) && err.reason === 'burn-exhausted',
    )
    const state = player.role.licences().find((l) => l.purchaseId === purchaseId)!.state
    assert.equal(state.exports, 1)
    assert.equal(state.burns, 1)
    const kinds = player.role
      .usage()
      .pending.filter((e) => e.purchaseId === purchaseId)
      .map((e) => e.kind)
      .sort()
    assert.deepEqual(kinds, ['burn', 'export'])
  })
})
