import path from 'node:path'
import { isGrid, isIcpn, isTerritory, parseDecimalAmount } from '../../protocols/identifiers/index.ts'
import type { CommercialModel, UseType } from '../../protocols/records/types/common.ts'
import { classifyErn, type ErnDeal, type ErnMessage, type ErnRelease, releaseKeys } from './ddex/index.ts'
import type { ImportIssue } from './errors.ts'
import type { DealPlan, ImportPlan, ReleasePlan, TrackPlan, WholesaleTerm } from './plan.ts'

/**
 * ERN message → import plan. The mapping of each field is in README.md; the choices DDEX leaves open are in
 * docs/decisions/0101-ern-deals-to-contracts.md.
 */

/** DDEX commercial models Consort sells under, in its own vocabulary. */
export const COMMERCIAL_MODEL_MAP: Record<string, CommercialModel> = {
  PayAsYouGoModel: 'pay-as-you-go',
  SubscriptionModel: 'subscription',
  AdvertisementSupportedModel: 'ad-supported',
  FreeOfChargeModel: 'free',
}

/** DDEX use types → Consort's. `Stream` and `Download` are DDEX's umbrella terms. */
export const USE_TYPE_MAP: Record<string, readonly UseType[]> = {
  PermanentDownload: ['PermanentDownload'],
  ConditionalDownload: ['ConditionalDownload'],
  TetheredDownload: ['TetheredDownload'],
  OnDemandStream: ['OnDemandStream'],
  NonInteractiveStream: ['NonInteractiveStream'],
  Stream: ['OnDemandStream', 'NonInteractiveStream'],
  Download: ['PermanentDownload'],
}

const STREAM_USES: readonly UseType[] = ['OnDemandStream', 'NonInteractiveStream']

/** A price tier (DDEX `PriceCode` / `PriceRangeType`) as wholesale prices, from the node's configuration. */
export type PriceTiers = Record<string, ReadonlyArray<{ currency: string; amount: string; per?: 'unit' | 'play' }>>

export interface ErnPlanOptions {
  /** Directory the message's file URIs are relative to. */
  audioDir: string | null
  synthesizeMissing: boolean
  /** Whether a release was delivered before, by any of its keys (for new / update / takedown). */
  isKnown(key: string): boolean
  priceTiers?: PriceTiers
  /** Share of subscription and ad-supported revenue paid to the distributor, when a deal carries no price. */
  revenueShareBps?: number | null
  /** Key of the party the splits pay when it is this node (the label runs its own production node). */
  labelKey?: Uint8Array | null
}

function joinArtists(names: Array<string | null>, display: string | null): string[] {
  const list = names.filter((n): n is string => n != null && n.trim() !== '')
  if (list.length > 0) return [...new Set(list)]
  return display == null || display.trim() === '' ? [] : [display]
}

function yearOf(...dates: Array<string | null | undefined>): number | null {
  for (const date of dates) {
    const year = date == null ? Number.NaN : Number.parseInt(date.slice(0, 4), 10)
    if (Number.isInteger(year) && year >= 1800 && year <= 9999) return year
  }
  return null
}

/** Resolve a file URI against the audio directory; refuse what would escape it or is not a local file. */
export function resolveAudioPath(
  uri: string,
  audioDir: string | null,
  where: string,
  issues: ImportIssue[],
): string | null {
  let relative = uri
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) {
    if (!uri.startsWith('file:')) {
      issues.push({ path: where, value: uri, message: 'only local files are read (no remote URIs)' })
      return null
    }
    relative = decodeURIComponent(uri.replace(/^file:(\/\/)?/, ''))
  }
  if (audioDir == null) {
    issues.push({ path: where, value: uri, message: 'no audio directory given (--audio DIR)' })
    return null
  }
  const root = path.resolve(audioDir)
  const resolved = path.resolve(root, relative.replace(/^\/+/, ''))
  if (resolved !== root && !resolved.startsWith(root + path.sep)) {
    issues.push({ path: where, value: uri, message: `points outside the audio directory ${root}` })
    return null
  }
  return resolved
}

function priceTerms(
  deal: ErnDeal,
  uses: UseType[],
  where: string,
  options: ErnPlanOptions,
  issues: ImportIssue[],
  warnings: ImportIssue[],
): WholesaleTerm[] {
  // A per-unit wholesale price on a deal that only streams is a price per stream.
  const per = uses.every((u) => STREAM_USES.includes(u)) ? 'play' : 'unit'
  const terms: WholesaleTerm[] = []
  deal.prices.forEach((price, i) => {
    const at = `${where}/PriceInformation[${i + 1}]`
    if (price.currency != null && price.wholesaleMinorUnits != null) {
      terms.push({ currency: price.currency, amount: price.wholesaleMinorUnits, per })
      return
    }
    const tier = price.priceCode == null ? undefined : options.priceTiers?.[price.priceCode]
    if (tier == null) {
      if (price.priceCode != null) {
        warnings.push({
          path: at,
          value: price.priceCode,
          message: 'price tier not configured on this node (priceTiers): no wholesale price taken from it',
        })
      }
      return
    }
    for (const entry of tier) {
      try {
        terms.push({
          currency: entry.currency,
          amount: parseDecimalAmount(entry.amount, entry.currency),
          per: entry.per ?? per,
        })
      } catch (err) {
        issues.push({ path: `priceTiers.${price.priceCode}`, value: entry.amount, message: (err as Error).message })
      }
    }
  })
  // One price per currency and unit: the first given wins.
  const seen = new Set<string>()
  return terms.filter((t) => {
    const key = `${t.currency}/${t.per}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** The deals that concern `main` (naming it or one of its track releases), each with its content. */
function dealsOf(
  message: ErnMessage,
  main: ErnRelease,
  isrcOf: Map<string, string | null>,
  byReference: Map<string, ErnRelease>,
): Array<{ deal: ErnDeal; index: number; content: string[]; wholeRelease: boolean }> {
  const tracks = new Set(main.trackReferences)
  const out: Array<{ deal: ErnDeal; index: number; content: string[]; wholeRelease: boolean }> = []
  message.deals.forEach((deal, index) => {
    let wholeRelease = false
    const content: string[] = []
    for (const ref of deal.releaseReferences) {
      if (ref === main.reference) {
        wholeRelease = true
        continue
      }
      const release = byReference.get(ref)
      if (release == null || release.isMain) continue
      if (!release.trackReferences.every((t) => tracks.has(t))) continue
      for (const t of release.trackReferences) {
        const isrc = isrcOf.get(t)
        if (isrc != null) content.push(`isrc:${isrc}`)
      }
    }
    if (wholeRelease || content.length > 0) out.push({ deal, index, content: [...new Set(content)], wholeRelease })
  })
  return out
}

function dealPlans(
  message: ErnMessage,
  main: ErnRelease,
  isrcOf: Map<string, string | null>,
  byReference: Map<string, ErnRelease>,
  options: ErnPlanOptions,
  issues: ImportIssue[],
  warnings: ImportIssue[],
): DealPlan[] {
  const party = message.sender.partyId ?? message.sender.name ?? 'label'
  const plans: DealPlan[] = []
  for (const { deal, index, content, wholeRelease } of dealsOf(message, main, isrcOf, byReference)) {
    const where = `/DealList/Deal[${index + 1}]`
    if (deal.takedown) continue
    const uses = [...new Set(deal.useTypes.flatMap((u) => USE_TYPE_MAP[u] ?? []))]
    const unknownUses = deal.useTypes.filter((u) => USE_TYPE_MAP[u] == null)
    if (unknownUses.length > 0) {
      warnings.push({
        path: `${where}/UseType`,
        value: unknownUses.join(','),
        message: 'use types Consort does not sell: left out',
      })
    }
    if (uses.length === 0) {
      warnings.push({ path: where, value: deal.useTypes.join(','), message: 'no use type Consort sells: no contract' })
      continue
    }
    const territories = deal.territories.filter((t) => isTerritory(t))
    if (territories.length === 0) {
      warnings.push({
        path: `${where}/TerritoryCode`,
        value: deal.territories.join(','),
        message: 'no territory: no contract',
      })
      continue
    }
    const period = deal.periods[0]
    if (deal.periods.length > 1) {
      warnings.push({
        path: `${where}/ValidityPeriod`,
        value: String(deal.periods.length),
        message: 'only the first validity period is used',
      })
    }
    const validFrom = period?.startMs ?? message.createdAtMs
    const validUntil = period?.endMs ?? null
    const wholesale = priceTerms(deal, uses, where, options, issues, warnings)
    const models = deal.commercialModels.length > 0 ? deal.commercialModels : ['PayAsYouGoModel']
    for (const ddexModel of models) {
      const model = COMMERCIAL_MODEL_MAP[ddexModel]
      if (model == null) {
        warnings.push({
          path: `${where}/CommercialModelType`,
          value: ddexModel,
          message: 'commercial model Consort does not sell: no contract',
        })
        continue
      }
      if (model === 'pay-as-you-go' && wholesale.length === 0) {
        warnings.push({
          path: where,
          value: ddexModel,
          message:
            'a pay-as-you-go deal without a wholesale price (none in the message, no configured price tier): no contract',
        })
        continue
      }
      plans.push({
        path: where,
        localId: `deal-${index + 1}-${model}`,
        content,
        wholeRelease,
        commercialModel: model,
        useTypes: uses,
        territories,
        excludedTerritories: deal.excludedTerritories.filter((t) => isTerritory(t) && t !== 'Worldwide'),
        validFrom,
        validUntil,
        wholesale: model === 'free' ? [] : wholesale,
        revenueShareBps:
          model === 'subscription' || model === 'ad-supported' ? (options.revenueShareBps ?? null) : null,
        promotions: {
          minPrice: [],
          freeWindows: deal.isPromotional && validUntil != null ? [{ from: validFrom, until: validUntil }] : [],
        },
        ruleBounds: {},
        splits: [{ party: party.slice(0, 128), key: options.labelKey ?? null, bps: 10_000 }],
        retailer: null,
      })
    }
  }
  return plans
}

function trackPlan(
  message: ErnMessage,
  ref: string,
  main: ErnRelease,
  options: ErnPlanOptions,
  issues: ImportIssue[],
): TrackPlan {
  const recording = message.soundRecordings.find((s) => s.reference === ref)!
  const where = `/ResourceList/SoundRecording[${ref}]`
  const file = recording.files[0]
  let audioPath: string | null = null
  if (file != null) audioPath = resolveAudioPath(file.uri, options.audioDir, `${where}/File`, issues)
  else if (!options.synthesizeMissing)
    issues.push({ path: `${where}/File`, value: '', message: 'the recording names no audio file' })
  return {
    path: where,
    isrc: recording.isrc,
    title: recording.title,
    version: recording.subtitle,
    artists: joinArtists(
      recording.artists.map((a) => a.name),
      recording.displayArtist ?? main.displayArtist,
    ),
    genre: main.genre,
    label: main.label,
    year: yearOf(recording.pLine?.year?.toString(), main.releaseDate, main.originalReleaseDate),
    statedDurationMs: recording.durationMs,
    audio: { uri: file?.uri ?? null, path: audioPath, hash: file?.hash ?? null },
    preview:
      recording.preview == null
        ? null
        : { startMs: recording.preview.startMs, durationMs: recording.preview.durationMs },
  }
}

/**
 * Turn a parsed ERN message into an import plan: one release plan per main release (per purged release of a
 * `PurgeReleaseMessage`), classified as new, update or takedown against what this node published before.
 */
export function planFromErn(message: ErnMessage, options: ErnPlanOptions): ImportPlan {
  const issues: ImportIssue[] = []
  const warnings: ImportIssue[] = message.warnings.map((w) => ({
    path: w.path,
    value: w.value,
    message: `ERN warning (${w.code}): ${w.message}`,
  }))
  const byReference = new Map(message.releases.map((r) => [r.reference, r]))
  const isrcOf = new Map(message.soundRecordings.map((s) => [s.reference, s.isrc]))
  const actions = classifyErn(message, (key) => options.isKnown(key))
  const releases: ReleasePlan[] = []
  for (const action of actions) {
    const main = action.reference == null ? undefined : byReference.get(action.reference)
    if (action.action === 'takedown' || main == null) {
      releases.push({
        path: main == null ? '/PurgedRelease' : `/ReleaseList/Release[${main.reference}]`,
        keys: action.keys,
        action: 'takedown',
        reason: action.reason,
        icpn: null,
        grid: null,
        title: main?.title ?? null,
        artists: [],
        type: main?.type ?? 'Release',
        label: null,
        genre: null,
        releaseDate: null,
        tracks: [],
        deals: [],
      })
      continue
    }
    const tracks = main.trackReferences.map((ref) => trackPlan(message, ref, main, options, issues))
    if (tracks.length === 0 && main.resourceReferences.length > 0) {
      const kinds = new Map(message.resources.map((r) => [r.reference, r.type ?? r.kind]))
      const listed = [...new Set(main.resourceReferences.map((ref) => kinds.get(ref) ?? 'resource'))].join(', ')
      issues.push({
        path: `/ReleaseList/Release[${main.reference}]`,
        value: main.type ?? '',
        message: `no sound recording among its resources (${listed}): Consort publishes audio only`,
      })
    }
    releases.push({
      path: `/ReleaseList/Release[${main.reference}]`,
      keys: action.keys,
      action: 'publish',
      reason: action.reason,
      icpn: main.ids.icpn != null && isIcpn(main.ids.icpn) ? main.ids.icpn : null,
      grid: main.ids.grid != null && isGrid(main.ids.grid) ? main.ids.grid : null,
      title: main.title,
      artists: joinArtists(
        main.artists.map((a) => a.name),
        main.displayArtist,
      ),
      type: main.type ?? (tracks.length === 1 ? 'Single' : 'Album'),
      label: main.label,
      genre: main.genre,
      releaseDate: main.releaseDate ?? main.originalReleaseDate,
      tracks,
      deals: dealPlans(message, main, isrcOf, byReference, options, issues, warnings),
    })
  }
  const inMain = new Set(message.releases.filter((r) => r.isMain).flatMap((r) => r.trackReferences))
  for (const recording of message.soundRecordings) {
    if (!inMain.has(recording.reference) && message.messageType === 'NewReleaseMessage') {
      warnings.push({
        path: `/ResourceList/SoundRecording[${recording.reference}]`,
        value: recording.isrc ?? '',
        message: recording.supplemental
          ? 'supplemental (describes another resource, such as a part of a DJ mix): not published'
          : 'not part of a main release: not published',
      })
    }
  }
  return {
    source: `ERN ${message.ernVersion} ${message.messageType} ${message.messageId}`,
    releases,
    issues,
    warnings,
    synthesizeMissing: options.synthesizeMissing,
  }
}

export { releaseKeys }
