/**
 * `/consort/<net>/delivery/1`: a fetching player asks each peer that served it blocks to acknowledge them, so that
 * the player's delivery receipt carries the serving peer's own word next to its own (see README.md).
 */
export const DELIVERY_PROTOCOL = 'delivery'
export const DELIVERY_PROTOCOL_VERSION = 1

export const DELIVERY_OPS = { ack: 'ack' } as const

/** Domain tag of a serving peer's acknowledgement signature (never valid as any other signature). */
export const DELIVERY_ACK_DOMAIN = 'consort/v1/delivery-ack'

/** CIDs one acknowledgement request may name in all: a manifest's segment limit (`MAX_SEGMENTS`). */
export const MAX_ACK_CIDS = 16_384
/** Fetches one acknowledgement request may cover (an album or two since the player last asked). */
export const MAX_ACK_FETCHES = 64
/** Peers one receipt may pay: the fetcher's limit of peers per fetch (`MAX_PEERS_PER_FETCH`). */
export const MAX_RECEIPT_PEERS = 32
/**
 * A request naming 16,384 CIDs is ≈ 620 KB of DAG-CBOR (38 bytes a CID): the rpc default of 1 MiB carries it.
 * The answer is up to 64 × (counters and a signature) and the peer's certificate or device registration.
 */
export const MAX_ACK_RESPONSE_BYTES = 32 * 1024
/** How long a fetcher waits for one peer's acknowledgement (the peer is then left out of the receipt). */
export const ACK_DEADLINE_MS = 10_000

/**
 * What a serving node remembers of the blocks it served, until they are acknowledged: at most this many
 * (peer, CID) entries in all (≈ 120 bytes each: ≈ 30 MiB), the oldest peer's forgotten first …
 */
export const MAX_TALLY_ENTRIES = 262_144
/** … and of one peer at most a whole track's segments. */
export const MAX_TALLY_ENTRIES_PER_PEER = 16_384
/** Served blocks not acknowledged within this time are forgotten (a fetch asks once it completes). */
export const TALLY_TTL_MS = 3600_000
