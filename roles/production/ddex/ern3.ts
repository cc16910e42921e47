import {
  avsValue,
  flattenResourceGroups,
  type Issues,
  isTrue,
  nonEmpty,
  readCopyrightLine,
  readDuration,
  readHash,
  readIsrc,
  readPeriod,
  readPreviewDetails,
  readPrice,
  readProprietaryIds,
  readRelatedResources,
  readReleaseDate,
  readReleaseIds,
  readSequence,
  readTerritories,
  requiredText,
  sortArtists,
} from './common.ts'
import type { ErnArtist, ErnAudioFile, ErnPreview, ErnSoundRecording } from './model.ts'
import { type ReadBody, type ReadDeal, type ReaderContext, type ReadRelease, registerResource } from './reading.ts'
import { readOtherResource } from './resources.ts'
import type { El } from './xml.ts'

/**
 * ERN 3.8.x: metadata per territory in `...DetailsByTerritory` composites (read for `Worldwide`, else the first),
 * artists named inline, technical details and preview instructions per territory, deal usage in `Usage`, and
 * explicit takedown flags (`TakeDown`, `AllDealsCancelled`).
 */

/** Chooses the details for Worldwide (else the first), after checking the territory codes of all of them. */
function pickDetails(details: El[], issues: Issues): El | undefined {
  let worldwide: El | undefined
  for (const d of details) {
    const territories = readTerritories(d.all('TerritoryCode'), issues)
    readTerritories(d.all('ExcludedTerritoryCode'), issues)
    if (worldwide === undefined && territories.includes('Worldwide')) worldwide = d
  }
  return worldwide ?? details[0]
}

function titleOf(titles: El[], type: string): El | undefined {
  return titles.find((t) => t.attr('TitleType') === type)
}

/** Display title, else formal title, else any title of the details, else the reference title. */
function readTitle(el: El, details: El | undefined): { title: string | null; subtitle: string | null } {
  const titles = details?.all('Title') ?? []
  const chosen =
    titleOf(titles, 'DisplayTitle') ?? titleOf(titles, 'FormalTitle') ?? titles[0] ?? el.one('ReferenceTitle')
  return { title: chosen?.textOf('TitleText') ?? null, subtitle: chosen?.textOf('SubTitle') ?? null }
}

function readArtists(details: El | undefined, issues: Issues): ErnArtist[] {
  return sortArtists(
    (details?.all('DisplayArtist') ?? []).map((artist) => {
      const roleEl = artist.one('ArtistRole')
      return {
        name: artist.one('PartyName')?.textOf('FullName') ?? null,
        partyReference: null,
        role: roleEl === undefined ? null : nonEmpty(avsValue(roleEl)),
        sequence: readSequence(artist.attr('SequenceNumber'), artist.attrPath('SequenceNumber'), issues),
      }
    }),
  )
}

function readDisplayArtist(details: El | undefined, artists: ErnArtist[]): string | null {
  const name = details?.textOf('DisplayArtistName') ?? null
  if (name !== null) return name
  const names = artists.map((a) => a.name).filter((n) => n !== null)
  return names.length === 0 ? null : names.join(', ')
}

function readFileUri(file: El): string | null {
  const url = file.textOf('URL')
  if (url !== null) return url
  const name = file.textOf('FileName')
  if (name === null) return null
  return (file.textOf('FilePath') ?? '') + name
}

function readTechnicalDetails(details: El[], issues: Issues): { files: ErnAudioFile[]; preview: ErnPreview | null } {
  const files: ErnAudioFile[] = []
  let preview: ErnPreview | null = null
  let previewFile: string | null = null
  for (const detail of details) {
    const isPreviewFile = isTrue(detail.one('IsPreview'))
    for (const file of detail.some('File')) {
      const uri = readFileUri(file)
      if (uri === null) continue
      if (isPreviewFile) {
        previewFile ??= uri
        continue
      }
      const hash = file.one('HashSum')
      const algorithmEl = hash?.one('HashSumAlgorithmType')
      const algorithm = algorithmEl === undefined ? null : nonEmpty(avsValue(algorithmEl))
      files.push({
        uri,
        codec: detail.textOf('AudioCodecType'),
        hash: readHash(algorithm, hash?.one('HashSum'), issues),
      })
    }
    const previewDetails = detail.one('PreviewDetails')
    if (previewDetails !== undefined && preview === null) preview = readPreviewDetails(previewDetails, issues)
  }
  if (previewFile !== null) preview = { ...(preview ?? { startMs: 0, durationMs: null }), uri: previewFile }
  return { files, preview }
}

function readSoundRecording(sr: El, ref: string, issues: Issues): Omit<ErnSoundRecording, 'trackNumbers'> {
  const idContainers = sr.some('SoundRecordingId')
  let isrc: string | null = null
  for (const container of idContainers) {
    const isrcEl = container.one('ISRC')
    if (isrcEl !== undefined && isrc === null) isrc = readIsrc(isrcEl, issues)
  }
  const details = pickDetails(sr.some('SoundRecordingDetailsByTerritory'), issues)
  const duration = readDuration(sr.one('Duration'), issues)
  const artists = readArtists(details, issues)
  const technical = readTechnicalDetails(details?.some('TechnicalSoundRecordingDetails') ?? [], issues)
  const typeEl = sr.one('SoundRecordingType')
  return {
    reference: ref,
    type: typeEl === undefined ? null : nonEmpty(avsValue(typeEl)),
    isrc,
    proprietaryIds: idContainers.flatMap((c) => readProprietaryIds(c.all('ProprietaryId'))),
    ...readTitle(sr, details),
    displayArtist: readDisplayArtist(details, artists),
    artists,
    duration: duration.text,
    durationMs: duration.ms,
    pLine: readCopyrightLine(details?.one('PLine') ?? sr.one('PLine'), 'PLineText', issues),
    files: technical.files,
    preview: technical.preview,
    related: readRelatedResources(sr, issues),
    supplemental: sr.attr('IsSupplemental') === 'true' || sr.attr('IsSupplemental') === '1',
  }
}

function readRelease(el: El, issues: Issues): ReadRelease & { isMainAttr: string | undefined } {
  const reference = requiredText(el, 'ReleaseReference', issues)
  const details = pickDetails(el.some('ReleaseDetailsByTerritory'), issues)
  const types = [...el.all('ReleaseType'), ...(details?.all('ReleaseType') ?? [])].map(avsValue).filter((t) => t !== '')
  const artists = readArtists(details, issues)
  const genre = details?.one('Genre')
  const groups = details?.all('ResourceGroup') ?? []
  const groupRefs = flattenResourceGroups(groups, issues)
  const listRefs = el.one('ReleaseResourceReferenceList')?.all('ReleaseResourceReference') ?? []
  const duration = readDuration(el.one('Duration'), issues)
  const releaseDate = readReleaseDate(details?.one('ReleaseDate'), issues)
  const globalDate = readReleaseDate(el.one('GlobalReleaseDate'), issues)
  const originalDate = readReleaseDate(details?.one('OriginalReleaseDate'), issues)
  const globalOriginalDate = readReleaseDate(el.one('GlobalOriginalReleaseDate'), issues)
  return {
    release: {
      reference,
      element: 'Release',
      isMain: false,
      ids: readReleaseIds(el.some('ReleaseId'), issues),
      ...readTitle(el, details),
      displayArtist: readDisplayArtist(details, artists),
      artists,
      type: types[0] ?? null,
      types,
      label: details?.textOf('LabelName') ?? null,
      genre: genre?.textOf('GenreText') ?? null,
      subGenre: genre?.textOf('SubGenre') ?? null,
      releaseDate: releaseDate ?? globalDate,
      originalReleaseDate: originalDate ?? globalOriginalDate,
      pLine: readCopyrightLine(el.one('PLine') ?? details?.one('PLine'), 'PLineText', issues),
      cLine: readCopyrightLine(el.one('CLine') ?? details?.one('CLine'), 'CLineText', issues),
      durationMs: duration.ms,
    },
    resourceRefs: groupRefs.length > 0 ? groupRefs : listRefs,
    inheritsFromResource: false,
    isMainAttr: el.attr('IsMainRelease'),
  }
}

/** `IsMainRelease="true"` releases; failing that, the first release that is not a track release. */
function markMain(releases: Array<ReadRelease & { isMainAttr: string | undefined }>): void {
  const flagged = releases.filter((r) => r.isMainAttr === 'true')
  if (flagged.length > 0) {
    for (const r of flagged) r.release.isMain = true
    return
  }
  const candidate =
    releases.find((r) => r.isMainAttr !== 'false' && !r.release.types.includes('TrackRelease')) ?? releases[0]
  if (candidate !== undefined) candidate.release.isMain = true
}

function readDeal(deal: El, releaseRefs: El[], issues: Issues): ReadDeal {
  const terms = deal.one('DealTerms')
  if (
    terms !== undefined &&
    terms.all('TerritoryCode').length === 0 &&
    terms.all('ExcludedTerritoryCode').length === 0
  ) {
    issues.missing(terms, 'TerritoryCode')
  }
  return {
    deal: {
      commercialModels: (terms?.all('CommercialModelType') ?? []).map(avsValue),
      useTypes: (terms?.some('Usage') ?? []).flatMap((usage) => usage.all('UseType').map(avsValue)),
      territories: readTerritories(terms?.all('TerritoryCode') ?? [], issues),
      excludedTerritories: readTerritories(terms?.all('ExcludedTerritoryCode') ?? [], issues),
      periods: (terms?.some('ValidityPeriod') ?? []).map((p) => readPeriod(p, issues)),
      prices: (terms?.all('PriceInformation') ?? []).map((p) => readPrice(p, issues)),
      isPromotional: isTrue(terms?.one('IsPromotional')),
      takedown: isTrue(terms?.one('TakeDown')) || isTrue(terms?.one('AllDealsCancelled')),
    },
    releaseRefs,
  }
}

export function readErn3(ctx: ReaderContext): ReadBody {
  const { root, issues } = ctx
  const resources = new Map<string, string>()
  const soundRecordings: ReadBody['soundRecordings'] = []
  const otherResources: ReadBody['otherResources'] = []
  const resourceList = root.one('ResourceList')
  if (resourceList === undefined) issues.missing(root, 'ResourceList')
  for (const kind of resourceList?.childNames() ?? []) {
    for (const el of resourceList!.all(kind)) {
      const ref = registerResource(resources, el, kind, issues)
      if (ref === null) continue
      if (kind === 'SoundRecording') soundRecordings.push({ recording: readSoundRecording(el, ref, issues), el })
      else otherResources.push(readOtherResource(el, kind, ref, issues))
    }
  }

  const releaseList = root.one('ReleaseList')
  if (releaseList === undefined) issues.missing(root, 'ReleaseList')
  const read = (releaseList?.all('Release') ?? []).map((el) => readRelease(el, issues))
  if (releaseList !== undefined && read.length === 0) issues.missing(releaseList, 'Release')
  markMain(read)
  const releases: ReadRelease[] = read.map(({ isMainAttr: _, ...r }) => r)

  const deals: ReadDeal[] = []
  for (const releaseDeal of root.one('DealList')?.all('ReleaseDeal') ?? []) {
    const refs = releaseDeal.some('DealReleaseReference')
    if (refs.length === 0) issues.missing(releaseDeal, 'DealReleaseReference')
    for (const deal of releaseDeal.all('Deal')) deals.push(readDeal(deal, refs, issues))
  }
  return { releases, soundRecordings, resources, otherResources, otherReleaseRefs: new Set(), deals }
}
