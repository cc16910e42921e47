/** Limits and defaults of the storefront; each with the reason for its value. */

/** Loopback by default: a storefront is reachable from elsewhere only when its operator says so. */
export const DEFAULT_STOREFRONT_HOST = '127.0.0.1'
/** Port 0 picks a free port; the devnet and the daemon's log print the URL. */
export const DEFAULT_STOREFRONT_PORT = 0

/** Hits on one search page: a screenful on a phone, two on a desktop. */
export const SEARCH_PAGE_SIZE = 20
/** Releases on the home page's "new releases" shelf. */
export const HOME_SHELF_SIZE = 12
/** Featured releases the operator may pin to the home page (the retailer's choice). */
export const MAX_FEATURED = 24
/** Pages one search may go to: beyond this nobody pages; narrow the search instead (the catalog caps pages too). */
export const MAX_SEARCH_PAGE = 500

/** One catalog call: a page must render in a few seconds or say the catalog is unavailable. */
export const CATALOG_DEADLINE_MS = 5_000
/** Track lookups one release page makes at once (a box set lists hundreds of tracks; each is one catalog call). */
export const MANIFEST_LOOKUPS_IN_FLIGHT = 8
/** Catalog nodes tried for one call before the page says the catalog is unavailable. */
export const MAX_CATALOG_PEERS = 3

/**
 * Decrypted preview clips kept in memory: a 30 s clip is 0.2–2 MB (lossy to FLAC), so 64 MiB holds the clips of a
 * busy shelf and bounds what a crawler can make the node hold.
 */
export const PREVIEW_CACHE_BYTES = 64 * 1024 * 1024
/** A clip larger than this is not served (a 2-minute FLAC clip is about 20 MB; a preview is meant to be short). */
export const MAX_PREVIEW_BYTES = 24 * 1024 * 1024
/** Fetching one clip's segments from the swarm: the browser shows an error rather than spinning for ever. */
export const PREVIEW_FETCH_DEADLINE_MS = 20_000
/** Segments of one clip asked for at once (a clip is a few segments; this bounds one request's load on the swarm). */
export const PREVIEW_SEGMENTS_IN_FLIGHT = 4
/** Clips being fetched at once; more requests wait for one to finish (bounded memory and peer load). */
export const MAX_PREVIEW_FETCHES = 8

/** Largest cover image served (a block is at most 2 MiB; covers are usually well under 1 MiB). */
export const MAX_ARTWORK_BYTES = 2 * 1024 * 1024
/** Fetching a cover image from the swarm. */
export const ARTWORK_FETCH_DEADLINE_MS = 10_000

/** How long the list of this retailer's offers is reused before it is read again from the store. */
export const OFFER_SHELF_TTL_MS = 5_000
/** Offers the shelf reads at most (the retailer's own store caps its offers higher; a storefront shows the first). */
export const MAX_SHELF_OFFERS = 100_000

/** Largest length of a player URL the storefront accepts (an origin and a short path). */
export const MAX_PLAYER_URL_CHARS = 512

/**
 * Longest path segment the router takes: a share's text in `/share/<text>` (refer's `MAX_SHARE_LINK_CHARS`, 1,000),
 * everything else far shorter (a content id, a CID).
 */
export const MAX_SHARE_PATH_CHARS = 1024
