import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { z } from 'zod'
import { isIsrc } from '../../protocols/identifiers/index.ts'
import { recordId } from '../../protocols/records/envelope.ts'
import { contractBody as contractSchema } from '../../protocols/records/types/contract.ts'
import { manifestBody as manifestSchema } from '../../protocols/records/types/manifest.ts'
import { releaseBody as releaseSchema } from '../../protocols/records/types/release.ts'
import {
  type AudioProbe,
  cutClip,
  MAX_AUDIO_BYTES,
  MAX_SYNTH_MS,
  probeAudio,
  scanAudio,
  synthesizeWav,
} from './audio/index.ts'
import { contractBody, dealContent, dealContractId, manifestBody, releaseBody } from './bodies.ts'
import {
  DEFAULT_PREVIEW_MS,
  DURATION_TOLERANCE_MS,
  DURATION_TOLERANCE_SHARE,
  MAX_DEFAULT_PREVIEW_SHARE,
  MAX_RELEASES_PER_IMPORT,
} from './constants.ts'
import { type ImportIssue, ImportRefusedError } from './errors.ts'
import { rawBlockCid, segmentCount } from './packaging/index.ts'
import type { ImportPlan, ReleasePlan, TrackPlan } from './plan.ts'

/**
 * The whole import is checked before anything is written: every identifier and text a record will carry (by the
 * record schemas themselves), every audio file (present, readable, whole, of a supported format, of the duration
 * the delivery states, matching its checksum), every deal as the contract it becomes. Any problem refuses the
 * import with the full list.
 */

export type AudioOrigin = { kind: 'file'; path: string } | { kind: 'synth'; durationMs: number; frequencyHz: number }

export interface CheckedTrack {
  plan: TrackPlan
  isrc: string
  title: string
  artists: string[]
  origin: AudioOrigin
  /** SHA-256 of the audio bytes: packaging re-reads them and must find the same. */
  sha256: Uint8Array
  probe: AudioProbe
  /** The clip to package as the preview (before alignment to the format's frames). */
  clip: { startMs: number; durationMs: number }
}

export interface CheckedRelease {
  plan: ReleasePlan
  tracks: CheckedTrack[]
}

export interface ValidateContext {
  network: string
  segmentSize: number
  /** The default preview length (the network's `previewSeconds`, else 30 s). */
  defaultPreviewMs?: number
  onTrack?(done: number, total: number): void
}

const HASHES: Record<string, string> = {
  MD5: 'md5',
  SHA1: 'sha1',
  'SHA-1': 'sha1',
  SHA256: 'sha256',
  'SHA-256': 'sha256',
}
const PLACEHOLDER_KEY = new Uint8Array(32)
const PLACEHOLDER_ID = new Uint8Array(16)

/** Stand-in tones per track: a semitone apart, so tracks are told apart by ear. */
export function toneFor(index: number): number {
  return Math.round(220 * 2 ** ((index % 24) / 12))
}

/** The audio bytes of a track: its file, or the stand-in synthesized for it. */
export async function loadAudio(origin: AudioOrigin): Promise<Uint8Array> {
  if (origin.kind === 'synth') return synthesizeWav(origin.durationMs, { frequencyHz: origin.frequencyHz })
  return new Uint8Array(await readFile(origin.path))
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

function schemaIssues(
  result: z.ZodSafeParseResult<unknown>,
  where: string,
  record: string,
  input: unknown,
): ImportIssue[] {
  if (result.success) return []
  return result.error.issues.map((issue) => {
    let value: unknown = input
    for (const key of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey]
    return {
      path: `${where} → ${record}.${issue.path.map(String).join('.')}`,
      value: value == null ? '' : typeof value === 'string' ? value : String(value).slice(0, 200),
      message: issue.message,
    }
  })
}

function clipFor(
  track: TrackPlan,
  durationMs: number,
  defaultMs: number,
  warnings: ImportIssue[],
): { startMs: number; durationMs: number } {
  if (track.preview == null) {
    const length = Math.min(defaultMs, Math.floor(durationMs * MAX_DEFAULT_PREVIEW_SHARE))
    return { startMs: 0, durationMs: Math.max(1, length) }
  }
  let start = track.preview.startMs
  if (start >= durationMs) {
    warnings.push({
      path: `${track.path}/PreviewDetails`,
      value: `${start} ms`,
      message: 'the clip starts after the recording ends: the preview starts at 0',
    })
    start = 0
  }
  return {
    startMs: start,
    durationMs: Math.max(1, Math.min(track.preview.durationMs ?? defaultMs, durationMs - start)),
  }
}

async function checkTrack(
  track: TrackPlan,
  index: number,
  plan: ImportPlan,
  ctx: ValidateContext,
  issues: ImportIssue[],
  warnings: ImportIssue[],
): Promise<CheckedTrack | null> {
  const where = track.path
  const before = issues.length
  if (track.isrc == null)
    issues.push({ path: `${where}/ISRC`, value: '', message: 'a recording needs an ISRC to be published' })
  else if (!isIsrc(track.isrc))
    issues.push({ path: `${where}/ISRC`, value: track.isrc, message: 'not an ISRC (CC-XXX-YY-NNNNN without hyphens)' })
  if (track.title == null) issues.push({ path: `${where}/Title`, value: '', message: 'a recording needs a title' })
  if (track.artists.length === 0)
    issues.push({ path: `${where}/DisplayArtist`, value: '', message: 'a recording needs an artist' })

  let origin: AudioOrigin | null = null
  const fileWhere = `${where}/File`
  if (track.audio.path != null) {
    const info = await stat(track.audio.path).catch(() => null)
    if (info?.isFile() === true) {
      if (info.size > MAX_AUDIO_BYTES) {
        issues.push({
          path: fileWhere,
          value: track.audio.uri ?? '',
          message: `${info.size} bytes, more than ${MAX_AUDIO_BYTES}`,
        })
      } else origin = { kind: 'file', path: track.audio.path }
    } else if (info != null) {
      issues.push({ path: fileWhere, value: track.audio.uri ?? '', message: 'not a regular file' })
    }
  }
  if (origin == null && issues.length === before) {
    if (!plan.synthesizeMissing) {
      issues.push({
        path: fileWhere,
        value: track.audio.uri ?? '',
        message: `no such file${track.audio.path == null ? '' : ` ${track.audio.path}`} (--synthesize-missing makes stand-in audio)`,
      })
    } else if (track.statedDurationMs == null || track.statedDurationMs <= 0 || track.statedDurationMs > MAX_SYNTH_MS) {
      issues.push({
        path: `${where}/Duration`,
        value: String(track.statedDurationMs ?? ''),
        message: 'the file is absent and no usable duration is stated: nothing to synthesize',
      })
    } else {
      origin = { kind: 'synth', durationMs: track.statedDurationMs, frequencyHz: toneFor(index) }
      warnings.push({
        path: fileWhere,
        value: track.audio.uri ?? '',
        message: `absent: ${track.statedDurationMs} ms of synthesized audio stand in`,
      })
    }
  }
  if (origin == null) return null

  let bytes: Uint8Array
  try {
    bytes = await loadAudio(origin)
  } catch (err) {
    issues.push({ path: fileWhere, value: track.audio.uri ?? '', message: `cannot be read: ${(err as Error).message}` })
    return null
  }
  let probe: AudioProbe
  try {
    probe = await probeAudio(bytes, track.audio.uri ?? track.isrc ?? 'audio')
  } catch (err) {
    issues.push({ path: fileWhere, value: track.audio.uri ?? '', message: (err as Error).message })
    return null
  }
  if (origin.kind === 'file' && track.audio.hash != null) {
    const algorithm = HASHES[track.audio.hash.algorithm.toUpperCase()]
    if (algorithm == null) {
      warnings.push({
        path: `${fileWhere}/HashSum`,
        value: track.audio.hash.algorithm,
        message: 'hash algorithm not checked',
      })
    } else {
      const actual = createHash(algorithm).update(bytes).digest('hex')
      if (actual !== track.audio.hash.value.toLowerCase()) {
        issues.push({
          path: `${fileWhere}/HashSum`,
          value: track.audio.hash.value,
          message: `the file's ${track.audio.hash.algorithm} is ${actual}: not the file delivered`,
        })
      }
    }
  }
  if (track.statedDurationMs != null) {
    const tolerance = Math.max(DURATION_TOLERANCE_MS, track.statedDurationMs * DURATION_TOLERANCE_SHARE)
    if (Math.abs(probe.durationMs - track.statedDurationMs) > tolerance) {
      issues.push({
        path: `${where}/Duration`,
        value: `${track.statedDurationMs} ms`,
        message: `the file plays ${probe.durationMs} ms: a wrong or damaged file`,
      })
    }
  }
  try {
    segmentCount(probe.byteSize, ctx.segmentSize)
  } catch (err) {
    issues.push({ path: fileWhere, value: track.audio.uri ?? '', message: (err as Error).message })
  }
  const clip = clipFor(track, probe.durationMs, ctx.defaultPreviewMs ?? DEFAULT_PREVIEW_MS, warnings)
  try {
    // Cut once here, so a recording whose preview cannot be made is refused before anything is written.
    cutClip(scanAudio(bytes, track.audio.uri ?? track.isrc ?? 'audio'), clip.startMs, clip.durationMs)
  } catch (err) {
    issues.push({
      path: `${where}/PreviewDetails`,
      value: `${clip.startMs}+${clip.durationMs} ms`,
      message: (err as Error).message,
    })
  }
  if (issues.length > before) return null
  return {
    plan: track,
    isrc: track.isrc!,
    title: track.title!,
    artists: track.artists,
    origin,
    sha256: sha256(bytes),
    probe,
    clip,
  }
}

/**
 * Check the records a release will become, with placeholder CIDs and keys, by the record schemas: the manifests of
 * the tracks whose audio passed, the release and its contracts whatever the audio.
 */
function checkRecords(release: CheckedRelease, ctx: ValidateContext, issues: ImportIssue[]): void {
  const plan = release.plan
  const placeholder = rawBlockCid(new Uint8Array(1))
  for (const track of release.tracks) {
    const count = Math.ceil(track.probe.byteSize / ctx.segmentSize)
    const body = manifestBody(ctx.network, 0, 0, {
      isrc: track.isrc,
      title: track.title,
      artists: track.artists,
      track: track.plan,
      release: plan,
      durationMs: track.probe.durationMs,
      codec: track.probe.codec,
      mime: track.probe.mime,
      byteSize: track.probe.byteSize,
      segmentSize: ctx.segmentSize,
      segments: new Array(count).fill(placeholder),
      keyId: PLACEHOLDER_ID,
      preview: null,
    })
    issues.push(...schemaIssues(manifestSchema.safeParse(body), track.plan.path, 'manifest', body))
  }
  const isrcs = plan.tracks.flatMap((t) => (t.isrc != null && isIsrc(t.isrc) ? [t.isrc] : []))
  const manifestId = recordId(new Uint8Array(1))
  if (plan.icpn != null || plan.grid != null) {
    const body = releaseBody(
      ctx.network,
      0,
      0,
      plan,
      isrcs.map((isrc) => ({ isrc, manifest: manifestId })),
    )
    issues.push(...schemaIssues(releaseSchema.safeParse(body), plan.path, 'release', body))
  }
  for (const deal of plan.deals) {
    const content = dealContent(deal, plan, isrcs)
    const body = contractBody(
      ctx.network,
      0,
      0,
      dealContractId(plan.keys[0] ?? 'release', deal),
      PLACEHOLDER_KEY,
      deal,
      content,
    )
    issues.push(...schemaIssues(contractSchema.safeParse(body), deal.path, 'contract', body))
  }
}

/**
 * Check an import plan whole. Returns the checked releases and the warnings; throws `ImportRefusedError` with
 * every problem found. Reads the audio files but writes nothing.
 */
export async function validatePlan(
  plan: ImportPlan,
  ctx: ValidateContext,
): Promise<{ releases: CheckedRelease[]; warnings: ImportIssue[] }> {
  const issues = [...plan.issues]
  const warnings = [...plan.warnings]
  if (plan.releases.length > MAX_RELEASES_PER_IMPORT) {
    issues.push({
      path: '/',
      value: String(plan.releases.length),
      message: `more than ${MAX_RELEASES_PER_IMPORT} releases in one import`,
    })
  }
  const total = plan.releases.reduce((n, r) => n + r.tracks.length, 0)
  let done = 0
  const releases: CheckedRelease[] = []
  for (const release of plan.releases) {
    if (release.action === 'takedown') {
      releases.push({ plan: release, tracks: [] })
      continue
    }
    if (release.title == null)
      issues.push({ path: `${release.path}/Title`, value: '', message: 'a release needs a title' })
    if (release.tracks.length === 0)
      issues.push({ path: release.path, value: '', message: 'a release needs at least one sound recording' })
    const seen = new Set<string>()
    const tracks: CheckedTrack[] = []
    for (const [i, track] of release.tracks.entries()) {
      if (track.isrc != null && seen.has(track.isrc)) {
        issues.push({
          path: `${track.path}/ISRC`,
          value: track.isrc,
          message: 'the same ISRC appears twice in the release',
        })
      }
      if (track.isrc != null) seen.add(track.isrc)
      const checked = await checkTrack(track, i, plan, ctx, issues, warnings)
      if (checked != null) tracks.push(checked)
      ctx.onTrack?.(++done, total)
    }
    const checked = { plan: release, tracks }
    checkRecords(checked, ctx, issues)
    releases.push(checked)
  }
  if (issues.length > 0) throw new ImportRefusedError(issues)
  return { releases, warnings }
}
