import MiniSearch from 'minisearch'
import {
  FACET_FIELDS,
  type FacetField,
  type SearchFilters,
  type SearchHit,
  type SearchResponse,
} from '../../protocols/catalog/index.ts'
import type { CatalogDocument } from './documents.ts'

/** Facet values listed per field (the most frequent first). */
export const MAX_FACET_VALUES = 20

/**
 * Full-text search with MiniSearch: prefix and fuzzy matching over titles, artists, release titles, genres,
 * labels and years, boosted towards titles and artists; filters by facet; facet counts over all matches.
 */
export class SearchIndex {
  readonly #search = new MiniSearch<CatalogDocument>({
    idField: 'key',
    fields: ['title', 'artistText', 'release', 'genre', 'label', 'yearText', 'extra'],
    extractField: (document, field) => {
      if (field === 'artistText') return document.artists.join(' ')
      if (field === 'yearText') return document.year == null ? '' : String(document.year)
      const value = (document as unknown as Record<string, unknown>)[field]
      return value == null ? '' : String(value)
    },
    searchOptions: { boost: { title: 3, artistText: 2, release: 1.5 }, prefix: true, fuzzy: 0.2, combineWith: 'AND' },
  })
  readonly #documents = new Map<string, CatalogDocument>()

  get size(): number {
    return this.#documents.size
  }

  get(key: string): CatalogDocument | undefined {
    return this.#documents.get(key)
  }

  /** Add or replace the document for its key. */
  put(document: CatalogDocument): void {
    if (this.#documents.has(document.key)) this.#search.discard(document.key)
    this.#documents.set(document.key, document)
    this.#search.add(document)
  }

  delete(key: string): void {
    if (!this.#documents.has(key)) return
    this.#documents.delete(key)
    this.#search.discard(key)
  }

  /** Documents whose content id is this (one per signer). */
  byContentId(contentId: string): CatalogDocument[] {
    return [...this.#documents.values()].filter((d) => d.contentId === contentId)
  }

  search(query: string, filters: SearchFilters, page: number, pageSize: number): SearchResponse {
    const trimmed = query.trim()
    let matches: Array<{ document: CatalogDocument; score: number }>
    if (trimmed.length === 0) {
      // An empty query lists everything, newest first: the "new releases" shelf.
      matches = [...this.#documents.values()]
        .sort((a, b) => b.created - a.created)
        .map((document) => ({ document, score: 0 }))
    } else {
      matches = this.#search.search(trimmed).flatMap((result) => {
        const document = this.#documents.get(result.id as string)
        return document == null ? [] : [{ document, score: result.score }]
      })
    }
    matches = matches.filter(({ document }) => matchesFilters(document, filters))
    const facets = facetCounts(matches.map((m) => m.document))
    const start = page * pageSize
    return {
      total: matches.length,
      page,
      pageSize,
      hits: matches.slice(start, start + pageSize).map(({ document, score }) => toHit(document, score)),
      facets,
    }
  }
}

function matchesFilters(document: CatalogDocument, filters: SearchFilters): boolean {
  if (filters.kind != null && document.kind !== filters.kind) return false
  if (filters.genre != null && document.genre !== filters.genre) return false
  if (filters.label != null && document.label !== filters.label) return false
  if (filters.year != null && document.year !== filters.year) return false
  if (filters.type != null && document.type !== filters.type) return false
  if (filters.artist != null && !document.artists.includes(filters.artist)) return false
  return true
}

function facetValues(document: CatalogDocument, field: FacetField): string[] {
  switch (field) {
    case 'artist':
      return document.artists
    case 'year':
      return document.year == null ? [] : [String(document.year)]
    default: {
      const value = document[field]
      return value == null ? [] : [value]
    }
  }
}

function facetCounts(documents: CatalogDocument[]): SearchResponse['facets'] {
  const out: SearchResponse['facets'] = {}
  for (const field of FACET_FIELDS) {
    const counts = new Map<string, number>()
    for (const document of documents) {
      for (const value of facetValues(document, field)) counts.set(value, (counts.get(value) ?? 0) + 1)
    }
    out[field] = [...counts]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, MAX_FACET_VALUES)
      .map(([value, count]) => ({ value, count }))
  }
  return out
}

function toHit(document: CatalogDocument, score: number): SearchHit {
  return {
    kind: document.kind,
    contentId: document.contentId,
    record: document.record,
    title: document.title,
    artists: document.artists,
    release: document.release,
    genre: document.genre,
    label: document.label,
    year: document.year,
    type: document.type,
    durationMs: document.durationMs,
    tracks: document.tracks,
    score: Math.round(score * 1000) / 1000,
  }
}
