/** Limits and defaults of the retailer; each with the reason for its value. */

/**
 * How often the renewal timer looks at the clock. Certifications live for hours (network policy
 * `certificationTtlMs`, at least one minute); a check every 30 s renews in time even for the shortest TTL.
 */
export const DEFAULT_RENEW_CHECK_INTERVAL_MS = 30_000

/** Renew a certification when less than this fraction of the network's TTL is left. */
export const RENEW_BEFORE_FRACTION = 0.25

/** Certify calls one renewal round makes at most; the rest wait for the next round (bounded work per tick). */
export const MAX_RENEWALS_PER_ROUND = 200

/** Offers one `list` answers with (a page). */
export const MAX_LIST_OFFERS = 1000

/** Offers one retailer may hold: a large store's whole catalogue in a few use types. */
export const MAX_OFFERS = 1_000_000

/** Purchases served at once; more are refused with ERR_BUSY so that a flood cannot exhaust the node. */
export const MAX_CONCURRENT_PURCHASES = 256

/** Unfinished purchases the recovery round resumes per round (capture or void after a crash). */
export const MAX_RECOVERIES_PER_ROUND = 100

/**
 * An unfinished purchase that nobody retried for this long is voided by the recovery round (the clearinghouse's
 * authorisation would lapse anyway; voiding releases the buyer's funds at once).
 */
export const ABANDONED_PURCHASE_MS = 15 * 60_000

/**
 * A captured purchase whose licence no registrar delivered for this long is refunded by the recovery round. Half of
 * the registrar's window for a first licence (a receipt younger than 24 h, decision 0600): the licence is retried
 * every round until then, and the refund (after a withdrawal every registrar signs) comes while a buyer still
 * remembers the purchase.
 */
export const UNLICENSED_REFUND_AFTER_MS = 12 * 3600_000

/** Deadline of each call to a service during a purchase (the whole purchase has `PURCHASE_DEADLINE_MS`). */
export const PURCHASE_STEP_DEADLINE_MS = 8_000

/** Deadline of one certify request to one reference service. */
export const CERTIFY_DEADLINE_MS = 10_000

/** State transitions kept in a purchase's history (for operators). */
export const MAX_PURCHASE_HISTORY = 12

/** Default markup of offers made from contracts (the devnet's sample offers): 40 % over wholesale. */
export const DEFAULT_MARKUP_BPS = 4000

/** Offers one `from-contracts` request creates at most. */
export const MAX_OFFERS_FROM_CONTRACTS = 500

/**
 * Plays in an offer made from a contract priced per play only (a streaming pass), when the contract's bounds do not
 * cap plays lower: enough for a listener to come back to a track, few enough that the price stays small.
 */
export const PLAYS_PER_PASS = 10
