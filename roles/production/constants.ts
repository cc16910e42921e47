/**
 * Limits and defaults of the production role. Each limit bounds memory, work or waiting; the reason is given.
 */

/** The role's name, its control routes' prefix (`/v1/production/...`). */
export const ROLE_NAME = 'production'

/** A preview when the delivery names no clip: DESIGN.md's first 30 s (the network's `previewSeconds` if it sets one). */
export const DEFAULT_PREVIEW_MS = 30_000
/**
 * A default preview never covers more than this share of the recording, so that a short recording is not given
 * away whole by its preview (a clip the label names explicitly is taken as named).
 */
export const MAX_DEFAULT_PREVIEW_SHARE = 0.5

/**
 * How far a file's measured duration may differ from the duration the delivery states before the file is refused
 * as the wrong or a damaged file: 2 s or 2 %, whichever is more (encoders pad a frame or two; tags round).
 */
export const DURATION_TOLERANCE_MS = 2_000
export const DURATION_TOLERANCE_SHARE = 0.02

/** Releases one import may carry (an ERN message usually has one main release). */
export const MAX_RELEASES_PER_IMPORT = 100
/** Imports waiting behind the one running: more are refused as busy rather than queued without bound. */
export const MAX_QUEUED_IMPORTS = 8
/** Finished jobs kept for `GET /jobs/:id` (the CLI polls its own job within seconds). */
export const MAX_KEPT_JOBS = 32

/** Record versions remembered per stable id, for revoking every version at a takedown. */
export const MAX_HISTORY = 64

/** Warnings kept with a release's state (`ReleaseState.warnings`): the import's first ones, enough to act on. */
export const MAX_RECORDED_WARNINGS = 50

/**
 * One escrow deposit stays under this many bytes (the `/escrow/1` server's default request cap is 2 MiB); a large
 * release is split into several deposits.
 */
export const MAX_DEPOSIT_BYTES = 1536 * 1024
/** Escrow retries back off exponentially from 1 s to 10 min, and never stop until acknowledged. */
export const ESCROW_RETRY_MIN_MS = 1_000
export const ESCROW_RETRY_MAX_MS = 10 * 60_000
/** Deadline of one deposit exchange. */
export const ESCROW_DEADLINE_MS = 15_000

/** Deadline of one DHT put of a latest-record key; the publish result reports puts that missed it. */
export const DHT_PUT_DEADLINE_MS = 10_000
/** Default interval at which active releases, manifests and contracts are announced again (0 turns it off). */
export const DEFAULT_REANNOUNCE_MS = 10 * 60_000
/** Records announced per re-announce round, so a large catalogue does not flood its topics at once. */
export const MAX_REANNOUNCE_RECORDS = 2_000

/** Contracts listed per page by `GET /contracts`. */
export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 500

/** Seal context of a content key kept at rest by the producer, sealed to its own X25519 key. */
export const SELF_SEAL_CONTEXT = 'consort/production/content-key'
