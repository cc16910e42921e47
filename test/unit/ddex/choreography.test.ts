import assert from 'node:assert/strict'
import { classifyErn, type ErnMessage, inspectErn, parseErn } from '../../../roles/production/ddex/index.ts'
import { issuesOf, readDdexFixture } from './helpers.ts'

const GRID = 'A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0'

describe('ERN 3.8.2 choreography: new release, update, takedown (ern382-choreography-*.xml)', () => {
  let newXml: string
  let updateXml: string
  let takedownXml: string
  before(() => {
    newXml = readDdexFixture('ern382-choreography-1-new-release.xml')
    updateXml = readDdexFixture('ern382-choreography-2-update.xml')
    takedownXml = readDdexFixture('ern382-choreography-3-takedown.xml')
  })

  it('accepts all three with one warning each (their GRid is 40 characters, not a GRid); strict refuses them', () => {
    for (const [xml, path] of [
      [newXml, '/NewReleaseMessage/ReleaseList/Release[1]/ReleaseId/GRid'],
      [updateXml, '/NewReleaseMessage/ReleaseList/Release[1]/ReleaseId/GRid'],
      [takedownXml, '/PurgeReleaseMessage/PurgedRelease/ReleaseId/GRid'],
    ] as const) {
      assert.deepEqual(
        parseErn(xml).warnings.map((i) => [i.path, i.value, i.code, i.severity]),
        [[path, GRID, 'grid', 'warning']],
      )
      const issues = issuesOf(() => parseErn(xml, { strict: true }))
      assert.deepEqual(
        issues.map((i) => [i.path, i.code]),
        [[path, 'grid']],
      )
    }
  })

  describe('read with their warnings', () => {
    let first: ErnMessage
    let second: ErnMessage
    let third: ErnMessage
    before(() => {
      first = parseErn(newXml)
      second = parseErn(updateXml)
      third = parseErn(takedownXml)
    })

    it('keeps the malformed GRid as written: the sender names the release by it in the update and the purge', () => {
      assert.equal(first.releases[0]!.ids.grid, GRID)
      assert.equal(third.purgedReleases[0]!.grid, GRID)
    })

    it('reads the new release', () => {
      assert.deepEqual(inspectErn(first), {
        messageType: 'NewReleaseMessage',
        ernVersion: '3.8.2',
        messageId: 'MessageID5678',
        sender: { partyId: 'PADPIDA1234567890', name: 'Label Name' },
        valid: true,
        counts: { errors: 0, warnings: 1, omitted: 0 },
        releases: [
          {
            reference: 'RL1',
            element: 'Release',
            isMain: true,
            icpn: null,
            grid: GRID,
            isrc: null,
            title: 'Example Album',
            displayArtist: 'DJ Theo',
            type: null,
            label: 'Iron Crown Music',
            releaseDate: '2010-01-01',
            trackReferences: ['A1'],
            resourceReferences: ['A1', 'A2'],
          },
        ],
        resources: [
          {
            reference: 'A1',
            kind: 'SoundRecording',
            type: null,
            isrc: 'USRC12345678',
            title: 'Example Song',
            displayArtist: 'DJ Theo',
            durationSeconds: 225,
            files: ['resources/SoundRecording_001_001.flac'],
            supplemental: false,
            related: [],
          },
          {
            reference: 'A2',
            kind: 'Image',
            type: 'FrontCoverImage',
            isrc: null,
            title: null,
            displayArtist: null,
            durationSeconds: null,
            files: ['resources/Image_001_001.jpg'],
            supplemental: false,
            related: [],
          },
        ],
        soundRecordings: [
          {
            reference: 'A1',
            isrc: 'USRC12345678',
            title: 'Example Song',
            displayArtist: 'DJ Theo',
            durationSeconds: 225,
            preview: { startSeconds: 0, durationSeconds: 30 },
          },
        ],
        deals: [
          {
            releaseReference: 'RL1',
            commercialModels: ['FreeOfChargeModel'],
            useTypes: ['OnDemandStream', 'PermanentDownload'],
            territories: ['Worldwide'],
            excludedTerritories: [],
            start: '2023-09-02',
            end: null,
            prices: [],
            takedown: false,
          },
        ],
        purgedReleases: [],
        issues: [
          {
            severity: 'warning',
            code: 'grid',
            path: '/NewReleaseMessage/ReleaseList/Release[1]/ReleaseId/GRid',
            value: GRID,
            message: 'not a GRid: expected A1 + 16 letters or digits with a valid ISO 7064 MOD 37,36 check character',
          },
        ],
      })
      const release = first.releases[0]!
      assert.equal(release.label, 'Iron Crown Music')
      assert.equal(release.genre, 'Metal')
      assert.equal(release.releaseDate, '2010-01-01')
      assert.deepEqual(release.resourceReferences, ['A1', 'A2'], 'the image is a resource but not a track')
      const recording = first.soundRecordings[0]!
      assert.deepEqual(recording.files, [{ uri: 'resources/SoundRecording_001_001.flac', codec: 'FLAC', hash: null }])
      assert.deepEqual(recording.proprietaryIds, [{ namespace: 'PADPIDA1234567890', value: '2281606606' }])
      assert.equal(first.createdAtMs, Date.UTC(2024, 3, 1, 5))
      assert.equal(first.updateIndicator, null)
    })

    it('recognises new, then update, then takedown of the same release', () => {
      const delivered = new Set<string>()
      const isKnown = (key: string) => delivered.has(key)

      const a = classifyErn(first, isKnown)
      assert.deepEqual(
        a.map((x) => [x.action, x.reference, x.keys]),
        [['new', 'RL1', [`grid:${GRID}`]]],
      )
      for (const key of a[0]!.keys) delivered.add(key)

      const b = classifyErn(second, isKnown)
      assert.deepEqual(
        b.map((x) => [x.action, x.reference, x.keys]),
        [['update', 'RL1', [`grid:${GRID}`]]],
      )
      assert.equal(second.soundRecordings[0]!.title, 'Updated Example Song')
      assert.ok(second.createdAtMs > first.createdAtMs)

      const c = classifyErn(third, isKnown)
      assert.deepEqual(
        c.map((x) => [x.action, x.reference, x.keys]),
        [['takedown', null, [`grid:${GRID}`]]],
      )
      assert.ok(c[0]!.keys.some(isKnown), 'the purge names the release delivered before')
      assert.equal(third.messageType, 'PurgeReleaseMessage')
      assert.equal(third.messageId, 'MessageID5680')
    })

    it('calls the update message new when nothing was delivered before (the message does not say update)', () => {
      assert.deepEqual(
        classifyErn(second, () => false).map((x) => x.action),
        ['new'],
      )
    })
  })
})
