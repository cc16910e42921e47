import type { ErnMessageType, ErnVersion } from './constants.ts'
import type { ErnIssue } from './errors.ts'

/**
 * The domain model of an ERN message: what production needs, validated, in the same shape for ERN 3.8.x and 4.x.
 * Values are kept as the message wrote them (`duration: 'PT2M28S'`, `wholesale: '0.99'`) next to their parsed form
 * (`durationMs`, `wholesaleMinorUnits`). Metadata that varies by territory is read for `Worldwide` (or, failing
 * that, the first territory given); see README.md for every field's source.
 */

export interface ErnParty {
  partyId: string | null
  name: string | null
}

export interface ErnProprietaryId {
  namespace: string | null
  value: string
}

export interface ErnReleaseIds {
  /** UPC-A, EAN-13 or GTIN-14 digits, check digit verified. */
  icpn: string | null
  /** GRid as written; a bad check character is a warning (`grid` issue). */
  grid: string | null
  isrc: string | null
  catalogNumbers: ErnProprietaryId[]
  proprietaryIds: ErnProprietaryId[]
}

export interface ErnArtist {
  name: string | null
  /** PartyList reference (ERN 4) or `null` (ERN 3 names artists inline). */
  partyReference: string | null
  role: string | null
  sequence: number | null
}

/** A P line (sound recording copyright) or C line (artwork and text copyright). */
export interface ErnCopyrightLine {
  year: number | null
  text: string
}

export interface ErnRelease {
  reference: string
  /** `Release` or ERN 4's `TrackRelease`. ERN 3 track-level releases are `Release` with type `TrackRelease`. */
  element: 'Release' | 'TrackRelease'
  /** The message's main release (ERN 4: the `Release` element; ERN 3: `IsMainRelease`, else the first non-track release). */
  isMain: boolean
  ids: ErnReleaseIds
  title: string | null
  subtitle: string | null
  displayArtist: string | null
  artists: ErnArtist[]
  /** The first `ReleaseType` (ERN 4 `TrackRelease` elements: `TrackRelease`). */
  type: string | null
  types: string[]
  label: string | null
  genre: string | null
  subGenre: string | null
  /** As written: `YYYY-MM-DD`, or `YYYY` / `YYYY-MM` where the label only knows that much. */
  releaseDate: string | null
  originalReleaseDate: string | null
  pLine: ErnCopyrightLine | null
  cLine: ErnCopyrightLine | null
  durationMs: number | null
  /** Sound recordings of the release in playing order (resource groups resolved, nested groups flattened). */
  trackReferences: string[]
  /** Every resource of the release in order, including images and other non-audio resources. */
  resourceReferences: string[]
}

export interface ErnAudioFile {
  /** URI, or `FilePath` + `FileName`, as the message gives it (relative to the delivery batch). */
  uri: string
  codec: string | null
  hash: { algorithm: string; value: string } | null
}

export interface ErnPreview {
  startMs: number
  /** From the clip's duration, or its end point minus its start; `null` when the message gives neither. */
  durationMs: number | null
  /** A separately delivered preview file, when there is one. */
  uri: string | null
}

export interface ErnSoundRecording {
  reference: string
  /** `MusicalWorkSoundRecording`, `NonMusicalWorkSoundRecording`, … (ERN 4 `Type`, ERN 3 `SoundRecordingType`). */
  type: string | null
  isrc: string | null
  proprietaryIds: ErnProprietaryId[]
  title: string | null
  subtitle: string | null
  displayArtist: string | null
  artists: ErnArtist[]
  duration: string | null
  durationMs: number | null
  pLine: ErnCopyrightLine | null
  files: ErnAudioFile[]
  preview: ErnPreview | null
  /**
   * Resources this one is related to, as the message states it: a DJ mix's `HasContentFrom` each recording it
   * plays (with where and how long), ERN 3's contained resources. Shown; royalties of the parts are not split.
   */
  related: ErnRelatedResource[]
  /** `IsSupplemental`: delivered to describe another resource (a mix's parts), not to be sold on its own. */
  supplemental: boolean
  /** 1-based position of this recording in each release that contains it. */
  trackNumbers: Array<{ releaseReference: string; trackNumber: number }>
}

export interface ErnRelatedResource {
  reference: string
  /** `HasContentFrom`, `IsRemixOf`, … (ERN 3 contained resources: `HasContentFrom`). */
  relationship: string | null
  /** Where in this resource the other one starts, and for how long it is used. */
  startMs: number | null
  durationMs: number | null
}

/** A resource that is not a sound recording (a video, an image, a text, …): shown, never packaged. */
export interface ErnResource {
  reference: string
  /** The element: `Video`, `Image`, `Text`, `SheetMusic`, `Software`, `UserDefinedResource`. */
  kind: string
  /** Its type: `ShortFormMusicalWorkVideo`, `FrontCoverImage`, … */
  type: string | null
  isrc: string | null
  proprietaryIds: ErnProprietaryId[]
  title: string | null
  displayArtist: string | null
  durationMs: number | null
  /** Delivered files (URIs as the message gives them). */
  files: string[]
}

export interface ErnValidityPeriod {
  /** As written: a date `YYYY-MM-DD` or a date-time with a zone. */
  start: string | null
  startMs: number | null
  end: string | null
  /** The first instant after the period: an end date counts as the whole day (DDEX end dates are inclusive). */
  endMs: number | null
}

export interface ErnAmount {
  currency: string
  /** The decimal string exactly as in the message. */
  amount: string
  minorUnits: bigint
}

export interface ErnPrice {
  /** Currency of the wholesale price, or `null` when the price information gives none. */
  currency: string | null
  /** Wholesale price per unit, the decimal string exactly as in the message. */
  wholesale: string | null
  wholesaleMinorUnits: bigint | null
  suggestedRetail: ErnAmount | null
  /** `PriceType` attribute or element (e.g. `PreOrderPrice`). */
  priceType: string | null
  /** Price tier: ERN 4 `PriceCode`, ERN 3 `PriceRangeType`. */
  priceCode: string | null
}

export interface ErnDeal {
  /** The releases of the enclosing `ReleaseDeal` (one deal may apply to several). */
  releaseReferences: string[]
  commercialModels: string[]
  useTypes: string[]
  territories: string[]
  excludedTerritories: string[]
  periods: ErnValidityPeriod[]
  prices: ErnPrice[]
  isPromotional: boolean
  /**
   * The deal withdraws rights: ERN 3 `TakeDown` or `AllDealsCancelled`; ERN 4 (which has no takedown element) a
   * deal whose validity ended at or before the message was created.
   */
  takedown: boolean
}

export interface ErnMessage {
  messageType: ErnMessageType
  ernVersion: ErnVersion
  /** The namespace URI of the root element, or `null` when only `MessageSchemaVersionId` named the version. */
  namespace: string | null
  messageId: string
  messageThreadId: string | null
  /** As written. */
  createdAt: string
  createdAtMs: number
  /** `LiveMessage` or `TestMessage` when given. */
  controlType: string | null
  /** ERN 3 only: `OriginalMessage` or `UpdateMessage` when given. */
  updateIndicator: string | null
  sender: ErnParty
  recipients: ErnParty[]
  releases: ErnRelease[]
  soundRecordings: ErnSoundRecording[]
  /** Every other resource (videos, images, …), in message order. */
  resources: ErnResource[]
  /** One per `Deal` element, in message order. */
  deals: ErnDeal[]
  /** PurgeReleaseMessage only: the releases to remove. */
  purgedReleases: ErnReleaseIds[]
  /** The issues graded `warning` (`policy.ts`), which publishing accepts unless strict. */
  warnings: ErnIssue[]
}
