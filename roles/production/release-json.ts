import path from 'node:path'
import { z } from 'zod'
import { icpnKey, isGrid, isIcpn, tryCanonicalContentId } from '../../protocols/identifiers/index.ts'
import { MAX_RELEASE_TRACKS } from '../../protocols/records/types/release.ts'
import type { ImportIssue } from './errors.ts'
import type { DealPlan, ImportPlan, ReleasePlan, TrackPlan } from './plan.ts'
import { dealFromTerms, termsShape, zodIssues } from './terms.ts'

/**
 * The JSON release description, for labels without DDEX tooling (schema in README.md). `consort publish --file`
 * builds one of these for a single track.
 */

const dealInput = z.strictObject({
  /** Stable across updates of the description: the contract id is `<release key>/<id>`. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,40}$/, '1 to 40 letters, digits, dots, dashes or underscores')
    .optional(),
  /** `release` (the default), or the content ids / ISRCs the deal covers. */
  content: z.union([z.literal('release'), z.array(z.string().min(1).max(64)).min(1).max(1000)]).default('release'),
  ...termsShape,
})

const trackInput = z.strictObject({
  isrc: z.string().min(1).max(20),
  title: z.string().min(1).max(512),
  version: z.string().min(1).max(512).optional(),
  artists: z.array(z.string().min(1).max(512)).min(1).max(64).optional(),
  /** The audio file: absolute, or relative to the description's directory. */
  file: z.string().min(1).max(4096).optional(),
  /** The stated duration: checked against the file, or the length of synthesized audio. */
  durationSeconds: z.number().positive().max(7200).optional(),
  preview: z
    .strictObject({ startSeconds: z.number().min(0), durationSeconds: z.number().positive().max(600).optional() })
    .optional(),
  genre: z.string().min(1).max(128).optional(),
  year: z.number().int().min(1800).max(9999).optional(),
})

export const releaseDescriptionSchema = z.strictObject({
  consortRelease: z.literal(1),
  upc: z.string().min(1).max(14).optional(),
  grid: z.string().min(1).max(20).optional(),
  title: z.string().min(1).max(512),
  artists: z.array(z.string().min(1).max(512)).min(1).max(64),
  type: z.string().min(1).max(64).optional(),
  label: z.string().min(1).max(512).optional(),
  genre: z.string().min(1).max(128).optional(),
  releaseDate: z
    .string()
    .regex(/^\d{4}(-\d{2}(-\d{2})?)?$/, 'YYYY, YYYY-MM or YYYY-MM-DD')
    .optional(),
  tracks: z.array(trackInput).min(1).max(MAX_RELEASE_TRACKS),
  deals: z.array(dealInput).max(1000).default([]),
  /** The default royalty splits of every deal (default: 100 % to the label, paid to this node's key). */
  splits: termsShape.splits,
})
export type ReleaseDescription = z.input<typeof releaseDescriptionSchema>

export interface DescriptionPlanOptions {
  /** Directory relative file paths are resolved against. */
  baseDir: string
  synthesizeMissing: boolean
  now: number
  /** The label's party when the description names no splits. */
  labelKey: Uint8Array
}

/** Validate a JSON release description and turn it into an import plan (issues collected, never thrown). */
export function planFromDescription(input: unknown, options: DescriptionPlanOptions): ImportPlan {
  const issues: ImportIssue[] = []
  const parsed = releaseDescriptionSchema.safeParse(input)
  if (!parsed.success) {
    return {
      source: 'JSON release description',
      releases: [],
      issues: zodIssues(parsed.error, 'release', input),
      warnings: [],
      synthesizeMissing: false,
    }
  }
  const d = parsed.data
  if (d.upc != null && !isIcpn(d.upc))
    issues.push({ path: 'release.upc', value: d.upc, message: 'not a UPC/EAN with a valid check digit' })
  if (d.grid != null && !isGrid(d.grid))
    issues.push({ path: 'release.grid', value: d.grid, message: 'not a GRid with a valid check character' })
  const icpn = d.upc != null && isIcpn(d.upc) ? d.upc : null
  const grid = d.grid != null && isGrid(d.grid) ? d.grid : null
  const tracks: TrackPlan[] = d.tracks.map((t, i) => ({
    path: `release.tracks.${i}`,
    isrc: t.isrc,
    title: t.title,
    version: t.version ?? null,
    artists: t.artists ?? d.artists,
    genre: t.genre ?? d.genre ?? null,
    label: d.label ?? null,
    year: t.year ?? (d.releaseDate != null ? Number(d.releaseDate.slice(0, 4)) : null),
    statedDurationMs: t.durationSeconds == null ? null : Math.round(t.durationSeconds * 1000),
    audio: {
      uri: t.file ?? null,
      path: t.file == null ? null : path.resolve(options.baseDir, t.file),
      hash: null,
    },
    preview:
      t.preview == null
        ? null
        : {
            startMs: Math.round(t.preview.startSeconds * 1000),
            durationMs: t.preview.durationSeconds == null ? null : Math.round(t.preview.durationSeconds * 1000),
          },
  }))
  tracks.forEach((t, i) => {
    if (t.audio.path == null && !options.synthesizeMissing) {
      issues.push({
        path: `release.tracks.${i}.file`,
        value: '',
        message: 'no audio file (or use --synthesize-missing)',
      })
    }
  })
  const defaultSplits: DealPlan['splits'] = [
    { party: (d.label ?? 'label').slice(0, 128), key: options.labelKey, bps: 10_000 },
  ]
  const deals: DealPlan[] = d.deals.map((deal, i) => {
    const where = `release.deals.${i}`
    const { id, content, ...terms } = deal
    const splits =
      terms.splits ?? d.splits?.map((s) => ({ party: s.party, bps: s.bps, key: s.key ?? null })) ?? undefined
    const fields = dealFromTerms(
      { ...terms, ...(splits != null ? { splits } : {}) },
      where,
      { validFrom: options.now, splits: defaultSplits },
      issues,
    )
    const named = content === 'release' ? [] : content.map((c) => tryCanonicalContentId(c) ?? c)
    return {
      path: where,
      localId: id ?? `deal-${i + 1}-${terms.commercialModel}`,
      content: named,
      wholeRelease: content === 'release',
      ...fields,
    }
  })
  const keys: string[] = []
  if (icpn != null) keys.push(`icpn:${icpnKey(icpn)}`)
  if (grid != null) keys.push(`grid:${grid}`)
  if (keys.length === 0) keys.push(`isrc:${d.tracks[0]!.isrc}`)
  const release: ReleasePlan = {
    path: 'release',
    keys,
    action: 'publish',
    reason: 'JSON release description',
    icpn,
    grid,
    title: d.title,
    artists: d.artists,
    type: d.type ?? (d.tracks.length === 1 ? 'Single' : 'Album'),
    label: d.label ?? null,
    genre: d.genre ?? null,
    releaseDate: d.releaseDate ?? null,
    tracks,
    deals,
  }
  return {
    source: 'JSON release description',
    releases: [release],
    issues,
    warnings: [],
    synthesizeMissing: options.synthesizeMissing,
  }
}
