import type { CommercialModel, UseType } from '../../protocols/records/types/common.ts'
import type { ReferralClause } from '../../protocols/records/types/contract.ts'
import type { RuleBounds } from '../../protocols/usage-rules/index.ts'
import type { ImportIssue } from './errors.ts'

/**
 * An import, whatever it came from (an ERN message, a JSON release description, one track from the command line),
 * as one plan: releases with their tracks, where their audio is, and their deals as contract terms. Nothing in a plan
 * is trusted yet: `validate.ts` checks it whole before anything is written.
 */

export interface AudioSource {
  /** The file as the input names it (an ERN URI, a path in a JSON description), for messages. */
  uri: string | null
  /** The resolved absolute path, or null when the input names none. */
  path: string | null
  /** A checksum the delivery gives for the file (`MD5`, `SHA-1`, `SHA-256`), checked when the file is read. */
  hash: { algorithm: string; value: string } | null
}

export interface TrackPlan {
  /** Where in the input the track is, for issue paths (`/ResourceList/SoundRecording[A1]`). */
  path: string
  isrc: string | null
  title: string | null
  version: string | null
  artists: string[]
  genre: string | null
  label: string | null
  year: number | null
  /** The duration the input states (ms), checked against the file's; the length of synthesized audio. */
  statedDurationMs: number | null
  audio: AudioSource
  /** The clip the input names; null: the default (the first 30 s, at most half the recording). */
  preview: { startMs: number; durationMs: number | null } | null
}

export interface WholesaleTerm {
  currency: string
  amount: bigint
  per: 'unit' | 'play'
}

/** A deal as the terms of one contract (one per deal and commercial model). */
export interface DealPlan {
  path: string
  /** Stable within the release across messages: `deal-<n>-<model>` (ERN) or the description's own id. */
  localId: string
  /** Content ids the deal names one by one (tracks, usually). */
  content: string[]
  /** The deal covers the release itself: its ICPN/GRid, or its tracks' ISRCs when it has neither. */
  wholeRelease: boolean
  commercialModel: CommercialModel
  useTypes: UseType[]
  territories: string[]
  excludedTerritories: string[]
  validFrom: number
  validUntil: number | null
  wholesale: WholesaleTerm[]
  revenueShareBps: number | null
  promotions: {
    minPrice: Array<{ currency: string; amount: bigint }>
    freeWindows: Array<{ from: number; until: number }>
  }
  ruleBounds: RuleBounds
  splits: Array<{ party: string; key: Uint8Array | null; bps: number }>
  /** A named retailer's key, or null for any certified retailer. */
  retailer: Uint8Array | null
  /** What delivery of the content is paid (decision 0511); absent: not paid. */
  delivery?: DeliveryTerm
  /** Who a sale made through a share credits, and how much (decision 0512); absent: no referral credit. */
  referral?: ReferralClause
}

/** A contract's delivery fee (decision 0511): per decimal GB of encrypted segments, and a share of each sale. */
export interface DeliveryTerm {
  perGB: Array<{ currency: string; amount: bigint }>
  saleBps: number
}

export interface ReleasePlan {
  path: string
  /** Identity keys (`icpn:<GTIN-14>`, `grid:…`, `isrc:…`, `proprietary:…`): a later delivery matches by any. */
  keys: string[]
  action: 'publish' | 'takedown'
  /** Why this action, for the result and logs. */
  reason: string
  /** Valid identifiers only: a release record needs one of them, else only its tracks are published. */
  icpn: string | null
  grid: string | null
  title: string | null
  artists: string[]
  type: string
  label: string | null
  genre: string | null
  releaseDate: string | null
  tracks: TrackPlan[]
  deals: DealPlan[]
}

export interface ImportPlan {
  /** What the plan came from, for logs and results (`ERN 3.8.2 NewReleaseMessage MessageID5678`). */
  source: string
  releases: ReleasePlan[]
  /** Problems found while reading the input: any refuses the import. */
  issues: ImportIssue[]
  /** Things left out or assumed, reported with the result. */
  warnings: ImportIssue[]
  /** Make up audio of the stated duration where a file is absent. */
  synthesizeMissing: boolean
}
