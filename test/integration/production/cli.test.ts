import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ControlApi } from '../../../node/control-api.ts'
import { ControlClient } from '../../../node/control-client.ts'
import { fixturePath } from '../../fixtures.ts'
import { consortInProcess, type Printed } from '../../helpers/cli.ts'
import { type Market, startMarket } from './market.ts'

/** Run the CLI in this process; what it printed on stdout, and its exit code. */
const consort = consortInProcess

describe('production: the command line', function () {
  this.timeout(120_000)
  let market: Market
  let api: ControlApi
  let dir: string

  before(async () => {
    market = await startMarket()
    dir = await market.tempDir()
    const { node } = await market.startProducer({ dataDir: dir })
    api = new ControlApi(node)
    await api.start()
  })
  after(async () => {
    await api?.stop()
    await market?.stop()
  })

  it('ern inspect shows what it read and every issue graded; exit 1 on errors (or warnings with --strict)', async () => {
    const good = await consort('ern', 'inspect', fixturePath('ddex', 'ern43-classical.xml'), '--json')
    assert.equal(good.code, 0)
    assert.equal(good.json().releases[0].grid, 'A10302B0003989564F')
    assert.equal(good.json().soundRecordings.length, 12)
    assert.equal(good.json().valid, true)
    const bad = await consort('ern', 'inspect', fixturePath('ddex', 'ern38-instance.xml'), '--json')
    assert.equal(bad.code, 1)
    const report = bad.json()
    assert.equal(report.valid, false)
    assert.equal(report.releases[0].reference, 'R9', 'what could be read is shown beside the issues')
    assert.ok(report.issues.length >= 15)
    for (const issue of report.issues) {
      assert.deepEqual(Object.keys(issue).sort(), ['code', 'message', 'path', 'severity', 'value'])
      assert.ok(['error', 'warning'].includes(issue.severity))
    }
    const text = await consort('ern', 'inspect', fixturePath('ddex', 'ern38-instance.xml'))
    assert.equal(text.code, 1)
    assert.match(text.out, /refused: \d+ error\(s\), \d+ warning\(s\)/)
    assert.match(text.out, /error +isrc +\S*SoundRecordingId\/ISRC = "dFJ": not an ISRC/)
    const warned = fixturePath('ddex', 'ern382-choreography-1-new-release.xml')
    assert.equal((await consort('ern', 'inspect', warned)).code, 0)
    const strict = await consort('ern', 'inspect', warned, '--strict')
    assert.equal(strict.code, 1)
    assert.match(strict.out, /warning +grid +\S*\/ReleaseId\/GRid/)
  })

  it('publish --ern imports through the daemon and prints what it made; a bad message exits 1 with every issue', async () => {
    const made = await consort(
      'publish',
      '--data-dir',
      dir,
      '--ern',
      fixturePath('ddex', 'ern382-choreography-1-new-release.xml'),
      '--audio',
      '/nonexistent/audio',
      '--synthesize-missing',
      '--json',
    )
    assert.equal(made.code, 0, made.out)
    const result = made.json()
    assert.equal(result.releases[0].action, 'new')
    assert.equal(result.releases[0].tracks[0].isrc, 'USRC12345678')
    assert.match(result.releases[0].tracks[0].manifest, /^bafyrei/)
    assert.equal(result.releases[0].contracts.length, 1)

    const refused = await consort(
      'publish',
      '--data-dir',
      dir,
      '--ern',
      fixturePath('ddex', 'ern38-instance.xml'),
      '--json',
    )
    assert.equal(refused.code, 1)
    assert.equal(refused.json().error.code, 'ERR_IMPORT_REFUSED')
    const issues: Array<{ message: string }> = refused.json().error.issues
    assert.ok(issues.length >= 8)
    assert.ok(issues.every((i) => i.message.startsWith('error: ')))
  })

  it('publish --file publishes one track (with --upc a release, with --price a contract)', async () => {
    const out = await consort(
      'publish',
      '--data-dir',
      dir,
      '--file',
      fixturePath('audio', 'sample-84k.flac'),
      '--title',
      'One Second',
      '--artist',
      'Fixture Band',
      '--isrc',
      'USRC17607839',
      '--upc',
      '042100005264',
      '--price',
      '0.99',
      '--currency',
      'EUR',
      '--json',
    )
    assert.equal(out.code, 0, out.out)
    const release = out.json().releases[0]
    assert.equal(release.key, 'icpn:00042100005264')
    assert.match(release.release, /^bafyrei/)
    assert.equal(release.tracks[0].codec, 'flac')
    assert.equal(release.contracts[0].contractId, 'icpn:00042100005264/sale')

    const listed = await consort('release', 'list', '--data-dir', dir, '--json')
    assert.deepEqual(
      listed
        .json()
        .map((r: { key: string }) => r.key)
        .sort(),
      ['grid:A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0', 'icpn:00042100005264'],
    )
    const human = await consort('release', 'list', '--data-dir', dir)
    assert.match(human.out, /icpn:00042100005264\s+active/)
  })

  it('publish --file reads the title, artists, album, genre, year, ISRC, label and barcode from the file; flags override them', async () => {
    // The fixture FLAC with Vorbis comments added, as a tagging program writes them (in this test's own directory).
    const tagged = path.join(dir, 'tagged.flac')
    await writeFile(
      tagged,
      withVorbisComments(await readFile(fixturePath('audio', 'sample-84k.flac')), [
        'TITLE=Tagged Title',
        'ARTIST=Tagged Artist',
        'ARTIST=Second Artist',
        'ALBUM=Tagged Album',
        'GENRE=Ambient',
        'DATE=2024',
        'ISRC=GB-AYE-24-00001',
        'LABEL=Tag Records',
        'BARCODE=5012345678900',
      ]),
    )
    const out = await consort('publish', '--data-dir', dir, '--file', tagged, '--artist', 'Flag Artist', '--json')
    assert.equal(out.code, 0, out.out)
    const release = out.json().releases[0]
    assert.equal(release.key, 'icpn:05012345678900', 'the barcode tag names the release')
    assert.equal(release.title, 'Tagged Album')
    assert.deepEqual(
      release.tracks.map((t: { isrc: string; title: string }) => [t.isrc, t.title]),
      [['GBAYE2400001', 'Tagged Title']],
    )
    // Any form of the UPC finds it (decision 0006); the signed release record says what the tags and flags said.
    const shown = await consort('release', 'show', 'icpn:5012345678900', '--data-dir', dir, '--json')
    assert.equal(shown.code, 0, shown.out)
    const record = await new ControlClient(api.info!).request<{
      body: { artists: string[]; genre: string | null; label: string | null; releaseDate: string | null }
    }>('GET', `/v1/records/${shown.json().record}`)
    assert.deepEqual(record.body.artists, ['Flag Artist'], '--artist overrides the artist tags')
    assert.equal(record.body.genre, 'Ambient')
    assert.equal(record.body.label, 'Tag Records')
    assert.equal(record.body.releaseDate, '2024')

    // Without tags, what is missing is named.
    const bare = await consort('publish', '--data-dir', dir, '--file', fixturePath('audio', 'sample-84k.flac'))
    assert.equal(bare.code, 2)
    assert.match(bare.err, /the file has no title tag: give --title/)
  })

  it('publish --json FILE publishes a JSON release description', async () => {
    const file = path.join(dir, 'release.json')
    await writeFile(
      file,
      JSON.stringify({
        consortRelease: 1,
        grid: 'A10302B0003989564F',
        title: 'Described',
        artists: ['Someone'],
        tracks: [{ isrc: 'FRXYZ2600007', title: 'Described Track', durationSeconds: 4 }],
        deals: [{ commercialModel: 'free', useTypes: ['OnDemandStream'], territories: ['FR'] }],
      }),
    )
    const out = await consort('publish', '--data-dir', dir, '--json', file, '--synthesize-missing')
    assert.equal(out.code, 0, out.out)
    const release = out.json().releases[0]
    assert.equal(release.key, 'grid:A10302B0003989564F')
    assert.equal(release.tracks[0].synthesized, true)
    assert.deepEqual(
      release.contracts.map((c: { contractId: string }) => c.contractId),
      ['grid:A10302B0003989564F/deal-1-free'],
    )
  })

  it('contract create, update, show, list and revoke', async () => {
    const created = await consort(
      'contract',
      'create',
      '--data-dir',
      dir,
      '--id',
      'manual-1',
      '--content',
      'isrc:USRC17607839',
      '--model',
      'pay-as-you-go',
      '--use-types',
      'PermanentDownload',
      '--wholesale',
      'EUR:0.49',
      '--wholesale',
      'USD:0.59',
      '--json',
    )
    assert.equal(created.code, 0, created.out)
    assert.equal(created.json().seq, 0)
    const updated = await consort(
      'contract',
      'update',
      'manual-1',
      '--data-dir',
      dir,
      '--territories',
      'DE,FR',
      '--json',
    )
    assert.equal(updated.json().seq, 1)
    const shown = (await consort('contract', 'show', 'manual-1', '--data-dir', dir, '--json')).json()
    assert.deepEqual(shown.body.territories, ['DE', 'FR'])
    assert.deepEqual(shown.body.wholesale, [
      { currency: 'EUR', amount: '49', per: 'unit' },
      { currency: 'USD', amount: '59', per: 'unit' },
    ])
    const list = (await consort('contract', 'list', '--data-dir', dir, '--json')).json()
    assert.ok(
      list.some((c: { contractId: string; origin: string }) => c.contractId === 'manual-1' && c.origin === 'manual'),
    )
    const revoked = await consort('contract', 'revoke', 'manual-1', '--data-dir', dir, '--reason', 'ended', '--json')
    assert.equal(revoked.code, 0)
    assert.equal(revoked.json().revocations.length, 1)
    const again = await consort('contract', 'update', 'manual-1', '--data-dir', dir, '--territories', 'DE', '--json')
    assert.equal(again.code, 1)
    assert.match(again.err, /contract manual-1 is revoked/)
  })

  it('the devnet’s sample release: POST /v1/production/sample', async () => {
    const client = new ControlClient(api.info!)
    const result = await client.request<Printed>('POST', '/v1/production/sample', {})
    const release = result.releases[0]
    assert.equal(release.key, 'icpn:00012345678905')
    assert.equal(release.tracks[0].isrc, 'ZZCNS2600001')
    assert.equal(release.tracks[0].codec, 'flac', 'made from the real FLAC fixture')
    assert.deepEqual(
      release.contracts.map((c: { contractId: string }) => c.contractId),
      ['icpn:00012345678905/download', 'icpn:00012345678905/stream'],
    )
    const again = await client.request<Printed>('POST', '/v1/production/sample', {})
    assert.equal(again.releases[0].action, 'unchanged')
  })
})

/**
 * A FLAC file with a VORBIS_COMMENT metadata block (type 4) inserted after its STREAMINFO: the "last block" flag moves
 * to the new block when STREAMINFO had it. Comment fields are little-endian length-prefixed UTF-8 (FLAC format, 8.6).
 */
function withVorbisComments(flac: Uint8Array, comments: string[]): Uint8Array {
  const bytes = Buffer.from(flac)
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'fLaC')
  const streaminfoLast = (bytes[4]! & 0x80) !== 0
  const streaminfoEnd = 8 + bytes.readUIntBE(5, 3)
  const u32 = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n)
    return b
  }
  const text = (s: string) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)])
  const body = Buffer.concat([text('consort test'), u32(comments.length), ...comments.map(text)])
  const header = Buffer.alloc(4)
  header[0] = (streaminfoLast ? 0x80 : 0) | 4
  header.writeUIntBE(body.length, 1, 3)
  const head = Buffer.from(bytes.subarray(0, streaminfoEnd))
  head[4] = head[4]! & 0x7f
  return Buffer.concat([head, header, body, bytes.subarray(streaminfoEnd)])
}
