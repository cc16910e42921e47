import assert from 'node:assert/strict'
import { type ErnInspection, type ErnMessage, inspectErn, parseErn } from '../../../roles/production/ddex/index.ts'
import { countTags, readDdexFixture, tagTexts } from './helpers.ts'

const ISRCS = [
  'DE0000311111',
  'DE0000322222',
  'DE0000333333',
  'DE0000344444',
  'DE0000355555',
  'DE0000366666',
  'DE0000377777',
  'DE0000388888',
  'DE0000399999',
  'DE0000310101',
  'DE0000301010',
  'DE0000312121',
]
const DURATIONS_S = [201, 161, 219, 285, 137, 165, 292, 150, 182, 194, 112, 165]
const ARTISTS = 'The English Concert, Simon Standage, Trevor Pinnock'

describe('ERN 4.3 classical album (ern43-classical.xml)', () => {
  let xml: string
  let message: ErnMessage
  let report: ErnInspection
  before(() => {
    xml = readDdexFixture('ern43-classical.xml')
    message = parseErn(xml)
    report = inspectErn(message)
  })

  it('reads the 12 movements with ISRCs, titles and durations', () => {
    assert.equal(countTags(xml, 'SoundRecording'), 12)
    assert.deepEqual(tagTexts(xml, 'ISRC'), ISRCS)
    assert.deepEqual(
      report.soundRecordings.map((s) => s.isrc),
      ISRCS,
    )
    assert.deepEqual(
      report.soundRecordings.map((s) => s.durationSeconds),
      DURATIONS_S,
    )
    assert.equal(
      report.soundRecordings[0]!.title,
      'Vivaldi: Concerto For Violin And Strings In E Major, Op.8, No.1, RV 269 "La Primavera". 1 Allegro',
    )
    assert.equal(
      report.soundRecordings[11]!.title,
      'Vivaldi: Concerto For Violin And Strings In F Minor, Op.8, No.4, RV 297 "L\'inverno". 3 Allegro',
    )
    assert.ok(report.soundRecordings.every((s) => s.displayArtist === ARTISTS))
  })

  it('keeps the three display artists in sequence order with their parties', () => {
    assert.deepEqual(message.soundRecordings[0]!.artists, [
      { name: 'The English Concert', partyReference: 'PEC', role: 'MainArtist', sequence: 1 },
      { name: 'Simon Standage', partyReference: 'PSS', role: 'MainArtist', sequence: 2 },
      { name: 'Trevor Pinnock', partyReference: 'PTP', role: 'MainArtist', sequence: 3 },
    ])
  })

  it('resolves the nested work groups into one track order', () => {
    const album = report.releases[0]!
    const tracks = ISRCS.map((_, i) => `A${i + 1}`)
    assert.deepEqual(album, {
      reference: 'R0',
      element: 'Release',
      isMain: true,
      icpn: null,
      grid: 'A10302B0003989564F',
      isrc: null,
      title: 'Antonio Vivaldi: The Four Seasons (Concertos for Violins and Strings)',
      displayArtist: ARTISTS,
      type: 'Album',
      label: 'Deutsche Grammophon',
      releaseDate: null,
      trackReferences: tracks,
      resourceReferences: tracks,
    })
    assert.equal(message.releases[0]!.subtitle, 'Concertos for Violins and Strings')
    assert.equal(message.releases[0]!.label, 'Deutsche Grammophon')
    assert.equal(countTags(xml, 'TrackRelease'), 12)
    assert.equal(report.releases.length, 13)
  })

  it('reads its single deal, Andorra only', () => {
    assert.equal(countTags(xml, 'Deal'), 1)
    assert.deepEqual(report.deals, [
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
  })

  it('shows nested groups are ordered by sequence number, not document order', () => {
    // Swap the sequence numbers of the first two works: their movements must swap places in the track list.
    const groupOf = (first: string, from: string) =>
      new RegExp(
        `<SequenceNumber>${from}</SequenceNumber>(\\s*<ResourceGroupContentItem>\\s*<SequenceNumber>1</SequenceNumber>\\s*<ReleaseResourceReference>${first}<)`,
      )
    const swapped = xml
      .replace(groupOf('A1', '1'), '<SequenceNumber>2</SequenceNumber>$1')
      .replace(groupOf('A4', '2'), '<SequenceNumber>1</SequenceNumber>$1')
    assert.notEqual(swapped, xml)
    const tracks = parseErn(swapped).releases[0]!.trackReferences
    assert.deepEqual(tracks.slice(0, 6), ['A4', 'A5', 'A6', 'A1', 'A2', 'A3'])
  })
})
