import assert from 'node:assert/strict'
import { COUNTRY_CODES } from '../../../protocols/identifiers/index.ts'
import { type ErnInspection, type ErnMessage, inspectErn, parseErn } from '../../../roles/production/ddex/index.ts'
import { countTags, readDdexFixture, tagTexts } from './helpers.ts'

describe('ERN 4.3 single with per-territory deals (ern43-single-many-territories.xml)', () => {
  let xml: string
  let message: ErnMessage
  let report: ErnInspection
  before(() => {
    xml = readDdexFixture('ern43-single-many-territories.xml')
    message = parseErn(xml)
    report = inspectErn(message)
  })

  it('reads the header', () => {
    assert.equal(report.messageType, 'NewReleaseMessage')
    assert.equal(report.ernVersion, '4.3')
    assert.deepEqual(report.sender, { partyId: 'PADPIDA2007050901U', name: 'Warner Music Group' })
    assert.equal(message.controlType, 'LiveMessage')
    assert.equal(message.messageId, 'W83814161')
  })

  it('reads the one recording', () => {
    assert.deepEqual(report.soundRecordings, [
      {
        reference: 'A1',
        isrc: 'GBAYC1700598',
        title: 'RIOPY: I Love You',
        displayArtist: 'RIOPY',
        durationSeconds: 263.583,
        preview: { startSeconds: 0, durationSeconds: 60 },
      },
    ])
    const recording = message.soundRecordings[0]!
    assert.equal(recording.durationMs, 263_583)
    assert.equal(recording.subtitle, null)
    assert.deepEqual(recording.files, [
      {
        uri: 'resources/190295810726_00001_LL.flac',
        codec: 'FLAC',
        hash: { algorithm: 'MD5', value: 'db7dd2f3bb9b322646e3f4d7b65b47ab' },
      },
    ])
    assert.deepEqual(recording.pLine, {
      year: 2015,
      text: '2015 Parlophone Records Limited, a Warner Music Group Company',
    })
  })

  it('reads the release with its GRid, type, label, genre and lines', () => {
    assert.deepEqual(report.releases, [
      {
        reference: 'R0',
        element: 'Release',
        isMain: true,
        icpn: null,
        grid: 'A10302B0003989564F',
        isrc: null,
        title: 'RIOPY: I Love You',
        displayArtist: 'RIOPY',
        type: 'SingleResourceRelease',
        label: 'Warner Classics',
        releaseDate: null,
        trackReferences: ['A1'],
        resourceReferences: ['A1'],
      },
    ])
    const release = message.releases[0]!
    assert.deepEqual(release.types, ['SingleResourceRelease', 'Audio'])
    assert.equal(release.label, 'Warner Classics')
    assert.equal(release.genre, 'Classical')
    assert.equal(release.subGenre, 'Classical Crossover')
    assert.deepEqual(release.cLine, {
      year: 2017,
      text: '2017 Parlophone Records Limited, a Warner Music Group Company',
    })
    assert.deepEqual(release.ids.proprietaryIds, [{ namespace: 'PADPIDA2007050901U', value: 'GBAYC1700598' }])
    assert.deepEqual(release.resourceReferences, ['A1'])
  })

  it('reads 747 deals: three commercial models in each of the 249 territories', () => {
    assert.equal(countTags(xml, 'Deal'), 747)
    assert.equal(report.deals.length, 747)
    const territoriesInXml = tagTexts(xml, 'TerritoryCode')
    assert.equal(territoriesInXml.length, 747)
    assert.deepEqual(
      report.deals.map((d) => d.territories),
      territoriesInXml.map((t) => [t]),
    )
    // Every ISO 3166-1 country appears, each exactly three times.
    const perTerritory = new Map<string, number>()
    for (const d of report.deals) perTerritory.set(d.territories[0]!, (perTerritory.get(d.territories[0]!) ?? 0) + 1)
    assert.deepEqual([...perTerritory.keys()].sort(), [...COUNTRY_CODES])
    assert.ok([...perTerritory.values()].every((n) => n === 3))
    assert.deepEqual(report.deals.slice(0, 3), [
      {
        releaseReference: 'R0',
        commercialModels: ['AdvertisementSupportedModel'],
        useTypes: ['NonInteractiveStream', 'OnDemandStream'],
        territories: ['AD'],
        excludedTerritories: [],
        start: '2017-04-25',
        end: null,
        prices: [],
        takedown: false,
      },
      {
        releaseReference: 'R0',
        commercialModels: ['SubscriptionModel'],
        useTypes: ['ConditionalDownload', 'NonInteractiveStream', 'OnDemandStream'],
        territories: ['AD'],
        excludedTerritories: [],
        start: '2017-04-25',
        end: null,
        prices: [],
        takedown: false,
      },
      {
        releaseReference: 'R0',
        commercialModels: ['PayAsYouGoModel'],
        useTypes: ['PermanentDownload'],
        territories: ['AD'],
        excludedTerritories: [],
        start: '2017-04-25',
        end: null,
        prices: [],
        takedown: false,
      },
    ])
    const models = new Map<string, number>()
    for (const d of report.deals) for (const m of d.commercialModels) models.set(m, (models.get(m) ?? 0) + 1)
    assert.deepEqual(Object.fromEntries(models), {
      AdvertisementSupportedModel: 249,
      SubscriptionModel: 249,
      PayAsYouGoModel: 249,
    })
    assert.ok(message.deals.every((d) => !d.takedown && d.periods[0]!.startMs === Date.UTC(2017, 3, 25)))
  })
})
