/**
 * `/consort/<net>/segments/1`: names, limits and deadlines. Every limit is a named constant with its reason;
 * the wire format is specified in `README.md`.
 */

/** Protocol name under the network prefix: `/consort/<net>/segments/1`. */
export const SEGMENTS_PROTOCOL = 'segments'
export const SEGMENTS_PROTOCOL_VERSION = 1
/** Version field of every frame. */
export const FRAME_VERSION = 1

/** Request operations. */
export const SEGMENT_OPS = {
  /** Send these blocks (or say which are absent). */
  get: 'get',
  /** Say which of these blocks you hold (a bitfield), send nothing else. */
  have: 'have',
  /** Forget these blocks asked for earlier on this stream, if they are still waiting. */
  cancel: 'cancel',
} as const
export type SegmentOp = (typeof SEGMENT_OPS)[keyof typeof SEGMENT_OPS]

/**
 * Request priorities, most urgent first: the segment being played now, prefetch of the next track, offline
 * sync. On the wire they are the integers 0, 1, 2; a server answers queued requests in that order.
 */
export const PRIORITIES = ['now', 'prefetch', 'sync'] as const
export type SegmentPriority = (typeof PRIORITIES)[number]
export const PRIORITY_CODES: Readonly<Record<SegmentPriority, number>> = { now: 0, prefetch: 1, sync: 2 }

/** Error codes a server puts in an error frame (and the fetcher reports). */
export const SEGMENT_ERROR_CODES = {
  badRequest: 'ERR_BAD_REQUEST',
  tooLarge: 'ERR_TOO_LARGE',
  busy: 'ERR_BUSY',
  deadline: 'ERR_DEADLINE',
  internal: 'ERR_INTERNAL',
} as const

/**
 * Largest block served or accepted. Manifests allow 1 MiB segments (+16-byte tag); records are capped well
 * below 2 MiB by the network caps; 2 MiB is also bitswap's block limit, so nothing Consort stores is larger.
 */
export const MAX_BLOCK_BYTES = 2 * 1024 * 1024
/** Largest response frame: one block plus its small DAG-CBOR header. */
export const MAX_RESPONSE_FRAME_BYTES = MAX_BLOCK_BYTES + 64
/**
 * Largest request frame. A `have` of a whole track (16,384 segment CIDs of 41 encoded bytes each) is about
 * 672 KB; 1 MiB leaves headroom and refuses anything beyond.
 */
export const MAX_REQUEST_FRAME_BYTES = 1024 * 1024
/** Most CIDs in one `have` request: a manifest's segment limit. */
export const MAX_HAVE_CIDS = 16_384
/** Most CIDs in one `get` or `cancel` request (a stream may carry many requests). */
export const MAX_GET_CIDS = 64
/** Longest error message in an error frame. */
export const MAX_ERROR_MESSAGE_CHARS = 256

/** A client must send its first request within this time of opening the stream. */
export const REQUEST_READ_DEADLINE_MS = 10_000
/** A server closes a stream that has had no request and no work for this long (a client reopens one). */
export const SESSION_IDLE_MS = 60_000
/**
 * Time a server gives one block frame to leave (1 MiB in 30 s is 35 KB/s, slower than any link that could play
 * the track); a slower reader is cut off so that it cannot hold a serving slot.
 */
export const BLOCK_WRITE_DEADLINE_MS = 30_000
/** A `have` answer must arrive within this time. */
export const HAVE_DEADLINE_MS = 10_000

/**
 * Server limits. A queued request costs a few hundred bytes (the block is read only when it is served), so a
 * thousand queued requests are cheap; the active limit bounds the blocks held in memory at once
 * (32 × 1 MiB), and the per-peer limits stop one peer from taking every slot.
 */
export const DEFAULT_MAX_QUEUED_REQUESTS = 1024
export const DEFAULT_MAX_QUEUED_REQUESTS_PER_PEER = 96
export const DEFAULT_MAX_ACTIVE_REQUESTS = 32
/**
 * Requests served at once to one peer. Two keep its link busy (the next block is read while the previous one
 * drains) and keep arrival in request order, which a player decrypting in order wants.
 */
export const DEFAULT_MAX_ACTIVE_REQUESTS_PER_PEER = 2
/** Streams one connection may hold open on the protocol: a session per concurrent fetch, plus `have` probes. */
export const MAX_INBOUND_STREAMS = 32
export const MAX_OUTBOUND_STREAMS = 32
/** `has` lookups a `have` request runs at once against the blockstore. */
export const HAVE_LOOKUP_CONCURRENCY = 64
