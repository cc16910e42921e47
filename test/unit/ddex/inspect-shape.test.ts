import assert from 'node:assert/strict'
import { inspectErn, parseErn } from '../../../roles/production/ddex/index.ts'
import { readDdexFixture } from './helpers.ts'

describe('inspectErn: the JSON shape', () => {
  for (const name of [
    'ern43-album-audio.xml',
    'ern43-single-many-territories.xml',
    'ern43-classical.xml',
    'ern382-choreography-1-new-release.xml',
  ]) {
    it(`has exactly the agreed keys, in order, for ${name}`, () => {
      const report = inspectErn(parseErn(readDdexFixture(name), { tolerate: ['grid'] }))
      const roundTripped = JSON.parse(JSON.stringify(report))
      assert.deepEqual(roundTripped, report, 'plain JSON: no bigint, no undefined')
      assert.deepEqual(Object.keys(report), [
        'messageType',
        'ernVersion',
        'sender',
        'releases',
        'soundRecordings',
        'deals',
      ])
      assert.deepEqual(Object.keys(report.sender), ['partyId', 'name'])
      for (const r of report.releases) {
        assert.deepEqual(Object.keys(r), [
          'reference',
          'icpn',
          'grid',
          'title',
          'displayArtist',
          'type',
          'trackReferences',
        ])
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
        ])
        for (const p of d.prices) assert.deepEqual(Object.keys(p), ['currency', 'wholesale'])
      }
    })
  }
})
