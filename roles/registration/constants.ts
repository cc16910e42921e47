/** Limits and defaults of the registration manager. Each is a named constant with its reason. */

/** How long a role certificate is valid: a year, renewed by asking again, so that a lost key does not live forever. */
export const DEFAULT_CERT_VALIDITY_MS = 365 * 24 * 3600_000
/** How long a device registration is valid: as long as a certificate, for the same reason. */
export const DEFAULT_DEVICE_VALIDITY_MS = 365 * 24 * 3600_000
/**
 * Signed requests (certificate, device, reissue) older than this are refused: a request is signed just before it
 * is sent, and a short window limits what a replayed copy can do. Clock skew is added on top.
 */
export const MAX_REQUEST_AGE_MS = 15 * 60_000
/**
 * Certificate requests waiting for an operator. Keys are free to make, so a flood of requests must not fill the
 * disk; ten thousand is more than any operator will review.
 */
export const MAX_PENDING_REQUESTS = 10_000
/** Entries one control-API listing returns (pending requests, an account's devices). */
export const MAX_LIST_ENTRIES = 1000
/**
 * A first licence is issued only for a receipt younger than this: the retailer asks right after payment; a day
 * covers retries and outages without letting old receipts be cashed in later. Retries of an issued licence are
 * answered whatever the receipt's age.
 */
export const MAX_RECEIPT_AGE_MS = 24 * 3600_000
/** How long the registrar waits for a contract it must fetch by CID from the swarm. */
export const CONTRACT_FETCH_TIMEOUT_MS = 5_000
/** Decoded contracts kept in memory: licences for the same few contracts follow one another. */
export const CONTRACT_CACHE_ENTRIES = 256
/**
 * Verified records kept for reuse (offers, certifications, certificates, device registrations): a few thousand
 * cover the offers on sale and the devices buying now, at a few KiB each.
 */
export const VERIFIED_RECORD_CACHE_ENTRIES = 4096
/** Keys one licence may carry: the licence schema's own limit (a box set). */
export const MAX_LICENCE_KEYS = 1000
/** Signers of revocations kept per revoked id (the distributor, a reference service, a registrar…). */
export const MAX_REVOKERS_PER_TARGET = 8
/** Devices one account listing may hold, revoked ones included: a bound on the per-account record. */
export const MAX_ACCOUNT_DEVICES = 1000
/** Layout version of this role's sublevel, checked at start. */
export const STORE_VERSION = 1

/** How often the registrar looks for rotated keys whose grace period is over (a minute late at most). */
export const ROTATION_CHECK_INTERVAL_MS = 60_000

/**
 * How old a clearinghouse's `consort/consumption` may be when a reissue presents it: fresh enough that the uses it
 * counts are the purchase's uses now (a device reports 2 s after a use), old enough for a slow round trip to the
 * clearinghouse and the registrar and a clock apart by the network's skew.
 */
export const MAX_CONSUMPTION_AGE_MS = 10 * 60_000
