import type { ErnIssueCode } from './constants.ts'

/**
 * Which issues of an ERN message are errors and which are warnings (README.md, "Grading"). An error is a value Consort
 * cannot publish correctly without: what identifies a recording, where and when and at what price it may be sold,
 * and the links between releases, resources and deals. A warning is a flawed value Consort can do without or has
 * another source for: a release identifier with a bad check character or a placeholder, an empty header field,
 * display dates, copyright years, preview points, a duration the audio will state anyway. `inspect` shows both;
 * `publish` refuses errors, accepts warnings (and records them with the release) unless told `--strict`.
 */
export const ERN_SEVERITIES = ['error', 'warning'] as const
export type ErnSeverity = (typeof ERN_SEVERITIES)[number]

const ALWAYS: Partial<Record<ErnIssueCode, ErnSeverity>> = {
  grid: 'warning',
  icpn: 'warning',
  duration: 'warning',
  number: 'warning',
  version: 'warning',
  territory: 'error',
  currency: 'error',
  amount: 'error',
  period: 'error',
  // A digest no file can have: the delivered audio could never be checked against it.
  hash: 'error',
}

export function severityOf(code: ErnIssueCode, path: string): ErnSeverity {
  const fixed = ALWAYS[code]
  if (fixed !== undefined) return fixed
  switch (code) {
    case 'required':
      // The message id, thread and sender's id identify the delivery, not what is delivered; the creation time
      // decides whether an ERN 4 deal that has ended is a takedown.
      return path.includes('/MessageHeader/') && !path.endsWith('/MessageCreatedDateTime') ? 'warning' : 'error'
    case 'isrc':
      // A recording is published under its ISRC; a release's or a video's is not what Consort packages.
      return path.includes('/SoundRecording') && !path.includes('/ReleaseId') ? 'error' : 'warning'
    case 'date':
      // Deal windows and the message's creation time (ERN 4 takedowns) decide rights; release dates are display.
      return path.includes('/ValidityPeriod') || path.endsWith('/MessageCreatedDateTime') ? 'error' : 'warning'
    case 'reference':
      // A party that is not in the PartyList costs an artist's or a label's name, and a mix's missing part a line
      // of description: not a release, a recording or a deal.
      return /PartyReference|LabelReference|ResourceRelatedResourceReference|ResourceContainedResourceReference/.test(
        path,
      )
        ? 'warning'
        : 'error'
    default:
      return 'error'
  }
}
