/** Limits and defaults of the reference service; each with the reason for its value. */

/**
 * Certifications kept per offer record, so that a revocation can name every one still valid. A retailer renews
 * about once per TTL; older certifications have expired by then, so a handful is plenty.
 */
export const MAX_CERTIFICATIONS_KEPT_PER_OFFER = 8

/**
 * Index entries one query may scan for one content id before filtering (territory, window, expiry). Ten thousand
 * offers for one track is far beyond any real market; the cap keeps one query from walking the whole store.
 */
export const MAX_QUERY_SCAN = 10_000

/** Offers re-checked per page when a contract changes: small enough for one LevelDB read, large enough to be fast. */
export const RECHECK_PAGE = 500

/**
 * Offers per revocation record: each offer takes two targets (the offer and its certifications), and a revocation
 * holds at most `MAX_REVOCATION_TARGETS` (1000) targets.
 */
export const REVOCATION_OFFERS_PER_RECORD = 250

/** How long a certify request may spend fetching an unknown contract by CID from the network. */
export const CONTRACT_FETCH_TIMEOUT_MS = 3_000

/**
 * A certify request for an offer whose certification from this service still has more than this fraction of its
 * lifetime left gets that same certification back (a retry answers the same); later, a fresh one (a renewal).
 */
export const CERTIFICATION_REUSE_FRACTION = 0.5

/** Releases a track list is kept for: the catalog topic's releases, at most this many tracks each (the schema's cap). */
export const MAX_RELEASE_TRACKS = 1000

/**
 * Decoded contract versions kept in memory: every certification reads the contract it names and the version in
 * force, and decoding one verifies its signature again. A thousand covers every contract a busy service sees at once.
 */
export const CONTRACT_CACHE_ENTRIES = 1024

/**
 * Decoded attachments (retailers' certificates) kept in memory by their bytes' id: a retailer sends the same
 * certificate with every certify request, and verifying it again each time would double the signature work.
 */
export const ATTACHMENT_CACHE_ENTRIES = 1024
