import { createNodeKeys } from '../../keys/keystore.ts'
import { type Random, SeededRandom } from '../../keys/random.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import type { SearchFilters, SearchResponse } from '../../protocols/catalog/index.ts'
import { systemClock } from '../../protocols/clock.ts'
import { icpnCheckDigit } from '../../protocols/identifiers/icpn.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import { type CatalogDocument, SearchIndex, toDocument } from '../../roles/catalog/index.ts'
import { createTestNetwork } from '../../test/helpers/network.ts'
import { startMemoryNode, stopAll } from '../../test/helpers/nodes.ts'
import { sampleRecordCid } from '../../test/helpers/record-samples.ts'
import { LatencyRecorder } from '../lib/latency.ts'
import { result } from '../lib/result.ts'
import { median } from '../lib/stats.ts'
import type { BenchOptions, BenchResult } from '../lib/types.ts'

export const description =
  'catalog search latency p50/p99 over 10,000 releases (vs a linear scan of the same documents); catch-up time of a new catalog node'

/** issue 7: search over 10,000 releases, p99. */
const SEARCH_P99_TARGET_MS = 50
/** issue 7: the catalog's size; --quick uses fewer. */
const RELEASES = 10_000
const QUICK_RELEASES = 2_000
/** Queries per round (each timed on the catalog's index and on the linear scan, alternately). */
const QUERIES_PER_ROUND = 400
const QUICK_QUERIES_PER_ROUND = 100
/** Hits asked for per query: the storefront's page size. */
const PAGE_SIZE = 20
/** Words titles, artists and labels are made of: enough that a word matches a few hundred releases, as real ones do. */
const VOCABULARY = 600
const GENRES = [
  'Jazz',
  'Rock',
  'Pop',
  'Folk',
  'Electronic',
  'Classical',
  'Hip-Hop',
  'Soul',
  'Blues',
  'Country',
  'Reggae',
  'Ambient',
  'Metal',
  'Punk',
  'Latin',
  'World',
  'Gospel',
  'Funk',
  'Disco',
  'House',
]
const NETWORK = 'benchnet'

function pick<T>(random: Random, list: readonly T[]): T {
  const bytes = random.bytes(4)
  return list[(((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0) % list.length]!
}

function int(random: Random, below: number): number {
  const bytes = random.bytes(4)
  return (((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0) % below
}

/** Pronounceable made-up words, so that prefix and fuzzy matching behave as on real titles. */
function vocabulary(random: Random): string[] {
  const consonants = 'bcdfghklmnprstvz'
  const vowels = 'aeiou'
  const words = new Set<string>()
  while (words.size < VOCABULARY) {
    let word = ''
    const syllables = 2 + int(random, 2)
    for (let i = 0; i < syllables; i++) word += pick(random, [...consonants]) + pick(random, [...vowels])
    words.add(word[0]!.toUpperCase() + word.slice(1))
  }
  return [...words]
}

function icpnFor(n: number): string {
  const body = `50${String(n).padStart(10, '0')}`
  return `${body}${icpnCheckDigit(body)}`
}

interface Corpus {
  records: SignedRecord<'consort/release'>[]
  documents: CatalogDocument[]
  words: string[]
}

async function corpus(count: number, signer: Awaited<ReturnType<typeof createNodeKeys>>['signer']): Promise<Corpus> {
  const random = new SeededRandom('catalog-bench')
  const words = vocabulary(random)
  const labels = Array.from({ length: 100 }, () => `${pick(random, words)} Records`)
  const records: SignedRecord<'consort/release'>[] = []
  const now = systemClock.now()
  for (let i = 0; i < count; i++) {
    const tracks = 1 + int(random, 3)
    records.push(
      signRecord(
        'consort/release',
        {
          network: NETWORK,
          created: now - i * 60_000,
          seq: 0,
          icpn: icpnFor(i),
          grid: null,
          title: Array.from({ length: 1 + int(random, 3) }, () => pick(random, words)).join(' '),
          artists: [`${pick(random, words)} ${pick(random, words)}`],
          type: pick(random, ['Album', 'Single', 'EP']),
          label: pick(random, labels),
          genre: pick(random, GENRES),
          releaseDate: `${1960 + int(random, 67)}-0${1 + int(random, 9)}-1${int(random, 10)}`,
          tracks: Array.from({ length: tracks }, (_, t) => ({
            isrc: `ZZBEN${String(i % 100).padStart(2, '0')}${String((i * 4 + t) % 100_000).padStart(5, '0')}`,
            manifest: sampleRecordCid(`manifest-${i}-${t}`),
          })),
          artwork: null,
        },
        signer,
      ),
    )
  }
  return { records, documents: records.map(toDocument), words }
}

interface Query {
  text: string
  filters: SearchFilters
}

/** Queries as people type them: one or two words (a word's prefix now and then), a genre facet now and then. */
function queries(words: readonly string[], count: number, random: Random): Query[] {
  return Array.from({ length: count }, () => {
    const first = pick(random, words)
    const text =
      int(random, 4) === 0
        ? first.slice(0, 3 + int(random, 2))
        : int(random, 3) === 0
          ? `${first} ${pick(random, words)}`
          : first
    return { text, filters: int(random, 5) === 0 ? { genre: pick(random, GENRES) } : {} }
  })
}

/**
 * The baseline: what a catalog without an index does — every document's text lower-cased once (as an index would
 * be built once), then every query scans them all: each word must start a word of the document, facet filters,
 * facet counts over the matches, the first page.
 */
class LinearScan {
  readonly #documents: Array<{ document: CatalogDocument; words: string[] }>

  constructor(documents: readonly CatalogDocument[]) {
    this.#documents = documents.map((document) => ({
      document,
      words: [
        document.title,
        document.artists.join(' '),
        document.release ?? '',
        document.genre ?? '',
        document.label ?? '',
        String(document.year ?? ''),
        document.extra,
      ]
        .join(' ')
        .toLowerCase()
        .split(/\s+/),
    }))
  }

  search(query: Query): Pick<SearchResponse, 'total' | 'hits' | 'facets'> {
    const terms = query.text
      .toLowerCase()
      .split(/\s+/)
      .filter((t) => t.length > 0)
    const matches: CatalogDocument[] = []
    for (const { document, words } of this.#documents) {
      if (query.filters.genre != null && document.genre !== query.filters.genre) continue
      if (terms.every((term) => words.some((word) => word.startsWith(term)))) matches.push(document)
    }
    const facets: SearchResponse['facets'] = {}
    for (const field of ['genre', 'label', 'year', 'type', 'artist'] as const) {
      const counts = new Map<string, number>()
      for (const d of matches) {
        const values =
          field === 'artist'
            ? d.artists
            : field === 'year'
              ? d.year == null
                ? []
                : [String(d.year)]
              : d[field] == null
                ? []
                : [d[field]!]
        for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
      }
      facets[field] = [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 20)
        .map(([value, count]) => ({ value, count }))
    }
    return { total: matches.length, hits: [], facets }
  }
}

async function measureSearch(
  data: Corpus,
  options: BenchOptions,
): Promise<{ p50: number[]; p99: number[]; baseP50: number[]; baseP99: number[]; meanHits: number }> {
  const index = new SearchIndex()
  for (const document of data.documents) index.put(document)
  const scan = new LinearScan(data.documents)
  const random = new SeededRandom('catalog-bench-queries')
  const perRound = options.quick ? QUICK_QUERIES_PER_ROUND : QUERIES_PER_ROUND
  // Warm up both (JIT, MiniSearch's caches).
  for (const q of queries(data.words, 50, random)) {
    index.search(q.text, q.filters, 0, PAGE_SIZE)
    scan.search(q)
  }
  const out = {
    p50: [] as number[],
    p99: [] as number[],
    baseP50: [] as number[],
    baseP99: [] as number[],
    meanHits: 0,
  }
  let hits = 0
  let counted = 0
  for (let round = 0; round < options.rounds; round++) {
    const mine = new LatencyRecorder()
    const base = new LatencyRecorder()
    for (const [i, q] of queries(data.words, perRound, random).entries()) {
      const order = i % 2 === 0 ? ['mine', 'base'] : ['base', 'mine']
      for (const which of order) {
        const started = performance.now()
        if (which === 'mine') {
          const answer = index.search(q.text, q.filters, 0, PAGE_SIZE)
          mine.record(performance.now() - started)
          hits += answer.total
          counted++
        } else {
          scan.search(q)
          base.record(performance.now() - started)
        }
      }
    }
    out.p50.push(mine.percentileMs(50))
    out.p99.push(mine.percentileMs(99))
    out.baseP50.push(base.percentileMs(50))
    out.baseP99.push(base.percentileMs(99))
    mine.destroy()
    base.destroy()
    options.log(`round ${round + 1}: p99 ${out.p99.at(-1)} ms (linear scan ${out.baseP99.at(-1)} ms)`)
  }
  out.meanHits = hits / Math.max(1, counted)
  return out
}

async function measureCatchUp(
  data: Corpus,
  net: Awaited<ReturnType<typeof createTestNetwork>>,
  producerKeys: Awaited<ReturnType<typeof createNodeKeys>>,
  options: BenchOptions,
): Promise<{ catchUpMs: number; ingestMs: number; records: number }> {
  const nodes: ConsortNode[] = []
  try {
    const clock = systemClock
    const source = await startMemoryNode({
      network: net,
      clock,
      roles: ['catalog'],
      roleOptions: { catalog: { catchUp: false, announce: false } },
    })
    nodes.push(source)
    source.trust.learnCert(net.certify(producerKeys, ['production']))
    const sourceCatalog = source.role('catalog')
    const ingestStarted = performance.now()
    for (const record of data.records) await sourceCatalog.ingest(record)
    const ingestMs = performance.now() - ingestStarted
    options.log(`source catalog holds ${sourceCatalog.size} releases (ingested in ${Math.round(ingestMs)} ms)`)
    const fresh = await startMemoryNode({
      network: net,
      clock,
      roles: ['catalog'],
      roleOptions: { catalog: { catchUp: false, announce: false } },
    })
    nodes.push(fresh)
    await fresh.libp2p.dial(source.libp2p.getMultiaddrs()[0]!)
    const freshCatalog = fresh.role('catalog')
    const started = performance.now()
    const records = await freshCatalog.catchUp(source.peerId)
    const catchUpMs = performance.now() - started
    if (freshCatalog.size !== data.records.length) {
      throw new Error(`catch-up indexed ${freshCatalog.size} of ${data.records.length} releases`)
    }
    return { catchUpMs, ingestMs, records }
  } finally {
    await stopAll(nodes)
  }
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const count = options.quick ? QUICK_RELEASES : RELEASES
  const net = await createTestNetwork(systemClock, { name: NETWORK })
  const producerKeys = await createNodeKeys()
  options.log(`signing ${count} releases`)
  const data = await corpus(count, producerKeys.signer)
  const search = await measureSearch(data, options)
  options.log(`catch-up of ${count} releases`)
  const catchUp = await measureCatchUp(data, net, producerKeys, options)
  const round = (ms: number) => Math.round(ms * 1000) / 1000
  return [
    result({
      metric: `catalog.search.p50 (${count} releases)`,
      value: round(median(search.p50)),
      unit: 'ms',
      baseline: { name: 'linear scan of the same documents, p50', value: round(median(search.baseP50)) },
    }),
    result({
      metric: `catalog.search.p99 (${count} releases)`,
      value: round(median(search.p99)),
      unit: 'ms',
      baseline: { name: 'linear scan of the same documents, p99', value: round(median(search.baseP99)) },
      target: { op: '<=', value: SEARCH_P99_TARGET_MS, of: 'value' },
    }),
    result({ metric: 'catalog.search.mean_matches', value: Math.round(search.meanHits), unit: 'releases' }),
    result({
      metric: `catalog.catchup (${catchUp.records} releases)`,
      value: Math.round(catchUp.catchUpMs),
      unit: 'ms',
      baseline: { name: 'indexing the same records locally (no network)', value: Math.round(catchUp.ingestMs) },
    }),
    result({
      metric: 'catalog.catchup.rate',
      value: Math.round((catchUp.records * 1000) / catchUp.catchUpMs),
      unit: 'releases/s',
    }),
  ]
}
