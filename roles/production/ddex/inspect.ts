import type { ErnIssue } from './errors.ts'
import type { ErnMessage } from './model.ts'
import type { ErnReading } from './parse.ts'
import type { ErnSeverity } from './policy.ts'

/**
 * A stable, JSON-ready summary of an ERN message, for operators and tests: absent values are `null`, amounts are the
 * decimal strings of the message, one `deals` entry per `Deal` element. A deal whose `ReleaseDeal` names several
 * releases has `releaseReference` as an array of them; otherwise it is the single reference. `resources` lists every
 * resource, sound recordings first, then videos, images and the rest; `soundRecordings` adds the audio's previews.
 * `issues` are the graded issues of the reading (`policy.ts`); `valid` says whether publishing would accept it.
 */
export interface ErnInspection {
  messageType: string
  ernVersion: string
  messageId: string
  sender: { partyId: string | null; name: string | null }
  /** False when any issue is an error: `publish` refuses the message. */
  valid: boolean
  counts: { errors: number; warnings: number; omitted: number }
  releases: Array<{
    reference: string
    /** `Release` or ERN 4's `TrackRelease`. */
    element: string
    isMain: boolean
    icpn: string | null
    grid: string | null
    isrc: string | null
    title: string | null
    displayArtist: string | null
    type: string | null
    label: string | null
    releaseDate: string | null
    trackReferences: string[]
    resourceReferences: string[]
  }>
  resources: Array<{
    reference: string
    /** The resource's element: `SoundRecording`, `Video`, `Image`, `Text`, … */
    kind: string
    type: string | null
    isrc: string | null
    title: string | null
    displayArtist: string | null
    durationSeconds: number | null
    files: string[]
    /** Delivered to describe another resource (a DJ mix's parts), not sold on its own. */
    supplemental: boolean
    /** What the resource draws on: a DJ mix's recordings, where each starts and for how long. */
    related: Array<{
      reference: string
      relationship: string | null
      startSeconds: number | null
      durationSeconds: number | null
    }>
  }>
  soundRecordings: Array<{
    reference: string
    isrc: string | null
    title: string | null
    displayArtist: string | null
    durationSeconds: number | null
    preview: { startSeconds: number; durationSeconds: number | null } | null
  }>
  deals: Array<{
    releaseReference: string | string[] | null
    commercialModels: string[]
    useTypes: string[]
    territories: string[]
    excludedTerritories: string[]
    start: string | null
    end: string | null
    prices: Array<{ currency: string | null; wholesale: string | null }>
    takedown: boolean
  }>
  /** PurgeReleaseMessage: the releases to remove, by their identifiers. */
  purgedReleases: Array<{ icpn: string | null; grid: string | null; isrc: string | null }>
  issues: Array<{ severity: ErnSeverity; code: string; path: string; value: string; message: string }>
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000
}

function isReading(input: ErnMessage | ErnReading): input is ErnReading {
  return 'message' in input && 'issues' in input
}

/**
 * Summarises what was read of a message. Given a `readErn` reading, every issue is listed; given a message from
 * `parseErn` (which refuses errors), its accepted warnings are.
 */
export function inspectErn(input: ErnMessage | ErnReading): ErnInspection {
  const message = isReading(input) ? input.message : input
  const issues: ErnIssue[] = isReading(input) ? input.issues : message.warnings
  const omitted = isReading(input) ? input.omittedIssues : 0
  const errors = issues.filter((i) => i.severity === 'error').length
  return {
    messageType: message.messageType,
    ernVersion: message.ernVersion,
    messageId: message.messageId,
    sender: { partyId: message.sender.partyId, name: message.sender.name },
    valid: errors === 0,
    counts: { errors, warnings: issues.length - errors, omitted },
    releases: message.releases.map((r) => ({
      reference: r.reference,
      element: r.element,
      isMain: r.isMain,
      icpn: r.ids.icpn,
      grid: r.ids.grid,
      isrc: r.ids.isrc,
      title: r.title,
      displayArtist: r.displayArtist,
      type: r.type,
      label: r.label,
      releaseDate: r.releaseDate,
      trackReferences: [...r.trackReferences],
      resourceReferences: [...r.resourceReferences],
    })),
    resources: [
      ...message.soundRecordings.map((s) => ({
        reference: s.reference,
        kind: 'SoundRecording',
        type: s.type,
        isrc: s.isrc,
        title: s.title,
        displayArtist: s.displayArtist,
        durationSeconds: seconds(s.durationMs),
        files: s.files.map((f) => f.uri),
        supplemental: s.supplemental,
        related: s.related.map((r) => ({
          reference: r.reference,
          relationship: r.relationship,
          startSeconds: seconds(r.startMs),
          durationSeconds: seconds(r.durationMs),
        })),
      })),
      ...message.resources.map((r) => ({
        reference: r.reference,
        kind: r.kind,
        type: r.type,
        isrc: r.isrc,
        title: r.title,
        displayArtist: r.displayArtist,
        durationSeconds: seconds(r.durationMs),
        files: [...r.files],
        supplemental: false,
        related: [],
      })),
    ],
    soundRecordings: message.soundRecordings.map((s) => ({
      reference: s.reference,
      isrc: s.isrc,
      title: s.title,
      displayArtist: s.displayArtist,
      durationSeconds: seconds(s.durationMs),
      preview:
        s.preview === null
          ? null
          : { startSeconds: s.preview.startMs / 1000, durationSeconds: seconds(s.preview.durationMs) },
    })),
    deals: message.deals.map((d) => {
      // The first validity period (ERN deals almost always have one; all are in the model).
      const period = d.periods[0]
      return {
        releaseReference:
          d.releaseReferences.length === 0
            ? null
            : d.releaseReferences.length === 1
              ? d.releaseReferences[0]!
              : [...d.releaseReferences],
        commercialModels: [...d.commercialModels],
        useTypes: [...d.useTypes],
        territories: [...d.territories],
        excludedTerritories: [...d.excludedTerritories],
        start: period?.start ?? null,
        end: period?.end ?? null,
        prices: d.prices.map((p) => ({ currency: p.currency, wholesale: p.wholesale })),
        takedown: d.takedown,
      }
    }),
    purgedReleases: message.purgedReleases.map((ids) => ({ icpn: ids.icpn, grid: ids.grid, isrc: ids.isrc })),
    issues: issues.map((i) => ({
      severity: i.severity,
      code: i.code,
      path: i.path,
      value: i.value,
      message: i.message,
    })),
  }
}
