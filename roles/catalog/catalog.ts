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
import { decodeRecord, decodeRecordAs, recordId, type SignedRecord } from '../../protocols/records/envelope.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import { registerRpc } from '../../protocols/rpc/server.ts'
import type { GossipDelivery } from '../../protocols/topics/bus.ts'
import { keyHex, type TopicLookups } from '../../protocols/topics/knowledge.ts'
import type { ControlRoute, Role, RoleComponents } from '../role.ts'
import { type CatalogDocument, contentIdOf, documentKey, toDocument } from './documents.ts'
import { SearchIndex } from './search-index.ts'

const log = logger('consort:catalog')

type CatalogRecord = SignedRecord<'consort/release'> | SignedRecord<'consort/manifest'>

export interface CatalogInit {
  /** Ask a catalog peer for everything it has when starting (default true). */
  catchUp?: boolean
  /** Announce this node as a catalog service in the DHT (default true). */
  announce?: boolean
}

const enc = new TextEncoder()
const dec = new TextDecoder()
const KEY = {
  doc: (key: string) => `doc/${key}`,
  seq: (key: string) => `seq/${key}`,
  byCid: (cid: string) => `cid/${cid}`,
  withdrawn: (cid: string) => `wd/${cid}`,
  log: (n: number) => `log/${n.toString().padStart(16, '0')}`,
  counter: 'meta/log-counter',
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
  readonly #c: RoleComponents
  readonly #init: CatalogInit
  readonly #index = new SearchIndex()
  #counter = 0
  #unsubscribe: Array<() => void> = []
  #unregister: (() => Promise<void>) | undefined
  #write: Promise<void> = Promise.resolve()
  #stopped = new AbortController()

  constructor(components: RoleComponents, init: CatalogInit = {}) {
    super()
    this.#c = components
    this.#init = init
  }

  get size(): number {
    return this.#index.size
  }

  async start(): Promise<void> {
    this.#stopped = new AbortController()
    const counter = await this.#c.db.get(KEY.counter)
    this.#counter = counter == null ? 0 : Number(dec.decode(counter))
    for await (const [, value] of this.#c.db.iterator({ gte: 'doc/', lt: 'doc0' })) {
      try {
        const record = decodeRecord(value, { ...this.#decodeOptions(), now: Number.MAX_SAFE_INTEGER }) as CatalogRecord
        this.#index.put(toDocument(record))
      } catch (err) {
        log.error('dropping a stored catalog record that no longer decodes: %e', err)
      }
    }
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
      const bytes = await this.#c.db.get(KEY.doc(document.key))
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
    if ((await this.#c.db.get(KEY.withdrawn(cid))) != null) return
    const key = documentKey(record.signer, contentIdOf(record))
    const seqBytes = await this.#c.db.get(KEY.seq(key))
    const knownSeq = seqBytes == null ? -1 : Number(dec.decode(seqBytes))
    if (record.body.seq < knownSeq) return
    const current = await this.#c.db.get(KEY.doc(key))
    if (current != null && bytesEqual(current, record.bytes)) return
    if (record.body.seq === knownSeq && current != null) {
      // Two different records with the same sequence number: keep the first, as every replica does in arrival order.
      return
    }
    const batch = this.#c.db.batch()
    if (current != null) {
      const old = decodeRecord(current, { ...this.#decodeOptions(), now: Number.MAX_SAFE_INTEGER })
      batch.del(KEY.byCid(old.id.toString()))
    }
    this.#counter++
    batch.put(KEY.doc(key), record.bytes)
    batch.put(KEY.seq(key), enc.encode(String(record.body.seq)))
    batch.put(KEY.byCid(cid), enc.encode(key))
    batch.put(KEY.log(this.#counter), enc.encode(cid))
    batch.put(KEY.counter, enc.encode(String(this.#counter)))
    await batch.write()
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
    for await (const [logKey, cidBytes] of this.#c.db.iterator({ gt: KEY.log(from), lt: 'log0' })) {
      next = Number(logKey.slice(4))
      const key = await this.#c.db.get(KEY.byCid(dec.decode(cidBytes)))
      if (key != null) {
        const bytes = await this.#c.db.get(KEY.doc(dec.decode(key)))
        if (bytes != null) {
          records.push(bytes)
          const signer = dec.decode(key).split('/')[0]!
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
        { signal: this.#stopped.signal },
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
        const seqBytes = await this.#c.db.get(KEY.seq(key))
        if (seqBytes == null) return undefined
        const current = await this.#c.db.get(KEY.doc(key))
        // A version taken down keeps its number: another record under it is still a conflict.
        return { seq: Number(dec.decode(seqBytes)), id: current == null ? '' : recordId(current).toString() }
      },
      revokers: async (id) => {
        const by = await this.#c.db.get(KEY.withdrawn(id.toString()))
        const hex = by == null ? '' : dec.decode(by)
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
      const keyBytes = await this.#c.db.get(KEY.byCid(cid))
      const batch = this.#c.db.batch()
      if (keyBytes != null) {
        const key = dec.decode(keyBytes)
        const bytes = await this.#c.db.get(KEY.doc(key))
        if (bytes != null) {
          const record = decodeRecord(bytes, { ...this.#decodeOptions(), now: Number.MAX_SAFE_INTEGER })
          if (!bytesEqual(record.signer, revoker)) return
          batch.del(KEY.doc(key))
          batch.del(KEY.byCid(cid))
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
      batch.put(KEY.withdrawn(cid), enc.encode(keyHex(revoker)))
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
