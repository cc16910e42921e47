import assert from 'node:assert/strict'
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ImportRefusedError } from '../../../roles/production/errors.ts'
import { planFromDescription } from '../../../roles/production/release-json.ts'
import { validatePlan } from '../../../roles/production/validate.ts'
import { fixturePath } from '../../fixtures.ts'

const labelKey = new Uint8Array(32).fill(7)
const options = (baseDir: string, synthesizeMissing = false) => ({
  baseDir,
  synthesizeMissing,
  now: Date.UTC(2026, 0, 1),
  labelKey,
})
const base = {
  consortRelease: 1,
  upc: '012345678905',
  title: 'A Release',
  artists: ['Someone'],
  tracks: [{ isrc: 'USRC17607839', title: 'A Track', file: 'a.flac' }],
}

async function refusal(promise: Promise<unknown>): Promise<ImportRefusedError> {
  try {
    await promise
  } catch (err) {
    assert.equal((err as Error).name, 'ImportRefusedError', (err as Error).message)
    return err as ImportRefusedError
  }
  assert.fail('expected the import to be refused')
}

describe('production: JSON release descriptions', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'consort-release-json-'))
    await copyFile(fixturePath('audio', 'sample-84k.flac'), path.join(dir, 'a.flac'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads a description into a plan: keys, tracks with their files, deals with defaults', () => {
    const plan = planFromDescription(
      {
        ...base,
        deals: [
          {
            commercialModel: 'pay-as-you-go',
            useTypes: ['PermanentDownload'],
            wholesale: [{ currency: 'EUR', amount: '0.99' }],
          },
          {
            id: 'eu-stream',
            content: ['USRC17607839'],
            commercialModel: 'subscription',
            useTypes: ['OnDemandStream'],
            territories: ['DE'],
            validUntil: '2027-06-30',
          },
        ],
      },
      options(dir),
    )
    assert.deepEqual(plan.issues, [])
    const release = plan.releases[0]!
    assert.deepEqual(release.keys, ['icpn:00012345678905'])
    assert.equal(release.type, 'Single')
    assert.equal(release.tracks[0]!.audio.path, path.join(dir, 'a.flac'))
    const [sale, stream] = release.deals
    assert.equal(sale!.localId, 'deal-1-pay-as-you-go')
    assert.equal(sale!.wholeRelease, true)
    assert.deepEqual(sale!.territories, ['Worldwide'])
    assert.equal(sale!.validFrom, Date.UTC(2026, 0, 1))
    assert.deepEqual(sale!.wholesale, [{ currency: 'EUR', amount: 99n, per: 'unit' }])
    assert.deepEqual(sale!.splits, [{ party: 'label', key: labelKey, bps: 10_000 }])
    assert.equal(stream!.localId, 'eu-stream')
    assert.deepEqual(stream!.content, ['isrc:USRC17607839'])
    assert.equal(stream!.wholeRelease, false)
    assert.equal(stream!.validUntil, Date.UTC(2027, 5, 30))
  })

  it("carries a deal's delivery fee into its contract, in minor units, and refuses a bad one by path", async () => {
    const deal = {
      commercialModel: 'pay-as-you-go',
      useTypes: ['PermanentDownload'],
      wholesale: [{ currency: 'EUR', amount: '0.99' }],
    }
    const plan = planFromDescription(
      {
        ...base,
        deals: [{ ...deal, delivery: { perGB: [{ currency: 'EUR', amount: '12.50' }], saleBps: 300 } }, deal],
      },
      options(dir),
    )
    assert.deepEqual(plan.issues, [])
    const [paid, unpaid] = plan.releases[0]!.deals
    assert.deepEqual(paid!.delivery, { perGB: [{ currency: 'EUR', amount: 1250n }], saleBps: 300 })
    assert.equal(unpaid!.delivery, undefined, 'a deal without a delivery fee pays no delivery')
    const bad = planFromDescription(
      { ...base, deals: [{ ...deal, delivery: { perGB: [{ currency: 'EUR', amount: 'much' }], saleBps: 20_000 } }] },
      options(dir),
    )
    assert.deepEqual(bad.issues.map((i) => i.path).sort(), [
      'release.deals.0.delivery.perGB.0.amount',
      'release.deals.0.delivery.saleBps',
    ])
    const twice = planFromDescription(
      {
        ...base,
        deals: [
          {
            ...deal,
            delivery: {
              perGB: [
                { currency: 'EUR', amount: '1' },
                { currency: 'EUR', amount: '2' },
              ],
            },
          },
        ],
      },
      options(dir),
    )
    const err = await refusal(validatePlan(twice, { network: 'testnet', segmentSize: 256 * 1024 }))
    assert.deepEqual(
      err.issues.map((i) => [i.path, i.message]),
      [['release.deals.0 → contract.delivery.perGB', 'a currency is priced twice']],
    )
  })

  it('is strict: unknown fields, wrong types and bad identifiers are refused by path', () => {
    const unknown = planFromDescription({ ...base, extra: true }, options(dir))
    assert.deepEqual(
      unknown.issues.map((i) => [i.path, i.message]),
      [['release', 'unexpected field(s) extra']],
    )
    const noVersion = planFromDescription({ ...base, consortRelease: 2 }, options(dir))
    assert.equal(noVersion.issues[0]!.path, 'release.consortRelease')
    const badIds = planFromDescription({ ...base, upc: '012345678901', grid: 'A1-NOT-A-GRID' }, options(dir))
    assert.deepEqual(
      badIds.issues.map((i) => i.path),
      ['release.upc', 'release.grid'],
    )
    const badDeal = planFromDescription({ ...base, deals: [{ commercialModel: 'rental', useTypes: [] }] }, options(dir))
    assert.deepEqual(badDeal.issues.map((i) => i.path).sort(), [
      'release.deals.0.commercialModel',
      'release.deals.0.useTypes',
    ])
  })

  it('checks the whole import before writing, listing every problem at once', async () => {
    await writeFile(path.join(dir, 'notes.txt'), 'liner notes, not audio')
    const flac = await import('node:fs/promises').then((fs) => fs.readFile(fixturePath('audio', 'sample-84k.flac')))
    await writeFile(path.join(dir, 'cut.flac'), flac.subarray(0, 50_000))
    const plan = planFromDescription(
      {
        ...base,
        tracks: [
          { isrc: 'USRC17607839', title: 'Fine', file: 'a.flac' },
          { isrc: 'USRC17607840', title: 'Absent', file: 'missing.flac' },
          { isrc: 'USRC17607841', title: 'Text', file: 'notes.txt' },
          { isrc: 'USRC17607842', title: 'Cut off', file: 'cut.flac' },
          { isrc: 'USRC17607843', title: 'Too long', file: 'a.flac', durationSeconds: 200 },
          { isrc: 'USRC17607839', title: 'Twice', file: 'a.flac' },
          { isrc: 'NOT-AN-ISRC', title: 'Bad id', file: 'a.flac' },
        ],
        deals: [{ commercialModel: 'pay-as-you-go', useTypes: ['PermanentDownload'] }],
      },
      options(dir),
    )
    const err = await refusal(validatePlan(plan, { network: 'testnet', segmentSize: 256 * 1024 }))
    const byPath = new Map(err.issues.map((i) => [i.path, i.message]))
    assert.match(byPath.get('release.tracks.1/File')!, /no such file .*missing\.flac/)
    assert.match(byPath.get('release.tracks.2/File')!, /notes\.txt: not FLAC, WAV, MP3/)
    assert.match(byPath.get('release.tracks.3/File')!, /cut\.flac: the last FLAC frame .* is cut off/)
    assert.match(byPath.get('release.tracks.4/Duration')!, /the file plays 1000 ms: a wrong or damaged file/)
    assert.match(byPath.get('release.tracks.5/ISRC')!, /the same ISRC appears twice/)
    assert.match(byPath.get('release.tracks.6/ISRC')!, /not an ISRC/)
    assert.match(
      byPath.get('release.deals.0 → contract.wholesale')!,
      /a pay-as-you-go contract needs a wholesale price/,
    )
    assert.equal(err.issues.length, 7)
    assert.ok(!byPath.has('release.tracks.0/File'), 'the good file passes')
  })

  it('refuses a deal the contract schema refuses, before anything is written', async () => {
    const plan = planFromDescription(
      { ...base, deals: [{ commercialModel: 'pay-as-you-go', useTypes: ['PermanentDownload'], territories: ['XX'] }] },
      options(dir),
    )
    const err = await refusal(validatePlan(plan, { network: 'testnet', segmentSize: 256 * 1024 }))
    assert.deepEqual(err.issues.map((i) => i.path).sort(), [
      'release.deals.0 → contract.territories.0',
      'release.deals.0 → contract.wholesale',
    ])
  })

  it('synthesizes absent audio only when asked, and only where a duration is stated', async () => {
    const plan = (synthesize: boolean) =>
      planFromDescription(
        {
          ...base,
          tracks: [
            { isrc: 'USRC17607839', title: 'Stated', durationSeconds: 3 },
            { isrc: 'USRC17607840', title: 'Unstated' },
          ],
        },
        options(dir, synthesize),
      )
    const without = plan(false)
    assert.deepEqual(
      without.issues.map((i) => i.path),
      ['release.tracks.0.file', 'release.tracks.1.file'],
    )
    const err = await refusal(validatePlan(plan(true), { network: 'testnet', segmentSize: 256 * 1024 }))
    assert.deepEqual(
      err.issues.map((i) => [i.path, i.message]),
      [['release.tracks.1/Duration', 'the file is absent and no usable duration is stated: nothing to synthesize']],
    )
    const ok = await validatePlan(
      planFromDescription(
        { ...base, tracks: [{ isrc: 'USRC17607839', title: 'Stated', durationSeconds: 3 }] },
        options(dir, true),
      ),
      { network: 'testnet', segmentSize: 256 * 1024 },
    )
    const track = ok.releases[0]!.tracks[0]!
    assert.equal(track.origin.kind, 'synth')
    assert.equal(track.probe.durationMs, 3000)
    assert.deepEqual(track.clip, { startMs: 0, durationMs: 1500 }, 'a default preview is at most half the recording')
  })
})
