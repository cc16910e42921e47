import type { ErnIssueCode } from './constants.ts'
import type { ErnSeverity } from './policy.ts'

/**
 * Errors of the ERN importer. Match them by `.name` or `.code` rather than by `instanceof`.
 */

/** One field of an ERN message that breaks a rule. */
export interface ErnIssue {
  /** XPath-like location of the element or attribute, e.g. `/NewReleaseMessage/ResourceList/SoundRecording[1]/SoundRecordingId/ISRC`. */
  path: string
  /** The value as written in the message (`''` when the field is missing). */
  value: string
  /** What is wrong and what was expected. */
  message: string
  /** The kind of rule broken. */
  code: ErnIssueCode
  /** `error`: publish refuses the message; `warning`: publish accepts it (unless strict) and records the issue. */
  severity: ErnSeverity
}

/** Why a message could not be read as ERN at all. */
export type ErnFormatReason =
  | 'not-a-string'
  | 'too-large'
  | 'not-xml'
  | 'not-ern'
  | 'unsupported-version'
  | 'unsupported-message-type'

/** The input is not XML, not an ERN message, too large, or of an ERN version or message type not supported. */
export class ErnFormatError extends Error {
  static override name = 'ErnFormatError'
  override name = ErnFormatError.name

  static readonly code = 'ERR_ERN_FORMAT'
  readonly code = ErnFormatError.code
  readonly reason: ErnFormatReason

  constructor(reason: ErnFormatReason, message: string, options?: ErrorOptions) {
    super(message, options)
    this.reason = reason
  }
}

/** The message is ERN but fields break the rules (errors, or warnings when strict): every one found is in `issues`. */
export class ErnValidationError extends Error {
  static override name = 'ErnValidationError'
  override name = ErnValidationError.name

  static readonly code = 'ERR_ERN_VALIDATION'
  readonly code = ErnValidationError.code
  readonly issues: ErnIssue[]
  /** How many further issues were found but not kept (see `MAX_ERN_ISSUES`). */
  readonly omittedIssues: number

  constructor(issues: ErnIssue[], omittedIssues = 0) {
    const total = issues.length + omittedIssues
    const first = issues
      .slice(0, 3)
      .map((issue) => `${issue.path}: ${issue.message}`)
      .join('; ')
    super(`ERN message refused, ${total} issue${total === 1 ? '' : 's'}: ${first}${total > 3 ? '; ...' : ''}`)
    this.issues = issues
    this.omittedIssues = omittedIssues
  }
}
