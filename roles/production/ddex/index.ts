/**
 * DDEX ERN messages in: `readErn` reads ERN 3.8.x and 4.x `NewReleaseMessage` / `PurgeReleaseMessage` into one
 * domain model with every issue graded error or warning (`policy.ts`); `parseErn` does the same for publishing and
 * refuses errors; `inspectErn` summarises a reading as JSON; `classifyErn` says whether each release is new, an
 * update or a takedown. See README.md for what is supported and how each field maps.
 */
export { classifyErn, type ErnAction, type ErnReleaseAction, releaseKeys } from './classify.ts'
export {
  ERN_ISSUE_CODES,
  ERN_MESSAGE_TYPES,
  ERN_VERSIONS,
  type ErnIssueCode,
  type ErnMessageType,
  type ErnVersion,
  MAX_ERN_ISSUES,
  MAX_ERN_MESSAGE_BYTES,
} from './constants.ts'
export { ErnFormatError, type ErnFormatReason, type ErnIssue, ErnValidationError } from './errors.ts'
export { type ErnInspection, inspectErn } from './inspect.ts'
export type {
  ErnAmount,
  ErnArtist,
  ErnAudioFile,
  ErnCopyrightLine,
  ErnDeal,
  ErnMessage,
  ErnParty,
  ErnPreview,
  ErnPrice,
  ErnProprietaryId,
  ErnRelease,
  ErnReleaseIds,
  ErnResource,
  ErnSoundRecording,
  ErnValidityPeriod,
} from './model.ts'
export { type ErnReading, type ParseErnOptions, parseErn, readErn } from './parse.ts'
export { ERN_SEVERITIES, type ErnSeverity, severityOf } from './policy.ts'
