import {
  isCurrency,
  isGrid,
  isIcpn,
  isIsrc,
  isTerritory,
  parseDateOrDateTime,
  parseDateTime,
  parseDecimalAmount,
  parseDuration,
  parseReducedDate,
} from '../../../protocols/identifiers/index.ts'
import type { ErnIssueCode } from './constants.ts'
import type { ErnIssue } from './errors.ts'
import type {
  ErnAmount,
  ErnArtist,
  ErnCopyrightLine,
  ErnPreview,
  ErnPrice,
  ErnRelatedResource,
  ErnReleaseIds,
  ErnValidityPeriod,
} from './model.ts'
import { severityOf } from './policy.ts'
import type { El } from './xml.ts'

/** Readers and checks shared by the ERN 3 and ERN 4 readers. Every check records an issue and carries on. */

const MS_PER_DAY = 86_400_000

export class Issues {
  readonly list: ErnIssue[] = []

  add(code: ErnIssueCode, path: string, value: string, message: string): void {
    this.list.push({ path, value, message, code, severity: severityOf(code, path) })
  }

  /** Records a missing required element. */
  missing(parent: El, name: string): void {
    this.add('required', `${parent.path}/${name}`, '', `${name} is required in ${parent.name}`)
  }
}

/** The text of a required child, or `''` after recording an issue. */
export function requiredText(parent: El, name: string, issues: Issues): string {
  const text = parent.textOf(name)
  if (text === null) {
    issues.missing(parent, name)
    return ''
  }
  return text
}

export function isTrue(el: El | undefined): boolean {
  return el !== undefined && (el.text === 'true' || el.text === '1')
}

/** Among localised variants, the one marked default, else the Worldwide one without a language, else the first. */
export function pickDefault(els: El[]): El | undefined {
  return (
    els.find((el) => el.attr('IsDefault') === 'true') ??
    els.find(
      (el) => el.attr('LanguageAndScriptCode') === undefined && el.attr('ApplicableTerritoryCode') !== undefined,
    ) ??
    els.find((el) => el.attr('LanguageAndScriptCode') === undefined) ??
    els[0]
  )
}

export function nonEmpty(text: string | undefined): string | null {
  return text === undefined || text === '' ? null : text
}

/** A value, or `UserDefined` resolved to its `UserDefinedValue` when the sender gave one. */
export function avsValue(el: El): string {
  const userDefined = el.attr('UserDefinedValue')
  return el.text === 'UserDefined' && userDefined !== undefined && userDefined !== '' ? userDefined : el.text
}

export function readIsrc(el: El | undefined, issues: Issues): string | null {
  if (el === undefined) return null
  const upper = el.text.toUpperCase()
  if (!isIsrc(upper)) {
    issues.add('isrc', el.path, el.text, 'not an ISRC: expected 2 letters, 3 letters or digits, then 7 digits')
    return null
  }
  return upper
}

export function readProprietaryIds(els: El[]): Array<{ namespace: string | null; value: string }> {
  return els.filter((el) => el.text !== '').map((el) => ({ namespace: nonEmpty(el.attr('Namespace')), value: el.text }))
}

/**
 * Reads the identifiers of a release from one or more `ReleaseId` composites. A GRid that fails its check is kept as
 * written (a warning: the sender still uses it to name the release in updates and takedowns); a bad ICPN is left
 * out.
 */
export function readReleaseIds(containers: El[], issues: Issues): ErnReleaseIds {
  const ids: ErnReleaseIds = { icpn: null, grid: null, isrc: null, catalogNumbers: [], proprietaryIds: [] }
  for (const container of containers) {
    const grid = container.one('GRid')
    if (grid !== undefined && ids.grid === null) {
      if (!isGrid(grid.text)) {
        issues.add(
          'grid',
          grid.path,
          grid.text,
          'not a GRid: expected A1 + 16 letters or digits with a valid ISO 7064 MOD 37,36 check character',
        )
      }
      ids.grid = grid.text
    }
    const icpn = container.one('ICPN')
    if (icpn !== undefined && ids.icpn === null) {
      if (isIcpn(icpn.text)) ids.icpn = icpn.text
      else
        issues.add(
          'icpn',
          icpn.path,
          icpn.text,
          'not an ICPN: expected 12 (UPC), 13 (EAN) or 14 digits with a valid check digit',
        )
    }
    const isrc = container.one('ISRC')
    if (isrc !== undefined && ids.isrc === null) ids.isrc = readIsrc(isrc, issues)
    ids.catalogNumbers.push(...readProprietaryIds(container.all('CatalogNumber')))
    ids.proprietaryIds.push(...readProprietaryIds(container.all('ProprietaryId')))
  }
  return ids
}

/** Reads territory codes, refusing anything but ISO 3166-1 alpha-2 codes and `Worldwide`. */
export function readTerritories(els: El[], issues: Issues): string[] {
  const out: string[] = []
  for (const el of els) {
    const scheme = el.attr('IdentifierType')
    if (scheme !== undefined && scheme !== 'ISO') {
      issues.add(
        'territory',
        el.attrPath('IdentifierType'),
        scheme,
        `territory code scheme ${scheme} is not supported: only ISO 3166-1 alpha-2 codes and Worldwide`,
      )
    } else if (!isTerritory(el.text)) {
      issues.add('territory', el.path, el.text, 'not a territory: expected an ISO 3166-1 alpha-2 code or Worldwide')
    } else {
      out.push(el.text)
    }
  }
  return out
}

export function readDuration(el: El | undefined, issues: Issues): { text: string | null; ms: number | null } {
  if (el === undefined || el.text === '') return { text: null, ms: null }
  try {
    return { text: el.text, ms: parseDuration(el.text) }
  } catch (err) {
    issues.add('duration', el.path, el.text, (err as Error).message)
    return { text: el.text, ms: null }
  }
}

/** A clip's start point: a non-negative number of seconds (xs:decimal). */
export function readSeconds(el: El | undefined, issues: Issues): number | null {
  if (el === undefined || el.text === '') return null
  if (!/^[0-9]{1,9}(\.[0-9]+)?$/.test(el.text)) {
    issues.add('number', el.path, el.text, 'expected a non-negative number of seconds, such as 30 or 45.0')
    return null
  }
  return Math.round(Number(el.text) * 1000)
}

/** A release date as DDEX writes it (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`). */
export function readReleaseDate(el: El | undefined, issues: Issues): string | null {
  if (el === undefined || el.text === '') return null
  try {
    parseReducedDate(el.text)
    return el.text
  } catch (err) {
    issues.add('date', el.path, el.text, (err as Error).message)
    return null
  }
}

export function readDateTime(el: El | undefined, issues: Issues): number | null {
  if (el === undefined) return null
  try {
    return parseDateTime(el.text)
  } catch (err) {
    issues.add('date', el.path, el.text, (err as Error).message)
    return null
  }
}

function readPeriodEnd(el: El, issues: Issues): { text: string; startMs: number | null; endMs: number | null } {
  try {
    const parsed = parseDateOrDateTime(el.text)
    return { text: el.text, startMs: parsed.ms, endMs: parsed.kind === 'date' ? parsed.ms + MS_PER_DAY : parsed.ms }
  } catch (err) {
    issues.add('date', el.path, el.text, (err as Error).message)
    return { text: el.text, startMs: null, endMs: null }
  }
}

/** A `ValidityPeriod`: `StartDate`/`StartDateTime` and `EndDate`/`EndDateTime`, the end not before the start. */
export function readPeriod(el: El, issues: Issues): ErnValidityPeriod {
  const startEl = el.one('StartDateTime') ?? el.one('StartDate')
  const endEl = el.one('EndDateTime') ?? el.one('EndDate')
  const start = startEl === undefined ? null : readPeriodEnd(startEl, issues)
  const end = endEl === undefined ? null : readPeriodEnd(endEl, issues)
  const period: ErnValidityPeriod = {
    start: start?.text ?? null,
    startMs: start?.startMs ?? null,
    end: end?.text ?? null,
    endMs: end?.endMs ?? null,
  }
  if (period.startMs !== null && period.endMs !== null && period.endMs <= period.startMs) {
    issues.add('period', endEl!.path, endEl!.text, `the period ends before it starts (${period.start})`)
  }
  return period
}

function readAmount(el: El | undefined, issues: Issues): ErnAmount | null {
  if (el === undefined) return null
  const currency = el.attr('CurrencyCode') ?? ''
  let ok = true
  if (!isCurrency(currency)) {
    issues.add('currency', el.attrPath('CurrencyCode'), currency, 'not an active ISO 4217 currency code')
    ok = false
  }
  if (!/^-?[0-9]*(\.[0-9]*)?$/.test(el.text) || el.text === '') {
    issues.add('amount', el.path, el.text, 'not a decimal amount')
    return null
  }
  if (el.text.startsWith('-')) {
    issues.add('amount', el.path, el.text, 'prices cannot be negative')
    return null
  }
  if (!ok) return null
  try {
    return { currency, amount: el.text, minorUnits: parseDecimalAmount(el.text, currency) }
  } catch (err) {
    issues.add('amount', el.path, el.text, (err as Error).message)
    return null
  }
}

/** A `PriceInformation` composite: wholesale price per unit, suggested retail price, price type and tier. */
export function readPrice(el: El, issues: Issues): ErnPrice {
  const wholesaleEl = el.one('WholesalePricePerUnit')
  const wholesale = readAmount(wholesaleEl, issues)
  const suggestedRetail = readAmount(el.one('SuggestedRetailPrice'), issues)
  const priceTypeEl = el.one('PriceType')
  const priceCodeEl = el.one('PriceCode') ?? el.one('PriceRangeType')
  return {
    currency: wholesale?.currency ?? nonEmpty(wholesaleEl?.attr('CurrencyCode')),
    wholesale: wholesaleEl === undefined ? null : wholesaleEl.text,
    wholesaleMinorUnits: wholesale?.minorUnits ?? null,
    suggestedRetail,
    priceType: nonEmpty(el.attr('PriceType')) ?? (priceTypeEl === undefined ? null : nonEmpty(avsValue(priceTypeEl))),
    priceCode: priceCodeEl === undefined ? null : nonEmpty(priceCodeEl.text),
  }
}

export function readCopyrightLine(
  el: El | undefined,
  textName: 'PLineText' | 'CLineText',
  issues: Issues,
): ErnCopyrightLine | null {
  if (el === undefined) return null
  const yearEl = el.one('Year')
  let year: number | null = null
  if (yearEl !== undefined) {
    if (/^[0-9]{4}$/.test(yearEl.text)) year = Number(yearEl.text)
    else issues.add('number', yearEl.path, yearEl.text, 'expected a four-digit year')
  }
  const text = el.textOf(textName)
  if (text === null) return year === null ? null : { year, text: '' }
  return { year, text }
}

export function readSequence(text: string | undefined, path: string, issues: Issues): number | null {
  if (text === undefined || text === '') return null
  if (!/^-?[0-9]{1,15}$/.test(text)) {
    issues.add('number', path, text, 'expected an integer sequence number')
    return null
  }
  return Number(text)
}

/** Sorts elements by their `SequenceNumber` (element or attribute), keeping document order for ties and gaps. */
export function bySequence<T extends { sequence: number | null; index: number }>(items: T[]): T[] {
  return [...items].sort((a, b) => {
    if (a.sequence !== null && b.sequence !== null && a.sequence !== b.sequence) return a.sequence - b.sequence
    return a.index - b.index
  })
}

export function sortArtists(artists: ErnArtist[]): ErnArtist[] {
  return bySequence(artists.map((artist, index) => ({ ...artist, index }))).map(({ index: _, ...artist }) => artist)
}

/** Resources can nest this deep in resource groups before the message is refused (ERN uses two or three levels). */
const MAX_GROUP_DEPTH = 16

/**
 * Flattens resource groups into the `ReleaseResourceReference` elements of their content items, in playing order:
 * at each level, sub-groups and content items are sorted by their `SequenceNumber` (document order where absent).
 */
export function flattenResourceGroups(groups: El[], issues: Issues, depth = 0): El[] {
  if (depth > MAX_GROUP_DEPTH) {
    issues.add('required', groups[0]?.path ?? '', '', `resource groups nest deeper than ${MAX_GROUP_DEPTH} levels`)
    return []
  }
  const entries: Array<{ sequence: number | null; index: number; refs: () => El[] }> = []
  for (const [i, group] of groups.entries()) {
    const seqEl = group.one('SequenceNumber')
    entries.push({
      sequence: readSequence(seqEl?.text, seqEl?.path ?? '', issues),
      index: i,
      refs: () => [
        ...flattenResourceGroups(group.all('ResourceGroup'), issues, depth + 1),
        ...flattenContentItems(group.all('ResourceGroupContentItem'), issues),
      ],
    })
  }
  return bySequence(entries).flatMap((entry) => entry.refs())
}

function flattenContentItems(items: El[], issues: Issues): El[] {
  const entries = items.map((item, index) => {
    const seqEl = item.one('SequenceNumber')
    return { sequence: readSequence(seqEl?.text, seqEl?.path ?? '', issues), index, item }
  })
  return bySequence(entries).flatMap(({ item }) => item.some('ReleaseResourceReference'))
}

/** Hex digits of the digests DDEX deliveries use; other algorithms are kept unchecked (publishing says so). */
const DIGEST_HEX_LENGTH: Record<string, number> = { MD5: 32, SHA1: 40, 'SHA-1': 40, SHA256: 64, 'SHA-256': 64 }

/**
 * A delivered file's `HashSum`: its algorithm and value as written. A value that cannot be a digest of the named
 * algorithm (wrong length, not hex) is an issue: the delivered file could never be checked against it.
 */
export function readHash(
  algorithmText: string | null,
  valueEl: El | undefined,
  issues: Issues,
): { algorithm: string; value: string } | null {
  if (algorithmText === null || valueEl === undefined || valueEl.text === '') return null
  const length = DIGEST_HEX_LENGTH[algorithmText.toUpperCase()]
  if (length !== undefined && !new RegExp(`^[0-9a-fA-F]{${length}}$`).test(valueEl.text)) {
    issues.add(
      'hash',
      valueEl.path,
      valueEl.text,
      `not an ${algorithmText} digest: expected ${length} hexadecimal digits, found ${valueEl.text.length} characters`,
    )
    return null
  }
  return { algorithm: algorithmText, value: valueEl.text }
}

/**
 * A `PreviewDetails` (ERN 3, ERN 4.1 and 4.2): `StartPoint` and `EndPoint` in seconds, `Duration` an ISO 8601
 * duration. A zero duration (senders write `PT0S` for "not stated") counts as not given.
 */
export function readPreviewDetails(el: El, issues: Issues): ErnPreview {
  const startMs = readSeconds(el.one('StartPoint'), issues) ?? 0
  const endMs = readSeconds(el.one('EndPoint'), issues)
  const duration = readDuration(el.one('Duration'), issues)
  const stated = duration.ms === null || duration.ms === 0 ? null : duration.ms
  return { startMs, durationMs: stated ?? (endMs !== null && endMs > startMs ? endMs - startMs : null), uri: null }
}

/** A point in a resource: an ISO 8601 duration (`PT1M16S`, ERN 4 `Timing`) or a number of seconds (ERN 3). */
function readOffset(el: El | undefined, issues: Issues): number | null {
  if (el === undefined || el.text === '') return null
  return el.text.startsWith('P') ? readDuration(el, issues).ms : readSeconds(el, issues)
}

/**
 * The resources a recording draws on: ERN 4 `RelatedResource` (`ResourceRelatedResourceReference`, its
 * relationship, `Timing`), ERN 3 `ResourceContainedResourceReferenceList`. A DJ mix lists each recording it plays.
 */
export function readRelatedResources(resource: El, issues: Issues): ErnRelatedResource[] {
  const out: ErnRelatedResource[] = []
  for (const el of resource.all('RelatedResource')) {
    const reference = el.textOf('ResourceRelatedResourceReference')
    if (reference === null) continue
    const timing = el.one('Timing')
    out.push({
      reference,
      relationship: nonEmpty(el.one('ResourceRelationshipType')?.text),
      startMs: readOffset(timing?.one('StartPoint'), issues),
      durationMs: readOffset(timing?.one('DurationUsed'), issues),
    })
  }
  const contained = resource.one('ResourceContainedResourceReferenceList')?.all('ResourceContainedResourceReference')
  for (const el of contained ?? []) {
    const reference = el.textOf('ResourceContainedResourceReference')
    if (reference === null) continue
    out.push({
      reference,
      relationship: 'HasContentFrom',
      startMs: readOffset(el.one('StartPoint'), issues),
      durationMs: readOffset(el.one('DurationUsed'), issues),
    })
  }
  return out
}
