import assert from 'node:assert/strict'
import { type ErnInspection, type ErnMessage, inspectErn, parseErn } from '../../../roles/production/ddex/index.ts'
import { countTags, readDdexFixture, tagTexts } from './helpers.ts'

// Expected values read off ern43-album-audio.xml by hand (and cross-checked below against tag counts).
const ISRCS = [
  'JPTO09404900',
  'JPTO09404910',
  'JPTO09404920',
  'JPTO09404930',
  'JPTO09404940',
  'JPTO09404950',
  'JPTO09404960',
  'JPTO09404970',
  'JPTO09404980',
  'JPTO09404990',
  'JPTO09405000',
  'JPTO09405010',
  'JPTO09405020',
  'JPTO09405030',
  'JPTO09405040',
  'JPTO09405050',
  'JPTO09405060',
  'JPTO09405070',
  'JPTO09332840',
  'JPTO09405080',
  'JPTO09332830',
]
const TITLES = [
  'Yume no Lullaby',
  'Yume no Hajimari - Kaze no Okuri Mono (Introduction)',
  '-Haru- Soushunfu',
  'Dokoka de Haru ga',
  'Haru ga Kita',
  'Haru no Ogawa (Monbushou Shouka)',
  '-Natsu- Umi (Monbushou Shouka)',
  'Ware wa Umi no Ko',
  'Natsu no Omoide (Instrumental)',
  'Natsu wa Konu',
  '-Aki- Chiisai Aki Mitsuketa',
  'Sato no Aki',
  'Ryoshuu',
  'Aka Tonbo',
  '-Fuyu- Fuyu no Yoru (Monbushou Shouka)',
  'Pechka',
  'Yuki no Furu Machi wo',
  'Komoriuta',
  'Aerobics Mama',
  "Mother's Song -Kodomotachi e-",
  'Kitto Shiawase (NHK Minna no Uta)',
]
const DURATIONS_S = [148, 102, 72, 82, 92, 74, 69, 72, 74, 90, 65, 58, 81, 105, 86, 65, 71, 132, 204, 222, 226]
const PREVIEW_STARTS_S = [45, 45, 0, 45, 45, 0, 0, 0, 0, 45, 0, 0, 45, 45, 45, 0, 0, 45, 45, 45, 45]
const TRACK_REFS = ISRCS.map((_, i) => `A${i + 1}`)
const TRACK_RELEASES = ISRCS.map((_, i) => `R${i + 1}`)

describe('ERN 4.3 album (ern43-album-audio.xml)', () => {
  let xml: string
  let message: ErnMessage
  let report: ErnInspection
  before(() => {
    xml = readDdexFixture('ern43-album-audio.xml')
    message = parseErn(xml)
    report = inspectErn(message)
  })

  it('reads the header', () => {
    assert.equal(report.messageType, 'NewReleaseMessage')
    assert.equal(report.ernVersion, '4.3')
    assert.deepEqual(report.sender, { partyId: 'PADPIDA2013042401U', name: 'UniversalMusicGroup' })
    assert.equal(message.messageId, 'Test1.1')
    assert.equal(message.messageThreadId, 'Test1')
    assert.equal(message.createdAt, '2014-09-24T14:57:25+01:00')
    assert.equal(message.createdAtMs, Date.UTC(2014, 8, 24, 13, 57, 25))
    assert.deepEqual(message.recipients, [{ partyId: 'PADPIDA2009101501Y', name: 'Sony DADC' }])
    assert.deepEqual(message.warnings, [])
  })

  it('reads all 21 sound recordings with ISRCs, titles, artist, durations and previews', () => {
    assert.equal(countTags(xml, 'SoundRecording'), 21)
    assert.deepEqual(tagTexts(xml, 'ISRC'), ISRCS)
    assert.deepEqual(
      report.soundRecordings.map((s) => s.reference),
      TRACK_REFS,
    )
    assert.deepEqual(
      report.soundRecordings.map((s) => s.isrc),
      ISRCS,
    )
    assert.deepEqual(
      report.soundRecordings.map((s) => s.title),
      TITLES,
    )
    assert.deepEqual(
      report.soundRecordings.map((s) => s.durationSeconds),
      DURATIONS_S,
    )
    assert.ok(report.soundRecordings.every((s) => s.displayArtist === 'Saeko Shu'))
    // Clip details give a start point but no duration: the duration is absent, not invented.
    assert.deepEqual(
      report.soundRecordings.map((s) => s.preview),
      PREVIEW_STARTS_S.map((startSeconds) => ({ startSeconds, durationSeconds: null })),
    )
  })

  it('keeps files, P lines, artists and track numbers in the model', () => {
    const first = message.soundRecordings[0]!
    assert.deepEqual(first.files, [{ uri: '0094631432057_01_001.wav', codec: null, hash: null }])
    assert.deepEqual(first.pLine, { year: 1994, text: '(P) 1994 EMI Music Japan Inc.' })
    assert.deepEqual(first.artists, [
      { name: 'Saeko Shu', partyReference: 'PSaekoShu', role: 'MainArtist', sequence: 1 },
    ])
    assert.equal(first.duration, 'PT2M28S')
    assert.deepEqual(first.trackNumbers, [
      { releaseReference: 'R0', trackNumber: 1 },
      { releaseReference: 'R1', trackNumber: 1 },
    ])
    assert.deepEqual(message.soundRecordings[20]!.trackNumbers, [
      { releaseReference: 'R0', trackNumber: 21 },
      { releaseReference: 'R21', trackNumber: 1 },
    ])
  })

  it('reads the album and its 21 track releases, tracks in resource-group order', () => {
    assert.equal(countTags(xml, 'Release') + countTags(xml, 'TrackRelease'), 22)
    const [album, ...tracks] = report.releases
    assert.deepEqual(album, {
      reference: 'R0',
      element: 'Release',
      isMain: true,
      icpn: '00094631432057',
      grid: null,
      isrc: null,
      title: 'Yume no Hajmari',
      displayArtist: 'Saeko Shu',
      type: 'Album',
      label: 'EMI MUSIC JAPAN INC.',
      releaseDate: null,
      trackReferences: TRACK_REFS,
      resourceReferences: TRACK_REFS,
    })
    assert.deepEqual(
      tracks.map((t) => t.reference),
      TRACK_RELEASES,
    )
    tracks.forEach((t, i) => {
      assert.deepEqual(t.trackReferences, [`A${i + 1}`])
      assert.equal(t.type, 'TrackRelease')
      assert.equal(t.title, TITLES[i], 'a track release without a title takes its recording title')
    })
    const model = message.releases[0]!
    assert.equal(model.isMain, true)
    assert.equal(model.label, 'EMI MUSIC JAPAN INC.')
    assert.equal(model.genre, 'J-Pop')
    assert.equal(model.durationMs, 2_190_000)
    assert.deepEqual(model.resourceReferences, TRACK_REFS, 'the linked cover image is not a content item')
    assert.equal(message.releases[1]!.ids.proprietaryIds[0]!.value, '00094631432057_JPTO09404900_R1')
    assert.equal(message.releases.filter((r) => r.isMain).length, 1)
  })

  it('reads one deal per Deal element: two for the 21 track releases, one for the album, all in Japan', () => {
    assert.equal(countTags(xml, 'Deal'), 3)
    assert.deepEqual(report.deals, [
      {
        releaseReference: TRACK_RELEASES,
        commercialModels: ['SubscriptionModel', 'AdvertisementSupportedModel'],
        useTypes: ['ConditionalDownload', 'Stream'],
        territories: ['JP'],
        excludedTerritories: [],
        start: '2004-04-01',
        end: null,
        prices: [],
        takedown: false,
      },
      {
        releaseReference: TRACK_RELEASES,
        commercialModels: ['PayAsYouGoModel'],
        useTypes: ['PermanentDownload', 'ConditionalDownload'],
        territories: ['JP'],
        excludedTerritories: [],
        start: '2004-04-01',
        end: null,
        prices: [{ currency: null, wholesale: null }],
        takedown: false,
      },
      {
        releaseReference: 'R0',
        commercialModels: ['PayAsYouGoModel'],
        useTypes: ['PermanentDownload', 'ConditionalDownload'],
        territories: ['JP'],
        excludedTerritories: [],
        start: '2004-04-01',
        end: null,
        prices: [{ currency: null, wholesale: null }],
        takedown: false,
      },
    ])
    assert.equal(message.deals[1]!.prices[0]!.priceCode, 'AAAA')
    assert.equal(message.deals[1]!.periods[0]!.startMs, Date.UTC(2004, 3, 1))
    assert.ok(message.deals.every((d) => !d.takedown))
  })
})
