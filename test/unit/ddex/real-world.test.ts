import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ErnInspection, inspectErn, parseErn, readErn } from '../../../roles/production/ddex/index.ts'
import { planFromErn } from '../../../roles/production/ern-plan.ts'
import { fixturesDir } from '../../fixtures.ts'
import { runConsort } from '../../helpers/cli.ts'
import { countTags, issuesOf, tagTexts } from './helpers.ts'

/** DDEX's public sample messages kept in test/fixtures/ern (README.md there names their source and licence). */
const OWN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'ern')

function messages(): Array<{ name: string; file: string }> {
  const shared = path.join(fixturesDir(), 'ddex')
  return [shared, OWN].flatMap((dir) =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.xml'))
      .sort()
      .map((name) => ({ name, file: path.join(dir, name) })),
  )
}

const RESOURCE_KINDS = [
  'SoundRecording',
  'Video',
  'Image',
  'Text',
  'SheetMusic',
  'Software',
  'MIDI',
  'UserDefinedResource',
]

/** What each message is, stated from reading the XML by eye (versions, shapes, grading). */
const EXPECTED: Record<string, { version: string; valid: boolean; main: string | null; codes: string[] }> = {
  'ern38-instance.xml': {
    version: '3.8',
    valid: false,
    main: 'AdvertisementVideo',
    codes: ['amount', 'date', 'duration', 'grid', 'icpn', 'isrc', 'number', 'reference', 'territory'],
  },
  'ern382-choreography-1-new-release.xml': { version: '3.8.2', valid: true, main: null, codes: ['grid'] },
  'ern382-choreography-2-update.xml': { version: '3.8.2', valid: true, main: null, codes: ['grid'] },
  'ern382-choreography-3-takedown.xml': { version: '3.8.2', valid: true, main: null, codes: ['grid'] },
  'ern43-album-audio.xml': { version: '4.3', valid: true, main: 'Album', codes: [] },
  'ern43-classical.xml': { version: '4.3', valid: true, main: 'Album', codes: [] },
  'ern43-single-many-territories.xml': { version: '4.3', valid: true, main: 'SingleResourceRelease', codes: [] },
  'ern411-ringtone-excerpt.xml': { version: '4.1.1', valid: false, main: 'RingtoneRelease', codes: ['hash'] },
  'ern411-video.xml': { version: '4.1.1', valid: true, main: 'VideoAlbum', codes: [] },
  'ern42-dj-mix.xml': { version: '4.2', valid: true, main: 'DjMix', codes: ['icpn', 'required'] },
  'ern42-video.xml': { version: '4.2', valid: true, main: 'VideoAlbum', codes: [] },
  'ern43-ringtone-excerpt.xml': { version: '4.3', valid: false, main: 'RingtoneRelease', codes: ['hash'] },
}

describe('ERN: real-world messages of every version and shape (shared fixtures and test/fixtures/ern)', () => {
  const all = messages()
  const read = new Map<string, { xml: string; report: ErnInspection }>()
  before(() => {
    for (const { name, file } of all) {
      const xml = readFileSync(file, 'utf8')
      read.set(name, { xml, report: inspectErn(readErn(xml)) })
    }
  })

  it('covers ERN 3.8, 3.8.2, 4.1.1, 4.2 and 4.3, and every message is one the test knows', () => {
    assert.deepEqual(all.map((m) => m.name).sort(), Object.keys(EXPECTED).sort())
    assert.deepEqual([...new Set(Object.values(EXPECTED).map((e) => e.version))].sort(), [
      '3.8',
      '3.8.2',
      '4.1.1',
      '4.2',
      '4.3',
    ])
  })

  for (const name of Object.keys(EXPECTED)) {
    it(`${name}: shows everything it could read, counted against the XML, with every issue graded and located`, () => {
      const entry = read.get(name)
      assert.ok(entry, `${name} missing from the fixtures`)
      const { xml, report } = entry
      const expected = EXPECTED[name]!
      assert.equal(report.ernVersion, expected.version)
      assert.equal(report.valid, expected.valid)
      assert.deepEqual([...new Set(report.issues.map((i) => i.code))].sort(), expected.codes)
      for (const issue of report.issues) {
        assert.ok(issue.path.startsWith(`/${report.messageType}/`), issue.path)
        assert.ok(['error', 'warning'].includes(issue.severity))
        assert.ok(issue.message.length > 10)
      }
      if (report.messageType === 'PurgeReleaseMessage') {
        assert.equal(report.purgedReleases.length, countTags(xml, 'PurgedRelease'))
        return
      }
      assert.equal(report.releases.length, countTags(xml, 'Release') + countTags(xml, 'TrackRelease'))
      const resources = RESOURCE_KINDS.reduce((n, kind) => n + countTags(xml, kind), 0)
      assert.equal(report.resources.length, resources)
      assert.equal(report.deals.length, countTags(xml, 'Deal'))
      assert.equal(report.releases.find((r) => r.isMain)?.type ?? null, expected.main)
      // The well-formed ISRCs the message gives its own releases and resources are the ones shown (those of related
      // releases, such as the album a ringtone comes from, describe other products; bad ones are reported).
      const own = xml.replace(/<RelatedRelease>[\s\S]*?<\/RelatedRelease>/g, '')
      const isrcs = tagTexts(own, 'ISRC').filter((isrc) => /^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$/.test(isrc))
      const shown = [...report.releases.map((r) => r.isrc), ...report.resources.map((r) => r.isrc)]
      assert.deepEqual(new Set(shown.filter((isrc) => isrc !== null)), new Set(isrcs))
    })
  }

  it('consort ern inspect --json shows the same for every file, exit 1 exactly where an error is', async function () {
    this.timeout(300_000)
    const queue = [...all]
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const result = await runConsort(['ern', 'inspect', next.file, '--json'])
        const report = read.get(next.name)!.report
        assert.equal(result.code, report.valid ? 0 : 1, `${next.name}: ${result.stderr}`)
        assert.deepEqual(JSON.parse(result.stdout), report, next.name)
      }
    }
    await Promise.all([worker(), worker()])
  })

  describe('shapes', () => {
    it('video albums (4.1.1, 4.2): the videos and their stills are read beside each other; publishing refuses audio-less', () => {
      for (const name of ['ern411-video.xml', 'ern42-video.xml']) {
        const { report, xml } = read.get(name)!
        const main = report.releases.find((r) => r.isMain)!
        assert.equal(main.icpn, '05099962136853')
        assert.equal(main.title, 'La Première Fois (Video)')
        assert.deepEqual(
          report.resources.map((r) => [r.reference, r.kind, r.type, r.isrc]),
          [
            ['A1', 'Video', 'ShortFormMusicalWorkVideo', 'DEMA61100471'],
            ['A2', 'Video', 'ShortFormMusicalWorkVideo', 'DEMA61100472'],
            ['A3', 'Image', 'FrontCoverImage', null],
            ['A4', 'Image', 'VideoScreenCapture', null],
            ['A5', 'Image', 'VideoScreenCapture', null],
          ],
        )
        assert.deepEqual(
          report.resources.slice(0, 2).map((r) => r.durationSeconds),
          [190, 206],
        )
        assert.equal(report.soundRecordings.length, 0)
        assert.deepEqual(
          report.releases.map((r) => r.resourceReferences),
          [['A1', 'A2'], ['A1'], ['A2']],
        )
        assert.equal(report.deals.length, countTags(xml, 'Deal'))
        const plan = planFromErn(parseErn(xml), { audioDir: '/srv', synthesizeMissing: true, isKnown: () => false })
        assert.ok(
          plan.issues.some((i) => /no sound recording among its resources \(ShortFormMusicalWorkVideo/.test(i.message)),
          JSON.stringify(plan.issues),
        )
      }
    })

    it('a DJ mix (4.2): the mix, the eight recordings it plays with where and how long, those marked supplemental', () => {
      const { report } = read.get('ern42-dj-mix.xml')!
      const mix = report.resources[0]!
      assert.equal(report.releases[0]!.type, 'DjMix')
      assert.deepEqual(report.releases[0]!.trackReferences, ['A1'])
      assert.equal(mix.isrc, 'USWE34255410')
      assert.equal(mix.durationSeconds, 751)
      assert.deepEqual(
        mix.related.map((r) => [r.reference, r.relationship, r.startSeconds, r.durationSeconds]),
        [
          ['A2', 'HasContentFrom', 0, 76],
          ['A3', 'HasContentFrom', 76, 89],
          ['A4', 'HasContentFrom', 165, 75],
          ['A5', 'HasContentFrom', 240, 65],
          ['A6', 'HasContentFrom', 305, 100],
          ['A7', 'HasContentFrom', 405, 87],
          ['A8', 'HasContentFrom', 492, 93],
          ['A9', 'HasContentFrom', 585, 189],
        ],
      )
      const parts = report.resources.filter((r) => r.kind === 'SoundRecording').slice(1)
      assert.equal(parts.length, 8)
      assert.ok(parts.every((p) => p.supplemental && p.files.length === 0))
      assert.equal(parts[0]!.title, 'Fall Back 2U')
      // Its flaws are warnings: an empty MessageId, an ICPN whose check digit is wrong.
      assert.deepEqual(
        report.issues.map((i) => [i.severity, i.code, i.path.split('/').at(-1), i.value]),
        [
          ['warning', 'required', 'MessageId', ''],
          ['warning', 'icpn', 'ICPN', '123123123123'],
        ],
      )
      const plan = planFromErn(parseErn(read.get('ern42-dj-mix.xml')!.xml), {
        audioDir: '/srv',
        synthesizeMissing: true,
        isKnown: () => false,
      })
      assert.deepEqual(plan.issues, [])
      assert.deepEqual(
        plan.releases[0]!.tracks.map((t) => t.isrc),
        ['USWE34255410'],
        'the mix is published; its parts only describe it',
      )
      assert.equal(plan.warnings.filter((w) => w.message.startsWith('supplemental')).length, 8)
    })

    it('ringtones (4.1.1 and 4.3): read whole, and refused for their MD5 sums of 33 hex digits', () => {
      for (const [name, badHashes, deals] of [
        ['ern411-ringtone-excerpt.xml', 4, [['AD', 'AdvertisementSupportedModel']]],
        [
          'ern43-ringtone-excerpt.xml',
          2,
          [
            ['AD', 'AdvertisementSupportedModel'],
            ['AD', 'SubscriptionModel'],
            ['AD', 'PayAsYouGoModel'],
            ['AF', 'AdvertisementSupportedModel'],
          ],
        ],
      ] as const) {
        const { xml, report } = read.get(name)!
        assert.equal(report.releases[0]!.type, 'RingtoneRelease')
        assert.equal(report.releases[0]!.grid, 'A10302B0003814379B')
        assert.equal(report.resources[0]!.isrc, 'USWB11700001')
        assert.equal(report.resources[0]!.durationSeconds, 30)
        assert.equal(report.resources[0]!.files[0], 'resources/USWB11700001_999_012_N_44_16.wav')
        assert.deepEqual(
          report.deals.map((d) => [d.territories.join(), d.commercialModels.join()]),
          deals,
        )
        const hashes = tagTexts(xml, 'HashSumValue').filter((h) => h.length !== 32)
        assert.equal(report.issues.length, badHashes)
        for (const issue of report.issues) {
          assert.equal(issue.severity, 'error')
          assert.ok(hashes.includes(issue.value))
          assert.match(issue.message, /expected 32 hexadecimal digits, found 33/)
        }
        assert.equal(issuesOf(() => parseErn(xml)).length, badHashes)
      }
    })

    it('deals by commercial model, use type, territory and period (4.3 single: 747 deals over 249 territories)', () => {
      const { report } = read.get('ern43-single-many-territories.xml')!
      const byModel = new Map<string, Set<string>>()
      for (const d of report.deals) {
        for (const m of d.commercialModels) {
          const uses = byModel.get(m) ?? new Set()
          for (const u of d.useTypes) uses.add(u)
          byModel.set(m, uses)
        }
      }
      assert.deepEqual(Object.fromEntries([...byModel].map(([m, uses]) => [m, [...uses].sort()])), {
        AdvertisementSupportedModel: ['NonInteractiveStream', 'OnDemandStream'],
        SubscriptionModel: ['ConditionalDownload', 'NonInteractiveStream', 'OnDemandStream'],
        PayAsYouGoModel: ['PermanentDownload'],
      })
      assert.equal(new Set(report.deals.map((d) => d.territories[0])).size, 249)
      assert.ok(report.deals.every((d) => d.start === '2017-04-25' && d.end === null && !d.takedown))
    })
  })
})
