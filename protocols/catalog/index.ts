import { z } from 'zod'
import { recordBytes } from '../messages.ts'
import { grid, icpn, isrc, text } from '../records/fields.ts'

/**
 * `/consort/<net>/catalog/1` — served by catalog nodes (and by every node that keeps a replica).
 *
 * - `search`: full text over titles, artists, release titles, genres, labels and years, with facet filters and
 *   pages; hits name releases (`icpn:`/`grid:` content ids) and tracks (`isrc:`).
 * - `lookup`: exact lookups by ISRC, ICPN (UPC/EAN) or GRid; answers the current records.
 * - `sync`: pages of every current release and manifest record this catalog holds, from a cursor, so a new
 *   catalog node catches up without waiting for gossip.
 */
export const CATALOG_PROTOCOL = 'catalog'
/*
 * `/catalog/1` has no refusal of its own, so no codes constant and no table (decision 0014): a malformed request is
 * the shared `ERR_BAD_REQUEST`, an unknown op `ERR_UNKNOWN_OP`. Its callers pass `WireErrors.shared`, which decodes
 * them to `InvalidParametersError` and `UnknownOpError`.
 */
export const CATALOG_OPS = { search: 'search', lookup: 'lookup', sync: 'sync' } as const
export const MAX_PAGE_SIZE = 100
export const MAX_SYNC_PAGE = 500
export const MAX_QUERY_CHARS = 256

/** Catalog nodes announce themselves as providers of this key in the DHT, so that any node finds one. */
export function catalogServiceKey(network: string): string {
  return `/consort/${network}/catalog-service`
}

export const FACET_FIELDS = ['genre', 'label', 'year', 'type', 'artist'] as const
export type FacetField = (typeof FACET_FIELDS)[number]

export const searchFilters = z
  .object({
    kind: z.enum(['release', 'track']).optional(),
    genre: text(128).optional(),
    label: text().optional(),
    year: z.number().int().min(1800).max(9999).optional(),
    type: text(64).optional(),
    artist: text().optional(),
  })
  .strict()
export type SearchFilters = z.infer<typeof searchFilters>

export const searchRequest = z
  .object({
    query: z.string().max(MAX_QUERY_CHARS),
    filters: searchFilters,
    page: z.number().int().min(0).max(10_000),
    pageSize: z.number().int().min(1).max(MAX_PAGE_SIZE),
  })
  .strict()
export type SearchRequest = z.infer<typeof searchRequest>

export const searchHit = z
  .object({
    kind: z.enum(['release', 'track']),
    /** `icpn:…`/`grid:…` for a release, `isrc:…` for a track. */
    contentId: z.string(),
    /** The CID of the current release or manifest record. */
    record: z.string(),
    title: z.string(),
    artists: z.array(z.string()),
    release: z.string().nullable(),
    genre: z.string().nullable(),
    label: z.string().nullable(),
    year: z.number().nullable(),
    type: z.string().nullable(),
    durationMs: z.number().nullable(),
    tracks: z.number().nullable(),
    score: z.number(),
  })
  .strict()
export type SearchHit = z.infer<typeof searchHit>

export const facetCounts = z.record(z.string(), z.array(z.object({ value: z.string(), count: z.number() }).strict()))

export const searchResponse = z
  .object({
    total: z.number().int(),
    page: z.number().int(),
    pageSize: z.number().int(),
    hits: z.array(searchHit),
    facets: facetCounts,
  })
  .strict()
export type SearchResponse = z.infer<typeof searchResponse>

export const lookupRequest = z
  .object({ isrc: isrc.optional(), icpn: icpn.optional(), grid: grid.optional() })
  .strict()
  .refine((r) => [r.isrc, r.icpn, r.grid].filter((v) => v != null).length === 1, 'give exactly one of isrc, icpn, grid')
export const lookupResponse = z.object({ records: z.array(recordBytes) }).strict()

export const syncRequest = z
  .object({ cursor: z.string().max(64), limit: z.number().int().min(1).max(MAX_SYNC_PAGE) })
  .strict()
/** `certs`: the certificates of the records' signers, so that a catching-up node can check them as gossip would. */
export const syncResponse = z
  .object({
    records: z.array(recordBytes),
    certs: z.array(recordBytes).max(MAX_SYNC_PAGE),
    next: z.string().max(64),
    done: z.boolean(),
  })
  .strict()
