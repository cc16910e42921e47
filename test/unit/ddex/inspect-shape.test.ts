import assert from 'node:assert/strict'
import { inspectErn, parseErn, readErn } from '../../../roles/production/ddex/index.ts'
import { readDdexFixture } from './helpers.ts'

describe('inspectErn: the JSON shape', () => {
  for (const name of [
    'ern43-album-audio.xml',
    'ern43-single-many-territories.xml',
    'ern43-classical.xml',
    'ern382-choreography-1-new-release.xml',
    'ern382-choreography-3-takedown.xml',
    'ern38-instance.xml',
  ]) {
    it(`has exactly the agreed keys, in order, for ${name}`, () => {
      const report = inspectErn(readErn(readDdexFixture(name)))
      const roundTripped = JSON.parse(JSON.stringify(report))
      assert.deepEqual(roundTripped, report, 'plain JSON: no bigint, no undefined')
      assert.deepEqual(Object.keys(report), [
        'messageType',
        'ernVersion',
        'messageId',
        'sender',
        'valid',
        'counts',
        'releases',
        'resources',
        'soundRecordings',
        'deals',
        'purgedReleases',
        'issues',
      ])
      assert.deepEqual(Object.keys(report.sender), ['partyId', 'name'])
      assert.deepEqual(Object.keys(report.counts), ['errors', 'warnings', 'omitted'])
      for (const r of report.releases) {
        assert.deepEqual(Object.keys(r), [
          'reference',
          'element',
          'isMain',
          'icpn',
          'grid',
          'isrc',
          'title',
          'displayArtist',
          'type',
          'label',
          'releaseDate',
          'trackReferences',
          'resourceReferences',
        ])
      }
      for (const r of report.resources) {
        assert.deepEqual(Object.keys(r), [
          'reference',
          'kind',
          'type',
          'isrc',
          'title',
          'displayArtist',
          'durationSeconds',
          'files',
          'supplemental',
          'related',
        ])
        for (const x of r.related) {
          assert.deepEqual(Object.keys(x), ['reference', 'relationship', 'startSeconds', 'durationSeconds'])
        }
      }
      for (const s of report.soundRecordings) {
        assert.deepEqual(Object.keys(s), ['reference', 'isrc', 'title', 'displayArtist', 'durationSeconds', 'preview'])
        if (s.preview !== null) assert.deepEqual(Object.keys(s.preview), ['startSeconds', 'durationSeconds'])
      }
      for (const d of report.deals) {
        assert.deepEqual(Object.keys(d), [
          'releaseReference',
          'commercialModels',
          'useTypes',
          'territories',
          'excludedTerritories',
          'start',
          'end',
          'prices',
          'takedown',
        ])
        for (const p of d.prices) assert.deepEqual(Object.keys(p), ['currency', 'wholesale'])
      }
      for (const p of report.purgedReleases) assert.deepEqual(Object.keys(p), ['icpn', 'grid', 'isrc'])
      for (const i of report.issues) assert.deepEqual(Object.keys(i), ['severity', 'code', 'path', 'value', 'message'])
      assert.equal(report.counts.errors + report.counts.warnings, report.issues.length)
      assert.equal(report.valid, report.counts.errors === 0)
    })
  }

  it('of a parsed message lists its accepted warnings as the issues', () => {
    const xml = readDdexFixture('ern382-choreography-1-new-release.xml')
    const fromParse = inspectErn(parseErn(xml))
    assert.deepEqual(fromParse, inspectErn(readErn(xml)))
    assert.deepEqual(
      fromParse.issues.map((i) => i.severity),
      ['warning'],
    )
  })
})
