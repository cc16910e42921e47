/**
 * Limits and defaults of the clearinghouse role. Every limit has a reason; change one only with that reason in mind.
 * The ledger's own limits live in `ledger/constants.ts`.
 */

/** Version of the role's own state layout (`m/version` in its `state` sublevel). */
export const STATE_VERSION = 1

/**
 * How long an authorisation reserves the buyer's money before it voids itself. A purchase spans three services
 * with a 30 s deadline each and the retailer retries; 15 minutes covers slow registrars and retries while not
 * locking a wallet for long (card holds are days, but those settle offline).
 */
export const AUTHORISATION_TTL_MS = 15 * 60_000

/**
 * How old a purchase order may be when it is first authorised. The buyer signs an order just before buying; a
 * retailer must not keep one and charge the buyer days later (after a first refusal for want of funds, say).
 */
export const ORDER_MAX_AGE_MS = 60 * 60_000

/** Reports committed together in one group (one LevelDB batch, one ledger batch): bounds the batch and its latency. */
export const MAX_GROUP_REPORTS = 512
/**
 * A group waits for reports still being verified until it holds this many (or none is left in flight): half of the
 * most a group takes, so that a group's rows and its fsync are shared by hundreds of reports at full load.
 */
export const GROUP_FILL_REPORTS = 256
/**
 * …and at most this long: what a report's acknowledgement may wait for others, next to its fsync (a few ms) and the
 * player's flush interval (a minute).
 */
export const GROUP_GATHER_MS = 20

/**
 * Reports accepted but not yet committed (verifying or queued). Beyond it a report is refused with `ERR_BUSY` and
 * the player retries later: a flood cannot exhaust memory (a report is at most ~300 KiB, typically under 1 KiB).
 */
export const MAX_PENDING_REPORTS = 16_384

/** Device chain states kept in memory (each ~200 bytes): a large market's active devices. */
export const DEVICE_CACHE_ENTRIES = 65_536
/** Account play states kept in memory. */
export const ACCOUNT_CACHE_ENTRIES = 65_536
/** Decoded records (licences, offers, contracts) kept in memory. */
export const RECORD_CACHE_ENTRIES = 8192
/** Ids of recently stored reports kept in memory, to answer replays without verifying them again. */
export const RECENT_REPORT_ENTRIES = 65_536
/** Device registrations already verified, by the hash of their bytes (each worker keeps its own). */
export const DEVICE_RECORD_CACHE_ENTRIES = 16_384
/**
 * Licences attached to reports whose signature was checked, remembered by the hash of their bytes (2–10 KB each): the
 * licences in play; one that was forgotten costs its signature check again, nothing else.
 */
export const ATTACHED_LICENCE_ENTRIES = 4096
/** CID strings a verifier remembers (licences, offers, contracts of the purchases in play): ~100 bytes each. */
export const CID_STRING_CACHE_ENTRIES = 16_384

/**
 * A report may run at most this far ahead of the device's chain; further ones are refused (not stored) so that a
 * device cannot fill the store with held reports. The player keeps what is not acknowledged and sends it again.
 */
export const MAX_CHAIN_GAP = 1024

/**
 * Plays on one device may overlap by this much (clock granularity, buffering, seeking) before the later one is
 * held as faster than real time.
 */
export const PLAY_OVERLAP_TOLERANCE_MS = 2_000

/**
 * Plays one device may have admitted in one hour of the clearinghouse's own clock. The industry counts a stream after
 * 30 s of listening; a person cannot listen to more than 3600 / 30 = 120 such plays in an hour, so more are held for
 * review. Counted on arrival, not on the start times the device claims: back-dated plays gain nothing (issue 11).
 */
export const MAX_PLAYS_PER_DEVICE_HOUR = 120

/** One play's share of that hour: the rate plays are admitted at, on the clearinghouse's clock. */
export const PLAY_INTERVAL_MS = 3_600_000 / MAX_PLAYS_PER_DEVICE_HOUR

/**
 * How far ahead of the clearinghouse's clock a device's admitted plays may run: an hour's worth, so that a device
 * that was offline delivers up to 120 plays at once, and after that one per 30 s of arrival time.
 */
export const PLAY_BURST_MS = MAX_PLAYS_PER_DEVICE_HOUR * PLAY_INTERVAL_MS

/** Purchases' usage rows kept in memory (the active licences of a large market). */
export const PURCHASE_USE_CACHE_ENTRIES = 65_536
/** Devices' usage counters per purchase (`u/` rows, ~100 bytes each) kept in memory: the active devices' purchases. */
export const USAGE_ROW_CACHE_ENTRIES = 65_536
/** Play tallies (the DSR's per recording, a pool's per content; ~300 bytes each) kept in memory for the open period. */
export const TALLY_ROW_CACHE_ENTRIES = 65_536

/** Devices remembered per account for the concurrency check (a household's devices and a few retired ones). */
export const MAX_TRACKED_DEVICES_PER_ACCOUNT = 32

/** How far a signed account request's `created` may be from the clearinghouse's clock (replays of reads). */
export const ACCOUNT_REQUEST_MAX_AGE_MS = 5 * 60_000

/** Largest single top-up the built-in test gateway accepts (minor units): a generous test amount, not more. */
export const TEST_GATEWAY_MAX_TOP_UP = 100_000_000n

/** How often held plays whose records were missing are tried again, and how many per try. */
export const HELD_RETRY_INTERVAL_MS = 60_000
export const MAX_HELD_RETRY_PER_TICK = 256
/** How long fetching one missing record over the network may take. */
export const RECORD_FETCH_TIMEOUT_MS = 5_000

/** How often the role's timer runs `tick()` (expiry of authorisations, period closes, held-play retries). */
export const TICK_INTERVAL_MS = 5_000

/**
 * Headroom kept below the network's large-record cap when a statement is cut into parts: the envelope, the
 * header fields and the totals around the lines.
 */
export const STATEMENT_PART_HEADROOM_BYTES = 4096

/** Largest statement answered over `/clearing/1` (the RPC frame cap is 2 MiB). */
export const MAX_STATEMENT_RESPONSE_BYTES = 1536 * 1024

/** Most held plays or reports listed in one page of the control API. */
export const MAX_LIST_PAGE = 1000

/** Most transfers one journal entry applies (the ledger's batch cap is 8192; leave room for a linked chain). */
export const MAX_JOURNAL_TRANSFERS = 4096

/** Verification workers started when the option is `auto`, at most. */
export const MAX_VERIFY_WORKERS = 4
/** Reports waiting for verification before an `auto` pool starts its workers. */
export const POOL_START_BACKLOG = 32
/** Reports sent to a worker in one message. */
export const POOL_BATCH = 64
