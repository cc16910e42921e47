import type { NodeKeys } from '../../keys/keystore.ts'
import type { Money } from '../../protocols/records/fields.ts'
import type { UsageEvent } from '../../protocols/usage/index.ts'
import type { Remaining, UsageState } from '../../protocols/usage-rules/index.ts'
import type { HeldLicence } from './library.ts'
import type { Track } from './media.ts'
import type { ReportStatus } from './reports.ts'
import type { AudioSink } from './sinks.ts'

/** The player's settings, the shapes its methods answer, and its events. */

/** Settings of the player (`roleOptions.player`). */
export interface PlayerInit {
  /** The name this device registers under (default `player`). */
  deviceName?: string
  /** The clearinghouse that takes the account's payments, by name or hex key (default: the first one listed). */
  clearinghouse?: string
  /** Flush the usage outbox this often (ms; 0: only when asked and after each use). */
  flushIntervalMs?: number
  /** Register this device with a registration manager at start when it has no registration (default true). */
  registerDevice?: boolean
  /** The account keys, for a node without a data dir (tests, simulations); else `keys/account.key`. */
  account?: NodeKeys
  /** Serve the segments this node holds and announce them (default true: every player seeds). */
  seed?: boolean
  /** Compact the local log after this many entries. */
  compactAfter?: number
}

/** A certified offer as the player lists it, remembered so that `buy` finds it. */
export interface ListedOffer {
  /** The offer record's id: what `buy` takes. */
  offer: string
  offerId: string
  content: string[]
  retailerName: string
  retailerKey: string
  price: Money
  priceText: string
  useType: string
  /** The rules in plain words (`describeRules`). */
  rules: string[]
  territories: string[]
  /** The territory it was listed for (a purchase is always for the account's attested territory). */
  territory: string
  certifier: string
  certifiedUntil: number
  validUntil: number | null
}

/** Certified offers for one content id in one territory, as `consort offers` shows them. */
export interface MarketView {
  content: string
  territory: string
  offers: ListedOffer[]
  dropped: Array<{ offer: string | null; reason: string }>
  unreachable: Array<{ reference: string; reason: string }>
}

export interface LicenceView {
  purchaseId: string
  licence: string
  licenceId: string
  content: string[]
  tracks: string[]
  useType: string
  rules: string[]
  /** What was paid, from the retailer's receipt (null when the player holds no receipt for it). */
  price: Money | null
  issuedAt: number
  notAfter: number | null
  state: UsageState
  remaining: Remaining
  /** Whether a play could start now, and why not. */
  playable: boolean
  reason: string | null
  revoked: boolean
}

export interface BuyResult {
  purchaseId: string
  receipt: string
  licence: string
  licenceId: string
  offer: string
  price: Money
  content: string[]
  /** Attempts sent to the retailer (0: the purchase was already done). */
  attempts: number
  elapsedMs: number
}

export interface PlayOptions {
  /** Write the decrypted audio to this file (else to the audio device, or `sink`). */
  out?: string
  sink?: AudioSink
  /** Stop after this many seconds of audio. */
  seconds?: number
  /** Play the preview clip even with a licence. */
  preview?: boolean
  signal?: AbortSignal
  /** Called with the time (ms since the call) when the first audio reaches the sink. */
  onFirstAudio?: (ms: number) => void
}

export type StopReason = 'end' | 'seconds' | 'limit' | 'aborted'

export interface PlayResult {
  content: string
  isrc: string
  title: string
  mode: 'licensed' | 'preview'
  purchaseId: string | null
  eventId: string
  sink: string
  bytes: number
  /** Seconds of audio delivered. */
  seconds: number
  firstAudioMs: number | null
  elapsedMs: number
  stopped: StopReason
  /** Why playback stopped at a limit (a rules code), if it did. */
  limit: string | null
  remaining: Remaining | null
  /**
   * Where this play's blocks came from: each peer's bytes, and of them those that came through a relay. Blocks the
   * node already held are `cachedBlocks`.
   */
  sources: { cachedBlocks: number; peers: Array<{ peer: string; bytes: number; bytesRelayed: number }> }
  /**
   * A licensed play's delivery (decision 0511): the bytes fetched from the swarm, whether the track was fetched before
   * under this licence (a re-download), and what the listener was charged for it — always 0: delivery is paid by the
   * distributor from the receipts this device sends, never by the listener. Null for a preview.
   */
  delivery: { fetchedBytes: number; redownload: boolean; charged: 0 } | null
}

export interface CountedUseResult {
  content: string
  isrc: string
  kind: 'export' | 'burn'
  purchaseId: string
  eventId: string
  files: string[]
  bytes: number
  remaining: Remaining
  note: string
}

export interface FlushResult {
  built: number
  sent: number
  acknowledged: number
  pendingReports: number
  readyEvents: number
  synced: string[]
  errors: string[]
}

export interface ResyncResult {
  licences: string[]
  /** What each clearinghouse said it acknowledged (`usage-state`), or why it could not say. */
  clearinghouses: Array<{
    name: string
    status: 'ok' | 'unsupported' | 'unreachable'
    lastReportSeq: number | null
    detail: string | null
  }>
  refused: Array<{ purchaseId: string; reason: string }>
  salvagedEntries: number
  chainedEntries: number
  unreadableEntries: number
  restoredEvents: number
  pendingReports: number
  lastReportSeq: number | null
  flush: FlushResult | null
}

export interface PlayerStatus {
  device: string
  account: string
  deviceRegistered: boolean
  store: { ok: boolean; problem: string | null; entries: number }
  licences: number
  outbox: { readyEvents: number; openEvents: number; pendingReports: number; lastReportSeq: number | null }
  territory: string
}

/** Typed events of the player, for tests and the web player. */
export interface PlayerEvents {
  'device:registered': CustomEvent<{ device: string }>
  'licence:added': CustomEvent<{ purchaseId: string; licence: string }>
  'play:first-audio': CustomEvent<{ isrc: string; ms: number }>
  'usage:acknowledged': CustomEvent<{ seq: number; status: ReportStatus; clearinghouse: string }>
  'store:tampered': CustomEvent<{ message: string }>
}

export interface OpenedPlayback {
  track: Track
  key: Uint8Array
  mode: 'licensed' | 'preview'
  held: HeldLicence | null
  /** The play's (or preview's) event; a licensed play's is counted and logged only by `Playback.begin`. */
  event: UsageEvent
  /** Milliseconds of the track that may be heard (the preview limit, or the whole track). */
  maxMs: number
  /**
   * Whether the play was counted: with its first decrypted audio (`Playback.begin`), so that a play whose segments never
   * came (a failed fetch) is no play — not counted, not reported (issue 11, finding 6).
   */
  begun: boolean
}

/** What buying an offer would cost and give, as a checkout shows it before the buyer confirms. */
export interface PurchaseQuote {
  offer: ListedOffer
  /** The content's title(s), as the catalog knows them. */
  title: string
  /** `0.99 EUR`. */
  priceText: string
  /** `ninety-nine euro cents`. */
  priceWords: string
  /** The territory it would be bought for (the account's, as its registrar attests it). */
  territory: string
  /**
   * Licences this device holds that already give at least what the offer would, for every track it covers: buying
   * would charge again for nothing (refused unless `again`). Empty when not owned.
   */
  owned: Array<{ purchaseId: string; licenceId: string; useType: string; rules: string[] }>
}

/** A share as the player shows it (docs/decisions/0708-sharing-in-the-player.md). */
export interface ShareView {
  /** The share record's id (CID). */
  share: string
  /** The referrer's own id of the share. */
  id: string
  /** Its compact text form (base64url of the signed record). */
  text: string
  /** `consort://share/<text>`: what any player opens. */
  link: string
  content: { track: string | null; release: string | null; manifest: string }
  /** The title of what is shared, when this player knows it. */
  title: string | null
  artists: string[]
  /** Who shared it: an account (a listener) or a retailer (its certificate's name, when known here). */
  referrer: { kind: 'account' | 'retailer'; key: string; name: string | null }
  /** The offer id the referrer recommends. */
  offer: string | null
  created: number
  expires: number
  /** Shared by this player's own account: buying through it credits no one. */
  own: boolean
}

/** An offer listed for an opened share: the one it recommends, and those of the referrer's retailer, first. */
export interface ShareOffer extends ListedOffer {
  /** The offer the share recommends. */
  shared: boolean
  /** Sold by the retailer the share leads to (the referrer, or the retailer of its recommended offer). */
  fromReferrer: boolean
}

/** What opening a share found: the share, its preview, and the offers for this account's territory. */
export interface OpenedShare {
  share: ShareView
  territory: string
  offers: ShareOffer[]
  /** Whether the referrer's retailer sells it in this territory. */
  referrerSellsHere: boolean
  /** Whether the offer the share recommends is sold here (null: it recommends none). */
  sharedOffer: 'listed' | 'not-sold-here' | null
  own: boolean
  /** The preview started on opening (null when not asked); a preview that could not play says why. */
  preview: {
    played: boolean
    seconds: number
    firstAudioMs: number | null
    sink: string | null
    problem: string | null
  } | null
  dropped: MarketView['dropped']
  unreachable: MarketView['unreachable']
}
