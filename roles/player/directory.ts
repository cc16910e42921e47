import type { Libp2p, PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { findCatalogPeers, searchRemoteCatalog } from '../../protocols/catalog/client.ts'
import {
  CATALOG_OPS,
  CATALOG_PROTOCOL,
  lookupResponse,
  MAX_PAGE_SIZE,
  type SearchHit,
} from '../../protocols/catalog/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import { withDeadline } from '../../protocols/deadline.ts'
import { isError } from '../../protocols/errors.ts'
import { tryCanonicalContentId } from '../../protocols/identifiers/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { type DecodeOptions, decodeRecord, type SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import { releaseContentId } from '../../protocols/records/types/release.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { WireErrors } from '../../protocols/rpc/errors.ts'
import type { TopicBus } from '../../protocols/topics/bus.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import type { Repository, StoreValueError } from '../store.ts'
import { MAX_KNOWN_MANIFESTS, MAX_KNOWN_RELEASES, MAX_SEARCH_RESULTS } from './constants.ts'
import { BadPlayerRequestError, ContentNotFoundError } from './errors.ts'
import type { PlayerRoleStore } from './store.ts'

/**
 * What the player knows of the catalog: the releases and manifests it saw on the `catalog` topic or fetched from a
 * catalog node, kept in its sublevel so that a licensed track still plays offline after a restart. Search asks the
 * catalog protocol (this node's own replica if it runs the catalog role, else the nearest catalog nodes) and falls
 * back to this local knowledge when no catalog answers.
 *
 *   cat!m!<isrc>          the newest manifest record of the ISRC (bytes)
 *   cat!r!<content id>    the newest release record (bytes)
 */

const log = logger('consort:player:directory')

/** Time one catalog node gets to answer a search or lookup. */
const CATALOG_DEADLINE_MS = 5_000

type CatalogRecord = SignedRecord<'consort/manifest'> | SignedRecord<'consort/release'>

export interface DirectoryComponents {
  /** The player's store: the newest manifests and releases known are kept in its `manifests` and `releases`. */
  store: PlayerRoleStore
  libp2p: Libp2p
  network: NetworkContext
  topics: TopicBus
  trust: CertificateTrust
  records: RecordStore
  clock: Clock
}

/** What the catalog's lookup is asked: exactly one identifier. */
type LookupKey = { isrc: string } | { icpn: string } | { grid: string }

/** One search result, from a catalog node or from local knowledge. */
export type DirectoryHit = Omit<SearchHit, 'score'> & { score: number; source: 'catalog' | 'local' }

/** A content id the player accepts on the command line: `isrc:…`, a bare ISRC, a release id, or a record CID. */
export function normaliseContent(content: string): string {
  const trimmed = content.trim()
  const canonical = tryCanonicalContentId(trimmed)
  if (canonical != null) return canonical
  if (/^(isrc|icpn|grid):/i.test(trimmed)) {
    throw new BadPlayerRequestError(`content: ${JSON.stringify(content)} is not a valid ISRC, UPC/EAN or GRid`)
  }
  try {
    return CID.parse(trimmed).toString()
  } catch {
    throw new BadPlayerRequestError(`content: ${JSON.stringify(content)} is not an ISRC, a release id or a record CID`)
  }
}

export class ContentDirectory {
  readonly #c: DirectoryComponents
  /** ISRC → newest manifest; insertion order is age, for eviction. */
  readonly #manifests = new Map<string, SignedRecord<'consort/manifest'>>()
  readonly #releases = new Map<string, SignedRecord<'consort/release'>>()
  #unsubscribe: (() => void) | null = null

  constructor(components: DirectoryComponents) {
    this.#c = components
  }

  get manifestCount(): number {
    return this.#manifests.size
  }

  async start(): Promise<void> {
    for (const repository of [this.#c.store.repositories.manifests, this.#c.store.repositories.releases]) {
      const unreadable: string[] = []
      const onBadValue = (err: StoreValueError) => {
        log('dropping %s%s: %s', repository.prefix, err.key, err.message)
        unreadable.push(err.key)
      }
      for await (const record of repository.values({ onBadValue })) this.#keep(record)
      for (const key of unreadable) await repository.del(key)
    }
    this.#unsubscribe = this.#c.topics.subscribe('catalog', {
      onMessage: async (delivery) => {
        await this.remember(delivery.record as CatalogRecord)
      },
    })
  }

  stop(): void {
    this.#unsubscribe?.()
    this.#unsubscribe = null
  }

  /** Keep a release or manifest if it is newer than what is known of its content. */
  async remember(record: CatalogRecord): Promise<boolean> {
    if (!this.#keep(record)) return false
    const { manifests, releases } = this.#c.store.repositories
    if (record.type === 'consort/manifest') {
      const manifest = record as SignedRecord<'consort/manifest'>
      await manifests.put(manifest.body.isrc, manifest)
    } else {
      const release = record as SignedRecord<'consort/release'>
      await releases.put(releaseContentId(release.body), release)
    }
    await this.#c.records.put(record).catch((err) => log.error('cannot store %c: %e', record.id, err))
    return true
  }

  /** The newest manifest known locally for an ISRC. */
  manifestFor(isrc: string): SignedRecord<'consort/manifest'> | undefined {
    const manifest = this.#manifests.get(isrc)
    return manifest !== undefined && !this.#c.trust.isRevoked(manifest.id) ? manifest : undefined
  }

  /** Release content ids (`icpn:…`) that list this ISRC, known locally. */
  releasesOf(isrc: string): string[] {
    const out: string[] = []
    for (const [contentId, release] of this.#releases) {
      if (release.body.tracks.some((t) => t.isrc === isrc)) out.push(contentId)
    }
    return out
  }

  release(contentId: string): SignedRecord<'consort/release'> | undefined {
    return this.#releases.get(tryCanonicalContentId(contentId) ?? contentId)
  }

  /**
   * The release record of a release content id (`icpn:…`, `grid:…`): known locally, else asked of the catalog and
   * remembered; undefined when no catalog reached knows it. For showing a release's title, never for trust.
   */
  async lookupRelease(contentId: string, signal?: AbortSignal): Promise<SignedRecord<'consort/release'> | undefined> {
    const id = tryCanonicalContentId(contentId)
    if (id == null || id.startsWith('isrc:')) return undefined
    const known = this.release(id)
    if (known !== undefined) return known
    const [scheme, code] = id.split(':') as ['icpn' | 'grid', string]
    for (const record of await this.#lookup({ [scheme]: code } as LookupKey, signal)) await this.remember(record)
    return this.release(id)
  }

  /**
   * The manifest to play for a content id (`isrc:…`) or a manifest CID: local knowledge first, then the catalog's
   * lookup, then the record store (a CID). Throws `ContentNotFoundError`.
   */
  async resolve(content: string, signal?: AbortSignal): Promise<SignedRecord<'consort/manifest'>> {
    const id = normaliseContent(content)
    if (id.startsWith('isrc:')) {
      const isrc = id.slice('isrc:'.length)
      const local = this.manifestFor(isrc)
      if (local !== undefined) return local
      const found = await this.#lookup({ isrc }, signal)
      const manifest = found.find(
        (r): r is SignedRecord<'consort/manifest'> => r.type === 'consort/manifest' && r.body.isrc === isrc,
      )
      if (manifest !== undefined) {
        await this.remember(manifest)
        return this.manifestFor(isrc) ?? manifest
      }
      throw new ContentNotFoundError(`no manifest of ${id} is known here or to any catalog node reached`)
    }
    if (id.startsWith('icpn:') || id.startsWith('grid:')) {
      throw new BadPlayerRequestError(`content: ${id} is a release; play one of its tracks (isrc:…)`)
    }
    const cid = CID.parse(id)
    try {
      const record = await this.#c.records.get(cid, { signal: signal ?? AbortSignal.timeout(CATALOG_DEADLINE_MS) })
      if (record.type !== 'consort/manifest') throw new BadPlayerRequestError(`content: ${id} is a ${record.type}`)
      await this.remember(record as SignedRecord<'consort/manifest'>)
      return record as SignedRecord<'consort/manifest'>
    } catch (err) {
      if (isError(err, BadPlayerRequestError)) throw err
      throw new ContentNotFoundError(`manifest ${id} could not be fetched: ${(err as Error).message}`)
    }
  }

  /**
   * Search the catalog: this node's own replica or the nearest catalog nodes, falling back to what this player saw
   * on the catalog topic. Hits name releases (`icpn:`/`grid:`) and tracks (`isrc:`).
   */
  async search(
    query: string,
    options: { limit?: number; signal?: AbortSignal } = {},
  ): Promise<{ hits: DirectoryHit[]; source: 'catalog' | 'local'; total: number }> {
    const limit = Math.min(options.limit ?? 20, MAX_PAGE_SIZE)
    const signal = bounded(options.signal)
    for (const peer of await this.#catalogPeers(signal)) {
      try {
        const answer = await searchRemoteCatalog(
          this.#c.libp2p,
          this.#c.network,
          peer,
          { query, filters: {}, page: 0, pageSize: limit },
          bounded(options.signal),
        )
        return {
          hits: answer.hits.map((h) => ({ ...h, source: 'catalog' as const })),
          source: 'catalog',
          total: answer.total,
        }
      } catch (err) {
        log('catalog %p did not answer: %s', peer, (err as Error).message)
      }
    }
    const hits = this.searchLocal(query, limit)
    return { hits, source: 'local', total: hits.length }
  }

  /** Every word of the query must appear (case-insensitive) in a record's title, artists, release, genre or ids. */
  searchLocal(query: string, limit = MAX_SEARCH_RESULTS): DirectoryHit[] {
    const words = query
      .toLowerCase()
      .split(/\s+/)
      .filter((w) => w.length > 0)
    const matches = (text: string) => words.every((w) => text.includes(w))
    const hits: DirectoryHit[] = []
    for (const [contentId, release] of this.#releases) {
      if (this.#c.trust.isRevoked(release.id)) continue
      const b = release.body
      const text = [b.title, ...b.artists, b.genre, b.label, b.icpn, b.grid, b.releaseDate, b.type]
        .join(' ')
        .toLowerCase()
      if (!matches(text)) continue
      hits.push({
        kind: 'release',
        contentId,
        record: release.id.toString(),
        title: b.title,
        artists: b.artists,
        release: b.title,
        genre: b.genre,
        label: b.label,
        year: b.releaseDate === null ? null : Number(b.releaseDate.slice(0, 4)),
        type: b.type,
        durationMs: null,
        tracks: b.tracks.length,
        score: 1,
        source: 'local',
      })
    }
    for (const [isrc, manifest] of this.#manifests) {
      if (this.#c.trust.isRevoked(manifest.id)) continue
      const b = manifest.body
      const text = [b.title, b.version, ...b.artists, b.release?.title, b.genre, b.label, b.year, isrc, b.release?.icpn]
        .join(' ')
        .toLowerCase()
      if (!matches(text)) continue
      hits.push({
        kind: 'track',
        contentId: `isrc:${isrc}`,
        record: manifest.id.toString(),
        title: b.title,
        artists: b.artists,
        release: b.release?.title ?? null,
        genre: b.genre,
        label: b.label,
        year: b.year,
        type: null,
        durationMs: b.durationMs,
        tracks: null,
        score: 1,
        source: 'local',
      })
    }
    return hits.slice(0, limit)
  }

  async #catalogPeers(signal?: AbortSignal): Promise<PeerId[]> {
    const protocol = this.#c.network.protocol(CATALOG_PROTOCOL)
    const peers: PeerId[] = []
    if (this.#c.libp2p.getProtocols().includes(protocol)) peers.push(this.#c.libp2p.peerId)
    try {
      peers.push(...(await findCatalogPeers(this.#c.libp2p, this.#c.network, { signal: bounded(signal) })))
    } catch (err) {
      log('no catalog peers: %s', (err as Error).message)
    }
    return peers
  }

  async #lookup(request: LookupKey, signal?: AbortSignal): Promise<CatalogRecord[]> {
    const options = this.#decodeOptions()
    for (const peer of await this.#catalogPeers(bounded(signal))) {
      try {
        const body = await rpcCall(
          this.#c.libp2p,
          peer,
          this.#c.network.protocol(CATALOG_PROTOCOL),
          CATALOG_OPS.lookup,
          request,
          { deadlineMs: CATALOG_DEADLINE_MS, errors: WireErrors.shared, ...(signal ? { signal } : {}) },
        )
        const { records } = parseMessage(lookupResponse, body, 'response')
        const out: CatalogRecord[] = []
        for (const bytes of records) {
          try {
            const record = decodeRecord(bytes, options)
            if (
              (record.type === 'consort/manifest' || record.type === 'consort/release') &&
              !this.#c.trust.isRevoked(record.id)
            ) {
              out.push(record as CatalogRecord)
            }
          } catch (err) {
            log('catalog %p sent a bad record: %s', peer, (err as Error).message)
          }
        }
        if (out.length > 0) return out
      } catch (err) {
        log('catalog %p lookup failed: %s', peer, (err as Error).message)
      }
    }
    return []
  }

  #keep(record: CatalogRecord): boolean {
    if (record.type === 'consort/manifest') {
      const manifest = record as SignedRecord<'consort/manifest'>
      const isrc = manifest.body.isrc
      const known = this.#manifests.get(isrc)
      if (known !== undefined && !newer(manifest, known)) return false
      this.#manifests.delete(isrc)
      this.#manifests.set(isrc, manifest)
      this.#evict(this.#manifests, MAX_KNOWN_MANIFESTS, this.#c.store.repositories.manifests)
      return true
    }
    const release = record as SignedRecord<'consort/release'>
    const contentId = releaseContentId(release.body)
    const known = this.#releases.get(contentId)
    if (known !== undefined && !newer(release, known)) return false
    this.#releases.delete(contentId)
    this.#releases.set(contentId, release)
    this.#evict(this.#releases, MAX_KNOWN_RELEASES, this.#c.store.repositories.releases)
    return true
  }

  #evict(map: Map<string, CatalogRecord>, max: number, repository: Repository<CatalogRecord>): void {
    while (map.size > max) {
      const oldest = map.keys().next()
      if (oldest.done === true) return
      map.delete(oldest.value)
      repository.del(oldest.value).catch(() => {})
    }
  }

  #decodeOptions(): DecodeOptions {
    return { network: this.#c.network.name, now: this.#c.clock.now(), caps: this.#c.network.caps }
  }
}

/** The caller's signal (if any), bounded by the catalog deadline. */
function bounded(signal?: AbortSignal): AbortSignal {
  return withDeadline(CATALOG_DEADLINE_MS, signal).signal
}

/** A record supersedes another of the same content when its signer is the same and its `seq` higher, or it is newer. */
function newer(candidate: CatalogRecord, known: CatalogRecord): boolean {
  if (candidate.id.equals(known.id)) return false
  const sameSigner = toHex(candidate.signer) === toHex(known.signer)
  if (sameSigner) return candidate.body.seq > known.body.seq
  return candidate.body.created > known.body.created
}
