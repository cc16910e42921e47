/** Limits and defaults of the consumer player. Each is a named constant with its reason. */

/** Layout version of the player's sublevel, checked at start (a layout this build does not know is refused). */
export const STORE_VERSION = 1

/** Domain tags of the player's own signatures (`signingPayload` adds `consort/v1/` and a zero byte). */
export const LOG_ENTRY_DOMAIN = 'player-log'
export const LOG_HEAD_DOMAIN = 'player-log-head'
/** Version of a log entry's fields; decoders refuse any other. */
export const LOG_ENTRY_VERSION = 1

/**
 * Entries the tamper-evident log keeps before it compacts into a signed snapshot. Each use is one entry (a play
 * writes a start, one entry per segment's seconds and an end), so a heavy listener writes a few hundred a day;
 * 20,000 keeps start-up verification (one Ed25519 check each, about 0.1 ms) near two seconds at worst.
 */
export const COMPACT_AFTER_ENTRIES = 20_000
/** Largest single log entry: a licence record (1 MiB cap) or a usage report with its sealed events, plus framing. */
export const MAX_LOG_ENTRY_BYTES = 4 * 1024 * 1024

/** Usage events remembered after acknowledgement, for the usage history (the log keeps them all until compaction). */
export const MAX_USAGE_HISTORY = 1000
/**
 * Bytes of encoded events in one sealed box. The record schema allows 256 KiB per box; a report also carries one box
 * per clearinghouse and must stay under the network's large-record cap, so the budget is the smaller of the two.
 */
export const MAX_EVENTS_BYTES_PER_REPORT = 200 * 1024
/** Record bytes reserved for a report's envelope and fields besides its sealed boxes. */
export const REPORT_ENVELOPE_RESERVE_BYTES = 4 * 1024
/** Reports built (and kept) ahead of acknowledgement: a player offline for months must not grow without bound. */
export const MAX_PENDING_REPORTS = 256
/** Reports sent in one flush; the rest wait for the next. */
export const MAX_REPORTS_PER_FLUSH = 16

/** How often the outbox is flushed while the node runs (reports settle monthly; a minute keeps acks prompt). */
export const DEFAULT_FLUSH_INTERVAL_MS = 60_000
/** A flush follows a use after this pause (uses in quick succession share one flush). */
export const FLUSH_AFTER_USE_MS = 2_000
/** One clearinghouse gets this long to acknowledge a report. */
export const REPORT_DEADLINE_MS = 10_000
/** A `sync` contact (nothing to report) waits this long for the clearinghouse's answer. */
export const SYNC_DEADLINE_MS = 5_000

/** Attempts of one purchase (the same purchase id each time) before it is left pending for a later retry. */
export const MAX_BUY_ATTEMPTS = 3
/** Pause before the second attempt; doubled for each later one. */
export const BUY_RETRY_BASE_MS = 250
/** Purchases remembered as pending or failed (completed ones become licences). */
export const MAX_TRACKED_PURCHASES = 1000

/** Device registration at start: attempts and pause between them (the registrar may not be reachable yet). */
export const DEVICE_REGISTRATION_ATTEMPTS = 30
export const DEVICE_REGISTRATION_RETRY_MS = 1_000
/** Longest wait for a first connection before an attempt (a node still bootstrapping). */
export const DEVICE_REGISTRATION_WAIT_MS = 30_000

/**
 * Segments of each track fetched while a purchase is under way, and tracks of a release so prefetched: the first
 * two segments (about 3 s of CD-quality audio at 256 KiB) are what playback needs to start.
 */
export const PREFETCH_SEGMENTS = 2
export const PREFETCH_TRACKS = 4

/**
 * Manifests and releases the player remembers from the catalog topic and catalog lookups (search when no catalog node
 * answers; offline play after a restart).
 */
export const MAX_KNOWN_MANIFESTS = 50_000
export const MAX_KNOWN_RELEASES = 10_000
/** Results one local search returns. */
export const MAX_SEARCH_RESULTS = 100
/** Offers remembered from the last queries (so that `buy OFFER_ID` finds what `offers` listed). */
export const MAX_CACHED_OFFERS = 2_000

/**
 * Web playback sessions open at once, and how long an idle one lives. An `<audio>` element fetches ranges while
 * it plays and pauses; ten minutes covers a long pause, after which the play event is closed and reported.
 */
export const MAX_STREAM_SESSIONS = 32
export const STREAM_SESSION_IDLE_MS = 10 * 60_000
/** Largest byte range served in one HTTP response (a browser asks again for the rest). */
export const MAX_STREAM_RANGE_BYTES = 8 * 1024 * 1024

/** Account export bundle format. */
export const ACCOUNT_EXPORT_TYPE = 'consort/account-export'
export const ACCOUNT_EXPORT_VERSION = 1
/** Largest account export file read (a keystore and a list of purchase ids). */
export const MAX_ACCOUNT_EXPORT_BYTES = 1024 * 1024
/** Purchase ids an export carries, so that a second device can ask for its own licences. */
export const MAX_EXPORTED_PURCHASES = 10_000

/** Tracks whose prefetch sources a player remembers for the play that follows (a few hundred bytes each). */
export const MAX_PREFETCH_SOURCES = 256

/**
 * A licence handed to the player (a purchase's answer, `receiveLicence`) is taken as it is only while this fresh, by
 * its registrar's signature time. An older one may have been used already — a purchase answered again after the
 * store was wiped, say — so it is fetched again from the registrar, which writes in the uses its purchase consumed
 * (issue 11). Two minutes: a retried purchase answers within seconds; a wipe and replay within two minutes of a
 * purchase regains at most what was played in them.
 */
export const FRESH_LICENCE_MS = 2 * 60_000
