import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { catalogServiceCid, findCatalogPeers } from '../../protocols/catalog/client.ts'
import {
  CATALOG_OPS,
  CATALOG_PROTOCOL,
  lookupRequest,
  MAX_SYNC_PAGE,
  type SearchRequest,
  type SearchResponse,
  searchRequest,
  syncRequest,
  syncResponse,
} from '../../protocols/catalog/index.ts'
import { canonicalIcpn } from '../../protocols/identifiers/index.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { decodeRecord, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { WireErrors } from '../../protocols/rpc/errors.ts'
import { registerRpc } from '../../protocols/rpc/server.ts'
import type { GossipDelivery } from '../../protocols/topics/bus.ts'
import { keyHex, type TopicLookups } from '../../protocols/topics/knowledge.ts'
import type { ControlRoute, Role, RoleComponents } from '../role.ts'
import type { RoleStore } from '../store.ts'
import { type CatalogDocument, contentIdOf, documentKey, toDocument } from './documents.ts'
import { SearchIndex } from './search-index.ts'
import { type CATALOG_LAYOUT, logKey } from './store.ts'

const log = logger('consort:catalog')

type CatalogRecord = SignedRecord<'consort/release'> | SignedRecord<'consort/manifest'>

export interface CatalogInit {
  /** Ask a catalog peer for everything it has when starting (default true). */
  catchUp?: boolean
  /** Announce this node as a catalog service in the DHT (default true). */
  announce?: boolean
}

/** What the catalog takes from the node. */
export type CatalogComponents = Pick<RoleComponents, 'peerId' | 'libp2p' | 'clock' | 'network' | 'topics' | 'trust'> & {
  store: RoleStore<(typeof CATALOG_LAYOUT)['repositories']>
}

export interface CatalogEvents {
  'catalog:indexed': CustomEvent<{ contentId: string; record: string }>
  'catalog:withdrawn': CustomEvent<{ contentId: string; record: string }>
  'catalog:caught-up': CustomEvent<{ records: number; from: string }>
}

/**
 * The Content Catalog: keeps a searchable replica of every current release and manifest, fed by the catalog
 * topic and by catching up from another catalog when it joins; drops taken-down items at once.
 */
export class CatalogRole extends EventTarget implements Role {
  readonly name = 'catalog' as const
  readonly #c: CatalogComponents
  readonly #repos: CatalogComponents['store']['repositories']
  readonly #init: CatalogInit
  readonly #index = new SearchIndex()
  #counter = 0
  #unsubscribe: Array<() => void> = []
  #unregister: (() => Promise<void>) | undefined
  #write: Promise<void> = Promise.resolve()
  #stopped = new AbortController()

  constructor(components: CatalogComponents, init: CatalogInit = {}) {
    super()
    this.#c = components
    this.#repos = components.store.repositories
    this.#init = init
  }

  get size(): number {
    return this.#index.size
  }

  async start(): Promise<void> {
    this.#stopped = new AbortController()
    this.#counter = (await this.#repos.counter.get('')) ?? 0
    const onBadValue = (err: Error) => log.error('dropping a stored catalog record that no longer decodes: %e', err)
    for await (const record of this.#repos.docs.values({ onBadValue })) this.#index.put(toDocument(record))
    this.#unsubscribe.push(
      // The catalog topic's rule decides what arrives (protocols/topics/catalog.ts); the store tells it what is known.
      this.#c.topics.subscribe('catalog', {
        lookups: this.#lookups(),
        onMessage: (delivery) => this.ingest(delivery.record as CatalogRecord),
      }),
      this.#c.topics.subscribe('revocations', { onMessage: (delivery) => this.#onRevocation(delivery) }),
    )
    this.#unregister = await registerRpc(this.#c.libp2p, this.#c.network.protocol(CATALOG_PROTOCOL), {
      [CATALOG_OPS.search]: async (body) => this.search(parseMessage(searchRequest, body, 'request')),
      [CATALOG_OPS.lookup]: async (body) => {
        const request = parseMessage(lookupRequest, body, 'request')
        const contentId =
          request.isrc != null
            ? `isrc:${request.isrc}`
            : request.icpn != null
              ? `icpn:${canonicalIcpn(request.icpn)}`
              : `grid:${request.grid}`
        return { records: await this.lookup(contentId) }
      },
      [CATALOG_OPS.sync]: async (body) => this.syncPage(parseMessage(syncRequest, body, 'request')),
    })
    if (this.#init.announce !== false) this.#announce()
    if (this.#init.catchUp !== false) {
      this.catchUp().catch((err) => log('catch-up at start failed: %e', err))
    }
  }

  async stop(): Promise<void> {
    this.#stopped.abort()
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    this.#unsubscribe = []
    await this.#unregister?.()
    this.#unregister = undefined
    await this.#write
  }

  search(request: SearchRequest): SearchResponse {
    return this.#index.search(request.query, request.filters, request.page, request.pageSize)
  }

  /** The current records for a content id (one per signer that published it). */
  async lookup(contentId: string): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for (const document of this.#index.byContentId(contentId)) {
      // Served as stored: the asking peer verifies every record (as the catalog did when it indexed it).
      const bytes = await this.#repos.docs.getBytes(document.key)
      if (bytes != null) out.push(bytes)
    }
    return out
  }

  documents(contentId: string): CatalogDocument[] {
    return this.#index.byContentId(contentId)
  }

  /** Index a release or manifest if it is new and current. Serialised, so concurrent arrivals cannot interleave. */
  ingest(record: CatalogRecord): Promise<void> {
    const next = this.#write.then(() => this.#ingest(record))
    this.#write = next.catch(() => {})
    return next
  }

  async #ingest(record: CatalogRecord): Promise<void> {
    const cid = record.id.toString()
    const repos = this.#repos
    if (await repos.withdrawn.has(cid)) return
    const key = documentKey(record.signer, contentIdOf(record))
    const knownSeq = (await repos.seqs.get(key)) ?? -1
    if (record.body.seq < knownSeq) return
    const current = await repos.docs.get(key)
    if (current != null && bytesEqual(current.bytes, record.bytes)) return
    if (record.body.seq === knownSeq && current != null) {
      // Two different records with the same sequence number: keep the first, as every replica does in arrival order.
      return
    }
    const batch = this.#c.store.batch()
    if (current != null) batch.del(repos.byCid, current.id.toString())
    const n = this.#counter + 1
    batch.put(repos.docs, key, record)
    batch.put(repos.seqs, key, record.body.seq)
    batch.put(repos.byCid, cid, key)
    batch.put(repos.log, logKey(n), cid)
    batch.put(repos.counter, '', n)
    await batch.write()
    this.#counter = n
    const document = toDocument(record)
    this.#index.put(document)
    this.dispatchEvent(new CustomEvent('catalog:indexed', { detail: { contentId: document.contentId, record: cid } }))
  }

  /** A page of current records in this catalog's arrival order, for a catalog that is catching up. */
  async syncPage(request: {
    cursor: string
    limit: number
  }): Promise<{ records: Uint8Array[]; certs: Uint8Array[]; next: string; done: boolean }> {
    const from = request.cursor === '' ? 0 : Number(request.cursor)
    const records: Uint8Array[] = []
    const certs = new Map<string, Uint8Array>()
    let next = from
    let done = true
    for await (const [n, cid] of this.#repos.log.entries({ gt: logKey(from) })) {
      next = Number(n)
      const key = await this.#repos.byCid.get(cid)
      if (key != null) {
        // Served as stored: the catching-up catalog verifies every record (as this one did when it indexed it).
        const bytes = await this.#repos.docs.getBytes(key)
        if (bytes != null) {
          records.push(bytes)
          const signer = key.split('/')[0]!
          const cert = certs.has(signer) ? undefined : this.#c.trust.certOf(Buffer.from(signer, 'hex'))
          if (cert != null) certs.set(signer, cert.bytes)
        }
      }
      if (records.length >= Math.min(request.limit, MAX_SYNC_PAGE)) {
        done = false
        break
      }
    }
    return { records, certs: [...certs.values()], next: String(next), done }
  }

  /** Catch up from a catalog peer: page through its records and ingest each (verified like gossip). */
  async catchUp(peer?: PeerId): Promise<number> {
    const peers =
      peer != null ? [peer] : await findCatalogPeers(this.#c.libp2p, this.#c.network, { signal: this.#stopped.signal })
    const source = peers.find((p) => !p.equals(this.#c.peerId))
    if (source == null) return 0
    let cursor = ''
    let count = 0
    for (;;) {
      const body = await rpcCall(
        this.#c.libp2p,
        source,
        this.#c.network.protocol(CATALOG_PROTOCOL),
        CATALOG_OPS.sync,
        { cursor, limit: MAX_SYNC_PAGE },
        { signal: this.#stopped.signal, errors: WireErrors.shared },
      )
      const page = parseMessage(syncResponse, body, 'response')
      for (const bytes of page.certs) {
        try {
          this.#c.trust.learnCert(decodeRecordAs('consort/cert', bytes, this.#decodeOptions()))
        } catch (err) {
          log('sync: skipping a certificate from %p: %e', source, err)
        }
      }
      for (const bytes of page.records) {
        try {
          const record = decodeRecord(bytes, this.#decodeOptions())
          if (record.type !== 'consort/release' && record.type !== 'consort/manifest') continue
          const trust = this.#c.trust.check(record)
          if (!trust.ok) continue
          await this.ingest(record as CatalogRecord)
          count++
        } catch (err) {
          log('sync: skipping a record from %p: %e', source, err)
        }
      }
      if (page.done || page.next === cursor) break
      cursor = page.next
    }
    this.dispatchEvent(new CustomEvent('catalog:caught-up', { detail: { records: count, from: source.toString() } }))
    return count
  }

  get controlRoutes(): ControlRoute[] {
    return [
      {
        method: 'GET',
        path: '/search',
        handler: async ({ query }) =>
          this.search(
            parseMessage(
              searchRequest,
              {
                query: query.q ?? '',
                filters: Object.fromEntries(
                  Object.entries({
                    kind: query.kind,
                    genre: query.genre,
                    label: query.label,
                    type: query.type,
                    artist: query.artist,
                    year: query.year == null ? undefined : Number(query.year),
                  }).filter(([, v]) => v != null && v !== ''),
                ),
                page: query.page == null ? 0 : Number(query.page),
                pageSize: query.pageSize == null ? 20 : Number(query.pageSize),
              },
              'query',
            ),
          ),
      },
      {
        method: 'GET',
        path: '/content/:contentId',
        handler: async ({ params }) => {
          const records = await this.lookup(params.contentId ?? '')
          return records.map((bytes) => {
            const record = decodeRecord(bytes, { ...this.#decodeOptions(), now: Number.MAX_SAFE_INTEGER })
            return { id: record.id, type: record.type, signer: record.signer, body: record.body }
          })
        },
      },
      { method: 'POST', path: '/sync', handler: async () => ({ records: await this.catchUp() }) },
    ]
  }

  /** What this catalog's store knows, for the catalog topic's rule: the newest version of each record, and takedowns. */
  #lookups(): TopicLookups {
    return {
      latest: async (record) => {
        const key = documentKey(record.signer, contentIdOf(record as CatalogRecord))
        const seq = await this.#repos.seqs.get(key)
        if (seq == null) return undefined
        const current = await this.#repos.docs.get(key)
        // A version taken down keeps its number: another record under it is still a conflict.
        return { seq, id: current == null ? '' : current.id.toString() }
      },
      revokers: async (id) => {
        const hex = (await this.#repos.withdrawn.get(id.toString())) ?? ''
        // Takedowns kept before the revoker was recorded say only "withdrawn": the role still honours them.
        return /^[0-9a-f]{64}$/.test(hex) ? [hex] : []
      },
    }
  }

  async #onRevocation(delivery: GossipDelivery): Promise<void> {
    const revocation = delivery.record as SignedRecord<'consort/revocation'>
    for (const target of revocation.body.targets) {
      if (target.kind !== 'release' && target.kind !== 'manifest') continue
      await this.withdraw(target.id, revocation.signer)
    }
  }

  /** Take down one release or manifest record; only its own signer may. Idempotent. */
  withdraw(id: CID, revoker: Uint8Array): Promise<void> {
    const next = this.#write.then(async () => {
      const cid = id.toString()
      const repos = this.#repos
      const key = await repos.byCid.get(cid)
      const batch = this.#c.store.batch()
      if (key != null) {
        const record = await repos.docs.get(key)
        if (record != null) {
          if (!bytesEqual(record.signer, revoker)) return
          batch.del(repos.docs, key)
          batch.del(repos.byCid, cid)
          const document = this.#index.get(key)
          this.#index.delete(key)
          if (document != null)
            this.dispatchEvent(
              new CustomEvent('catalog:withdrawn', { detail: { contentId: document.contentId, record: cid } }),
            )
        }
      } else if (!this.#c.trust.hasRole(revoker, 'production')) {
        return
      }
      batch.put(repos.withdrawn, cid, keyHex(revoker))
      await batch.write()
    })
    this.#write = next.catch(() => {})
    return next
  }

  #announce(): void {
    this.#c.libp2p.contentRouting
      .provide(catalogServiceCid(this.#c.network.name), { signal: this.#stopped.signal })
      .catch((err) => log('could not announce the catalog service: %e', err))
  }

  #decodeOptions() {
    return { network: this.#c.network.name, now: this.#c.clock.now(), caps: this.#c.network.caps }
  }
}
