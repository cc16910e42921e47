import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createNodeKeys, saveNodeKeys } from '../../../keys/keystore.ts'
import { ControlApi } from '../../../node/control-api.ts'
import { accountKeyPath } from '../../../roles/player/account.ts'
import { consortInProcess } from '../../helpers/cli.ts'
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

const consort = consortInProcess

describe('player: the command line', function () {
  this.timeout(120_000)
  let world: World
  let player: PlayerNode
  let api: ControlApi
  let dir: string
  let track: PackagedTrack
  let dataDir: string

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'consort-player-cli-'))
    dataDir = path.join(dir, 'listener')
    world = await startWorld({}, { clearinghouse: false })
    const account = await createNodeKeys()
    await saveNodeKeys(accountKeyPath(dataDir), account)
    // The listener's territory is its account's, as the registration manager's operator attested it.
    const registration = world.registrar.role('registration')
    await registration.registrar.devices.attestTerritory(account.signer.publicKey, 'GB')
    player = await startPlayer(world, { dataDir, account, init: { account } })
    api = new ControlApi(player.node)
    await api.start()
    track = await packageTrack(world, 'GBAYE0604001')
    await announce(player, track)
    await licenceFor(world, player, track, { plays: 5, export: 1, burn: 1 })
  })

  after(async () => {
    await api?.stop()
    await world?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('lists licences with what is left', async () => {
    const { code, json, out } = await consort('licences', '--data-dir', dataDir, '--json')
    assert.equal(code, 0, out)
    const [licence] = json()
    assert.deepEqual(licence.tracks, [track.isrc])
    assert.equal(licence.remaining.plays, 5)
    assert.equal(licence.playable, true)
    const human = await consort('licences', '--data-dir', dataDir)
    assert.match(human.out, /plays left/)
  })

  it('says so when there is no audio device to play to, and counts nothing', async () => {
    const path_ = process.env.PATH
    process.env.PATH = dir // holds no player program
    try {
      const { code, err } = await consort('play', track.isrc, '--data-dir', dataDir)
      assert.equal(code, 1)
      assert.match(err, /no audio player for flac on this machine .*--out FILE/)
    } finally {
      process.env.PATH = path_
    }
    assert.equal(player.role.licences()[0]!.state.plays, 0)
  })

  it('plays to a file, then exports and burns (counted), and refuses a second export', async () => {
    const out = path.join(dir, 'played.flac')
    const played = await consort('play', track.isrc, '--out', out, '--data-dir', dataDir, '--json')
    assert.equal(played.code, 0, played.err)
    assert.equal(played.json().mode, 'licensed')
    assert.deepEqual(new Uint8Array(await readFile(out)), track.plaintext)

    const exported = await consort(
      'export',
      `isrc:${track.isrc}`,
      '--out',
      path.join(dir, 'copy.flac'),
      '--data-dir',
      dataDir,
    )
    assert.equal(exported.code, 0, exported.err)
    assert.match(exported.out, /exports left 0/)
    const again = await consort('export', track.isrc, '--out', path.join(dir, 'copy-2.flac'), '--data-dir', dataDir)
    assert.equal(again.code, 1)
    assert.match(again.err, /export-exhausted/)

    const burned = await consort('burn', track.isrc, '--data-dir', dataDir, '--json')
    assert.equal(burned.code, 0, burned.err)
    const files: string[] = burned.json().files
    assert.ok(files[0]!.startsWith(path.join(dataDir, 'burns')))
    assert.match(burned.json().note, /simulated/)
    assert.match(await readFile(files[1]!, 'utf8'), /ISRC GBAYE0604001/)
  })

  it('shows the usage waiting for delivery, and says why a flush could not deliver it', async () => {
    const usage = await consort('usage', '--data-dir', dataDir, '--json')
    assert.equal(usage.code, 0)
    const kinds = usage
      .json()
      .pending.map((e: { kind: string }) => e.kind)
      .sort()
    assert.deepEqual(kinds, ['burn', 'export', 'play'])
    const flush = await consort('usage', '--flush', '--data-dir', dataDir, '--json')
    // Nothing was delivered: the command says so and fails (it exited 0 before), after printing what it did.
    assert.equal(flush.code, 1, flush.err)
    assert.match(flush.err, /usage not delivered: \d+ report\(s\) still pending/)
    assert.equal(flush.json().acknowledged, 0)
    assert.ok(flush.json().errors.length > 0, 'no clearinghouse in this world')
  })

  it('answers `consort offers` on a player node (the market query), naming a reference service it cannot reach', async () => {
    const { code, json, err } = await consort(
      'offers',
      track.isrc,
      '--territory',
      'FR',
      '--data-dir',
      dataDir,
      '--json',
    )
    assert.equal(code, 0, err)
    assert.equal(json().content, `isrc:${track.isrc}`)
    assert.equal(json().territory, 'FR')
    assert.deepEqual(json().offers, [])
    assert.equal(json().unreachable.length, 1, 'this world runs no reference service')
  })

  it('lists offers for the listener’s own territory when none is given', async () => {
    const { code, json, err } = await consort('offers', track.isrc, '--data-dir', dataDir, '--json')
    assert.equal(code, 0, err)
    assert.equal(json().territory, 'GB')
  })

  it('searches what the player knows when no catalog answers', async () => {
    const { code, json } = await consort('search', 'Track', 'GBAYE0604001', '--data-dir', dataDir, '--json')
    assert.equal(code, 0)
    assert.equal(json().source, 'local')
    assert.equal(json().hits[0].contentId, `isrc:${track.isrc}`)
  })

  it('exports the account for a second device and imports it there', async () => {
    const secret = path.join(dir, 'passphrase')
    await writeFile(secret, 'a long passphrase\n', { mode: 0o600 })
    const file = path.join(dir, 'account.export')
    const exported = await consort(
      'account',
      'export',
      '--out',
      file,
      '--passphrase-file',
      secret,
      '--data-dir',
      dataDir,
      '--json',
    )
    assert.equal(exported.code, 0, exported.err)
    assert.equal(exported.json().purchases.length, 1)
    const other = path.join(dir, 'tablet')
    const imported = await consort(
      'account',
      'import',
      file,
      '--passphrase-file',
      secret,
      '--data-dir',
      other,
      '--json',
    )
    assert.equal(imported.code, 0, imported.err)
    assert.equal(imported.json().account, Buffer.from(player.account.signer.publicKey).toString('hex'))
    assert.match(imported.json().note, /not running/)
    const refused = await consort('account', 'export', '--out', path.join(dir, 'x'), '--data-dir', dataDir)
    assert.equal(refused.code, 2, 'a passphrase is required')
  })

  it('shares a track as the account, and opens the link: the preview to a file, the offers (none reachable here), bad links named', async () => {
    const shared = await consort('share', `isrc:${track.isrc}`, '--expires', '2d', '--json', '--data-dir', dataDir)
    assert.equal(shared.code, 0, shared.err)
    const share = shared.json()
    assert.match(share.link, /^consort:\/\/share\/[A-Za-z0-9_-]+$/)
    assert.equal(share.referrer.kind, 'account')
    assert.equal(share.expires - share.created, 2 * 86_400_000)
    const clip = path.join(dir, 'shared-preview.flac')
    const opened = await consort('open', share.link, '--out', clip, '--json', '--data-dir', dataDir)
    assert.equal(opened.code, 0, opened.err)
    const answer = opened.json()
    assert.equal(answer.own, true, 'its own share: buying through it credits no one')
    assert.equal(answer.territory, 'GB')
    assert.equal(answer.preview.played, true, JSON.stringify(answer.preview))
    assert.ok((await readFile(clip)).length > 0, 'the preview was written')
    const bad = await consort('open', 'consort://share/not*a*share', '--no-preview', '--data-dir', dataDir)
    assert.equal(bad.code, 1)
    assert.match(bad.err, /not a share link: .*cut or altered/)
    const cut = await consort('open', share.link.slice(0, 80), '--no-preview', '--data-dir', dataDir)
    assert.equal(cut.code, 1)
    assert.match(cut.err, /not a valid share|not base64url/)
  })

  // Last: it adds tracks, licences and usage events the tests above do not expect.
  it('fails, saying so, when only the preview could be played, and leaves no empty file when nothing could', async () => {
    const unlicensed = await packageTrack(world, 'GBAYE0604002')
    await announce(player, unlicensed)
    const clip = path.join(dir, 'clip.flac')
    const previewed = await consort('play', unlicensed.isrc, '--out', clip, '--data-dir', dataDir)
    assert.equal(previewed.code, 1, previewed.out)
    assert.match(
      previewed.err,
      /no licence to play .* \(GBAYE0604002\): only its \d+-second preview was played \(written to /,
    )
    const asked = await consort('play', unlicensed.isrc, '--preview', '--out', clip, '--data-dir', dataDir)
    assert.equal(asked.code, 0, asked.err)

    const once = await packageTrack(world, 'GBAYE0604003')
    await announce(player, once)
    await licenceFor(world, player, once, { plays: 1 })
    assert.equal(
      (await consort('play', once.isrc, '--out', path.join(dir, 'once.flac'), '--data-dir', dataDir)).code,
      0,
    )
    const refused = path.join(dir, 'refused.flac')
    const again = await consort('play', once.isrc, '--out', refused, '--data-dir', dataDir)
    assert.equal(again.code, 1)
    assert.equal(existsSync(refused), false, 'a play that could not start leaves no file')
  })
})
