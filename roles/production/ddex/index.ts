/**
 * DDEX ERN messages in: `parseErn` reads ERN 3.8.x and 4.x `NewReleaseMessage` / `PurgeReleaseMessage` into one
 * validated domain model; `inspectErn` summarises it as JSON; `classifyErn` says whether each release is new, an
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
  TOLERABLE_ISSUE_CODES,
  type TolerableIssueCode,
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
  ErnSoundRecording,
  ErnValidityPeriod,
} from './model.ts'
export { type ParseErnOptions, parseErn } from './parse.ts'
