import {
  avsValue,
  flattenResourceGroups,
  type Issues,
  isTrue,
  nonEmpty,
  pickDefault,
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
  readSeconds,
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
 * ERN 4.x (4.1 to 4.3.2): flat release and resource composites, parties in a `PartyList` referred to by reference,
 * localised variants marked with `ApplicableTerritoryCode` / `LanguageAndScriptCode` / `IsDefault` attributes,
 * sound recording identifiers and technical details in `SoundRecordingEdition` (4.3; directly in the recording
 * before), and no takedown element: a takedown is a deal whose validity has ended.
 */

type Parties = Map<string, string | null>

function readParties(root: El): Parties {
  const parties: Parties = new Map()
  for (const party of root.one('PartyList')?.all('Party') ?? []) {
    const ref = party.textOf('PartyReference')
    if (ref === null) continue
    parties.set(ref, pickDefault(party.all('PartyName'))?.textOf('FullName') ?? null)
  }
  return parties
}

function readTitle(el: El): { title: string | null; subtitle: string | null } {
  const text = pickDefault(el.all('DisplayTitleText'))
  const display = pickDefault(el.all('DisplayTitle'))
  return {
    title: nonEmpty(text?.text) ?? display?.textOf('TitleText') ?? null,
    subtitle: display?.textOf('SubTitle') ?? null,
  }
}

function readArtists(el: El, parties: Parties, issues: Issues): ErnArtist[] {
  return sortArtists(
    el.all('DisplayArtist').map((artist) => {
      const ref = artist.textOf('ArtistPartyReference')
      if (ref !== null && !parties.has(ref)) {
        issues.add(
          'reference',
          artist.one('ArtistPartyReference')!.path,
          ref,
          `no Party with PartyReference ${ref} in the PartyList`,
        )
      }
      const roleEl = artist.one('DisplayArtistRole')
      return {
        name: ref === null ? null : (parties.get(ref) ?? null),
        partyReference: ref,
        role: roleEl === undefined ? null : nonEmpty(avsValue(roleEl)),
        sequence: readSequence(artist.attr('SequenceNumber'), artist.attrPath('SequenceNumber'), issues),
      }
    }),
  )
}

function readGenre(el: El): { genre: string | null; subGenre: string | null } {
  const genre = pickDefault([...el.all('Genre'), ...el.all('DisplayGenre')])
  return { genre: genre?.textOf('GenreText') ?? null, subGenre: genre?.textOf('SubGenre') ?? null }
}

function readLabel(el: El, parties: Parties, issues: Issues): string | null {
  const ref = pickDefault(el.all('ReleaseLabelReference'))
  if (ref === undefined || ref.text === '') return null
  if (!parties.has(ref.text)) {
    issues.add('reference', ref.path, ref.text, `no Party with PartyReference ${ref.text} in the PartyList`)
    return null
  }
  return parties.get(ref.text) ?? null
}

function readFile(file: El | undefined): string | null {
  if (file === undefined) return null
  const uri = file.textOf('URI') ?? file.textOf('URL')
  if (uri !== null) return uri
  const name = file.textOf('FileName')
  if (name === null) return null
  return (file.textOf('FilePath') ?? '') + name
}

function audioFile(file: El | undefined, codec: string | null, issues: Issues): ErnAudioFile | null {
  const uri = readFile(file)
  if (uri === null) return null
  const hash = file?.one('HashSum')
  const algorithm = hash?.textOf('Algorithm') ?? hash?.textOf('HashSumAlgorithmType') ?? null
  return { uri, codec, hash: readHash(algorithm, hash?.one('HashSumValue') ?? hash?.one('HashSum'), issues) }
}

/**
 * The audio files and the preview of a recording's `TechnicalDetails`. ERN 4.3 wraps each file in a `DeliveryFile`
 * and describes previews in `ClipDetails`; ERN 4.1 and 4.2 put the `File` in the details themselves, next to
 * `IsPreview`/`IsClip` and a `PreviewDetails` as ERN 3 has it.
 */
function readTechnicalDetails(details: El[], issues: Issues): { files: ErnAudioFile[]; preview: ErnPreview | null } {
  const files: ErnAudioFile[] = []
  let preview: ErnPreview | null = null
  let previewFile: string | null = null
  for (const detail of details) {
    for (const delivery of detail.some('DeliveryFile')) {
      const type = delivery.textOf('Type')
      if (type !== null && type !== 'AudioFile') continue
      const file = audioFile(delivery.one('File'), delivery.textOf('AudioCodecType'), issues)
      if (file !== null) files.push(file)
    }
    const isPreviewFile = isTrue(detail.one('IsPreview')) || isTrue(detail.one('IsClip'))
    for (const el of detail.some('File')) {
      const file = audioFile(el, detail.textOf('AudioCodecType'), issues)
      if (file === null) continue
      if (isPreviewFile) previewFile ??= file.uri
      else files.push(file)
    }
    const previewDetails = detail.one('PreviewDetails')
    if (previewDetails !== undefined && preview === null) preview = readPreviewDetails(previewDetails, issues)
    for (const clip of detail.some('ClipDetails')) {
      const clipType = clip.textOf('ClipType')
      if (preview !== null || (clipType !== null && clipType !== 'Preview')) continue
      const timing = clip.one('Timing')
      const startMs = readSeconds(timing?.one('StartPoint'), issues) ?? 0
      const duration = readDuration(timing?.one('DurationUsed') ?? timing?.one('Duration'), issues)
      const endMs = readSeconds(timing?.one('EndPoint'), issues)
      // Senders write PT0S for "not stated"; a zero-length preview is no preview.
      const stated = duration.ms === 0 ? null : duration.ms
      preview = {
        startMs,
        durationMs: stated ?? (endMs !== null && endMs > startMs ? endMs - startMs : null),
        uri: readFile(clip.one('DeliveryFile')?.one('File')),
      }
    }
  }
  if (previewFile !== null) preview = { ...(preview ?? { startMs: 0, durationMs: null }), uri: previewFile }
  return { files, preview }
}

function readSoundRecording(
  sr: El,
  ref: string,
  parties: Parties,
  issues: Issues,
): Omit<ErnSoundRecording, 'trackNumbers'> {
  const editions = sr.some('SoundRecordingEdition')
  const edition =
    editions.find((e) => {
      const type = e.textOf('Type')
      return type === null || type === 'NonImmersiveEdition'
    }) ?? editions[0]
  const idContainers = [
    ...(edition?.some('ResourceId') ?? []),
    ...sr.some('ResourceId'),
    ...sr.some('SoundRecordingId'),
  ]
  let isrc: string | null = null
  for (const container of idContainers) {
    const isrcEl = container.one('ISRC')
    if (isrcEl !== undefined && isrc === null) isrc = readIsrc(isrcEl, issues)
  }
  const duration = readDuration(sr.one('Duration'), issues)
  const pLineEl = edition?.one('PLine') ?? sr.one('PLine')
  const technical = readTechnicalDetails(
    [...(edition?.some('TechnicalDetails') ?? []), ...sr.some('TechnicalDetails')],
    issues,
  )
  const typeEl = sr.one('Type')
  return {
    reference: ref,
    type: typeEl === undefined ? null : nonEmpty(avsValue(typeEl)),
    isrc,
    proprietaryIds: idContainers.flatMap((c) => readProprietaryIds(c.all('ProprietaryId'))),
    ...readTitle(sr),
    displayArtist: nonEmpty(pickDefault(sr.all('DisplayArtistName'))?.text),
    artists: readArtists(sr, parties, issues),
    duration: duration.text,
    durationMs: duration.ms,
    pLine: readCopyrightLine(pLineEl, 'PLineText', issues),
    files: technical.files,
    preview: technical.preview,
    related: readRelatedResources(sr, issues),
    supplemental: sr.attr('IsSupplemental') === 'true' || sr.attr('IsSupplemental') === '1',
  }
}

function readRelease(el: El, element: 'Release' | 'TrackRelease', parties: Parties, issues: Issues): ReadRelease {
  const reference = requiredText(el, 'ReleaseReference', issues)
  const types = el
    .all('ReleaseType')
    .map(avsValue)
    .filter((t) => t !== '')
  if (element === 'TrackRelease' && types.length === 0) types.push('TrackRelease')
  const releaseDateEl = pickDefault(el.all('ReleaseDate'))
  const originalDateEl = pickDefault(el.all('OriginalReleaseDate'))
  const duration = readDuration(el.one('Duration'), issues)
  const resourceRefs =
    element === 'TrackRelease'
      ? el.some('ReleaseResourceReference')
      : flattenResourceGroups(el.all('ResourceGroup'), issues)
  if (element === 'TrackRelease' && resourceRefs.length === 0) issues.missing(el, 'ReleaseResourceReference')
  const title = readTitle(el)
  const displayArtist = nonEmpty(pickDefault(el.all('DisplayArtistName'))?.text)
  return {
    release: {
      reference,
      element,
      isMain: element === 'Release',
      ids: readReleaseIds(el.some('ReleaseId'), issues),
      ...title,
      displayArtist,
      artists: readArtists(el, parties, issues),
      type: types[0] ?? null,
      types,
      label: readLabel(el, parties, issues),
      ...readGenre(el),
      releaseDate: readReleaseDate(releaseDateEl, issues),
      originalReleaseDate: readReleaseDate(originalDateEl, issues),
      pLine: readCopyrightLine(el.one('PLine'), 'PLineText', issues),
      cLine: readCopyrightLine(el.one('CLine'), 'CLineText', issues),
      durationMs: duration.ms,
    },
    resourceRefs,
    inheritsFromResource: element === 'TrackRelease',
  }
}

function readDeal(deal: El, releaseRefs: El[], createdAtMs: number | null, issues: Issues): ReadDeal {
  const terms = deal.one('DealTerms')
  const periods = (terms?.some('ValidityPeriod') ?? []).map((p) => readPeriod(p, issues))
  const territories = readTerritories(terms?.all('TerritoryCode') ?? [], issues)
  const excludedTerritories = readTerritories(terms?.all('ExcludedTerritoryCode') ?? [], issues)
  if (
    terms !== undefined &&
    terms.all('TerritoryCode').length === 0 &&
    terms.all('ExcludedTerritoryCode').length === 0
  ) {
    issues.missing(terms, 'TerritoryCode')
  }
  const ended =
    createdAtMs !== null && periods.length > 0 && periods.every((p) => p.endMs !== null && p.endMs <= createdAtMs)
  return {
    deal: {
      commercialModels: (terms?.all('CommercialModelType') ?? []).map(avsValue),
      useTypes: (terms?.all('UseType') ?? []).map(avsValue),
      territories,
      excludedTerritories,
      periods,
      prices: (terms?.all('PriceInformation') ?? []).map((p) => readPrice(p, issues)),
      isPromotional: isTrue(terms?.one('IsPromotional')),
      takedown: ended,
    },
    releaseRefs,
  }
}

export function readErn4(ctx: ReaderContext): ReadBody {
  const { root, issues } = ctx
  const parties = readParties(root)
  const resources = new Map<string, string>()
  const soundRecordings: ReadBody['soundRecordings'] = []
  const otherResources: ReadBody['otherResources'] = []
  const resourceList = root.one('ResourceList')
  if (resourceList === undefined) issues.missing(root, 'ResourceList')
  for (const kind of resourceList?.childNames() ?? []) {
    for (const el of resourceList!.all(kind)) {
      const ref = registerResource(resources, el, kind, issues)
      if (ref === null) continue
      if (kind === 'SoundRecording')
        soundRecordings.push({ recording: readSoundRecording(el, ref, parties, issues), el })
      else otherResources.push(readOtherResource(el, kind, ref, issues))
    }
  }

  const releaseList = root.one('ReleaseList')
  if (releaseList === undefined) issues.missing(root, 'ReleaseList')
  const releases: ReadRelease[] = [
    ...(releaseList?.all('Release') ?? []).map((el) => readRelease(el, 'Release', parties, issues)),
    ...(releaseList?.all('TrackRelease') ?? []).map((el) => readRelease(el, 'TrackRelease', parties, issues)),
  ]
  if (releaseList !== undefined && releases.length === 0) issues.missing(releaseList, 'Release')
  const otherReleaseRefs = new Set(
    (releaseList?.all('ClipRelease') ?? []).map((el) => el.textOf('ReleaseReference')).filter((r) => r !== null),
  )

  const deals: ReadDeal[] = []
  for (const releaseDeal of root.one('DealList')?.all('ReleaseDeal') ?? []) {
    const refs = releaseDeal.some('DealReleaseReference')
    if (refs.length === 0) issues.missing(releaseDeal, 'DealReleaseReference')
    for (const deal of releaseDeal.all('Deal')) deals.push(readDeal(deal, refs, ctx.createdAtMs, issues))
  }
  return { releases, soundRecordings, resources, otherResources, otherReleaseRefs, deals }
}
