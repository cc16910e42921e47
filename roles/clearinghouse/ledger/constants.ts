/**
 * Limits and on-disk constants of the ledger. Every limit has a reason; change one only with that reason in mind.
 */

/** Version of the on-disk layout, stored at `m/version`. A layout change is a new version, never an edit. */
export const LEDGER_VERSION = 1

/**
 * Longest account or transfer id. Ids are LevelDB keys and appear in up to three index keys each; 128 characters
 * hold a CIDv1 string (59 characters in base32) with a caller's prefix and suffix.
 */
export const MAX_ID_LENGTH = 128

/**
 * Ids are printable ASCII (0x21–0x7e) without `/`: `/` separates the parts of index keys (`x/<account>/<seq>`),
 * so an id that could contain it would make one account's key range overlap another's.
 */
export const ID_PATTERN = /^[\x21-\x2e\x30-\x7e]+$/

/** Longest `owner` of an account: a participant id (public key, CID or name) with room to spare. */
export const MAX_OWNER_LENGTH = 256

/** Longest `code` of a transfer: a short machine-readable category (`sale`, `royalty`, `fee`…). */
export const MAX_CODE_LENGTH = 64

/** Longest `reference` of a transfer: an external id such as a purchase or usage-report CID. */
export const MAX_REFERENCE_LENGTH = 256

/** Longest `userData` of a transfer: keeps every transfer record small (well under 2 KiB). */
export const MAX_USER_DATA_LENGTH = 1024

/**
 * Largest amount of one transfer, in minor units: 2^63 − 1, the largest signed 64-bit integer, so that every
 * amount fits the integer columns of exports and of the other systems statements are loaded into.
 */
export const MAX_TRANSFER_AMOUNT = 2n ** 63n - 1n

/**
 * Largest value of any balance field: 2^64 − 1, the largest integer DAG-CBOR encodes. A transfer that would take a
 * balance beyond it is refused (`overflows_balance`) instead of failing to encode after the fact.
 */
export const MAX_BALANCE = 2n ** 64n - 1n

/**
 * Most transfers (or accounts) in one `createTransfers` (`createAccounts`) call. One call is one LevelDB write
 * batch held in memory with up to 5 keys per transfer; this bounds that memory and the latency of one write.
 */
export const MAX_BATCH_SIZE = 8192

/**
 * Longest timeout of a pending transfer: 31 days, beyond the longest card authorisation hold (30 days), so that
 * a reservation cannot lock a wallet's money for ever.
 */
export const MAX_PENDING_TIMEOUT_MS = 31 * 24 * 60 * 60 * 1000

/** Most expiries applied in one write batch, so that a backlog of expired reservations cannot make one write huge. */
export const MAX_EXPIRE_PER_BATCH = 1024

/** Largest page of `transfers()`: bounds the memory and time of one query. */
export const MAX_PAGE_SIZE = 1000

/** Entries read per `getMany` while auditing: bounds the audit's read buffers. */
export const AUDIT_CHUNK = 512

/** Width of the zero-padded decimal numbers (sequence numbers, expiry times) in keys: 2^53 has 16 digits. */
export const KEY_NUMBER_WIDTH = 16

/** Most violations one audit reports: a badly damaged store must not produce an unbounded report. */
export const MAX_AUDIT_VIOLATIONS = 1000
