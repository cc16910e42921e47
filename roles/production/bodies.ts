import type { CID } from 'multiformats/cid'
import { canonicalIcpn, tryCanonicalContentId } from '../../protocols/identifiers/index.ts'
import type { BodyInput } from '../../protocols/records/registry.ts'
import type { PreviewFields } from './packaging/index.ts'
import type { DealPlan, ReleasePlan, TrackPlan } from './plan.ts'

/**
 * Record bodies from checked import data. The same functions build the bodies that validation checks (with
 * placeholder CIDs) and the ones that get signed, so a body that passed validation is the body that is signed.
 */

/** The release's own content id, or null when it has neither ICPN nor GRid (then its tracks stand alone). */
export function releaseContent(plan: Pick<ReleasePlan, 'icpn' | 'grid'>): string | null {
  if (plan.icpn != null) return `icpn:${canonicalIcpn(plan.icpn)}`
  if (plan.grid != null) return `grid:${plan.grid}`
  return null
}

/** The content ids a deal covers, in order, without repeats. */
export function dealContent(deal: DealPlan, release: ReleasePlan, isrcs: readonly string[]): string[] {
  const own = releaseContent(release)
  const whole = deal.wholeRelease ? (own != null ? [own] : isrcs.map((i) => `isrc:${i}`)) : []
  // Canonical where valid; what is not a content id is left as written, for the record's schema to refuse by name.
  return [...new Set([...whole, ...deal.content.map((c) => tryCanonicalContentId(c) ?? c)])]
}

export interface ManifestParts {
  isrc: string
  title: string
  artists: string[]
  track: TrackPlan
  release: ReleasePlan
  durationMs: number
  codec: BodyInput<'consort/manifest'>['codec']
  mime: string
  byteSize: number
  segmentSize: number
  segments: CID[]
  keyId: Uint8Array
  preview: PreviewFields | null
}

export function manifestBody(
  network: string,
  created: number,
  seq: number,
  p: ManifestParts,
): BodyInput<'consort/manifest'> {
  const hasRecord = releaseContent(p.release) != null
  return {
    network,
    created,
    seq,
    isrc: p.isrc,
    title: p.title,
    version: p.track.version,
    artists: p.artists,
    release:
      hasRecord && p.release.title != null
        ? { icpn: p.release.icpn, grid: p.release.grid, title: p.release.title }
        : null,
    genre: p.track.genre,
    label: p.track.label,
    year: p.track.year,
    durationMs: p.durationMs,
    codec: p.codec,
    mime: p.mime,
    byteSize: p.byteSize,
    segmentSize: p.segmentSize,
    segments: p.segments,
    keyId: p.keyId,
    preview: p.preview,
  }
}

export function releaseBody(
  network: string,
  created: number,
  seq: number,
  plan: ReleasePlan,
  tracks: Array<{ isrc: string; manifest: CID }>,
): BodyInput<'consort/release'> {
  return {
    network,
    created,
    seq,
    icpn: plan.icpn,
    grid: plan.grid,
    title: plan.title ?? '',
    artists: plan.artists,
    type: plan.type,
    label: plan.label,
    genre: plan.genre,
    releaseDate: plan.releaseDate,
    tracks,
    artwork: null,
  }
}

export function contractBody(
  network: string,
  created: number,
  seq: number,
  contractId: string,
  distributor: Uint8Array,
  deal: Omit<DealPlan, 'path' | 'localId' | 'content' | 'wholeRelease'>,
  content: string[],
): BodyInput<'consort/contract'> {
  return {
    network,
    created,
    contractId,
    seq,
    distributor,
    retailer: deal.retailer,
    content,
    commercialModel: deal.commercialModel,
    useTypes: deal.useTypes,
    territories: deal.territories,
    excludedTerritories: deal.excludedTerritories,
    validFrom: deal.validFrom,
    validUntil: deal.validUntil,
    wholesale: deal.wholesale,
    revenueShareBps: deal.revenueShareBps,
    promotions: deal.promotions,
    ruleBounds: deal.ruleBounds,
    splits: deal.splits,
    ...(deal.delivery !== undefined ? { delivery: deal.delivery } : {}),
    ...(deal.referral !== undefined ? { referral: deal.referral } : {}),
  }
}

/** Contract ids of a release's deals: `<release key>/<local id>`, stable across updates of the release. */
export function dealContractId(releaseKey: string, deal: DealPlan): string {
  return `${releaseKey}/${deal.localId}`
}
