import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Libp2p } from '@libp2p/interface'
import { InvalidParametersError } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { CID } from 'multiformats/cid'
import { type SearchFilters, type SearchHit, searchFilters } from '../../../protocols/catalog/index.ts'
import type { Clock } from '../../../protocols/clock.ts'
import { withDeadline } from '../../../protocols/deadline.ts'
import { isError } from '../../../protocols/errors.ts'
import { httpStatusOf } from '../../../protocols/http-status.ts'
import type { NetworkContext } from '../../../protocols/network.ts'
import { type BlockStore, collectBlock } from '../../../protocols/records/store.ts'
import type { SharedContent } from '../../../protocols/share/index.ts'
import { type CatalogAccess, type ManifestRecord, manifestReleaseId, parseContentId } from './catalog.ts'
import {
  ARTWORK_FETCH_DEADLINE_MS,
  DEFAULT_STOREFRONT_HOST,
  DEFAULT_STOREFRONT_PORT,
  HOME_SHELF_SIZE,
  MAX_ARTWORK_BYTES,
  MAX_FEATURED,
  MAX_SEARCH_PAGE,
  MAX_SHARE_PATH_CHARS,
  SEARCH_PAGE_SIZE,
} from './constants.ts'
import { NotInCatalogError, RangeNotSatisfiableError, StorefrontConfigError } from './errors.ts'
import {
  errorPage,
  homePage,
  type PageContext,
  playerPage,
  releasePage,
  searchPage,
  sharePage,
  trackPage,
} from './pages.ts'
import type { PreviewClips } from './preview.ts'
import { parseByteRange } from './range.ts'
import type { ShareDesk } from './shares.ts'
import type { OfferShelf, ShelfOffer } from './shelf.ts'

const log = logger('consort:retailer:storefront')

/** Settings of the storefront (`roleOptions.retailer.storefront`). */
export interface StorefrontInit {
  /** Serve the storefront (default true). */
  enabled?: boolean
  /** Interface to listen on (default loopback). */
  host?: string
  /** Port (default 0: a free one). */
  port?: number
  /** The store's name on its pages (default: the retailer certificate's name). */
  name?: string
  /** Releases (content ids) the home page shows first, in this order: the retailer's choice. */
  featured?: string[]
  /** The URL people reach the storefront at, when it is behind a proxy (default: the listen address). */
  publicUrl?: string
}

export interface StorefrontComponents {
  libp2p: Libp2p
  blockstore: BlockStore
  network: NetworkContext
  clock: Clock
  catalog: CatalogAccess
  shelf: OfferShelf
  previews: PreviewClips
  /** Shares signed by this store, and any share read (decision 0708). */
  shares: ShareDesk
  /** The store's name when the settings give none. */
  defaultName: () => string
}

const STATIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static')
const STATIC_FILES: Record<string, string> = {
  'store.css': 'text/css; charset=utf-8',
  'store.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
}

/**
 * Every page's security headers: only this origin's scripts, styles, images and media (nothing from a CDN), no
 * framing, no referrer beyond the origin. Buy links navigate to the visitor's own player (another origin), which
 * a content security policy does not restrict.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
}

/** Image types a cover may be, told by their first bytes (a block carries no media type). */
function imageType(bytes: Uint8Array): string | null {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg'
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'image/png'
  if (bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) return 'image/gif'
  if (
    bytes[0] === 0x52 &&
    bytes[1] === 0x49 &&
    bytes[2] === 0x46 &&
    bytes[3] === 0x46 &&
    bytes[8] === 0x57 &&
    bytes[9] === 0x45 &&
    bytes[10] === 0x42 &&
    bytes[11] === 0x50
  )
    return 'image/webp'
  return null
}

function single(value: unknown, name: string, max = 256): string | undefined {
  if (value == null) return undefined
  if (typeof value !== 'string') throw new InvalidParametersError(`${name}: give it once`)
  if (value.length > max) throw new InvalidParametersError(`${name}: longer than ${max} characters`)
  return value === '' ? undefined : value
}

/** Read and check the storefront's settings (a wrong one names itself). */
export function parseStorefrontInit(value: unknown): StorefrontInit {
  if (value == null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new StorefrontConfigError('storefront: expected an object of settings')
  }
  const v = value as Record<string, unknown>
  const known = ['enabled', 'host', 'port', 'name', 'featured', 'publicUrl']
  const unknown = Object.keys(v).filter((k) => !known.includes(k))
  if (unknown.length > 0) throw new StorefrontConfigError(`storefront: unknown setting(s) ${unknown.join(', ')}`)
  const out: StorefrontInit = {}
  if (v.enabled != null) {
    if (typeof v.enabled !== 'boolean') throw new StorefrontConfigError('storefront.enabled: expected true or false')
    out.enabled = v.enabled
  }
  if (v.host != null) {
    if (typeof v.host !== 'string' || v.host === '') throw new StorefrontConfigError('storefront.host: expected a host')
    out.host = v.host
  }
  if (v.port != null) {
    if (typeof v.port !== 'number' || !Number.isInteger(v.port) || v.port < 0 || v.port > 65_535) {
      throw new StorefrontConfigError('storefront.port: expected a port number (0 picks a free one)')
    }
    out.port = v.port
  }
  if (v.name != null) {
    if (typeof v.name !== 'string' || v.name.length === 0 || v.name.length > 128) {
      throw new StorefrontConfigError('storefront.name: expected 1 to 128 characters')
    }
    out.name = v.name
  }
  if (v.featured != null) {
    if (!Array.isArray(v.featured) || v.featured.length > MAX_FEATURED) {
      throw new StorefrontConfigError(`storefront.featured: expected at most ${MAX_FEATURED} content ids`)
    }
    out.featured = v.featured.map((id, i) => {
      try {
        const { kind, id: value } = parseContentId(String(id), `storefront.featured[${i}]`)
        return `${kind}:${value}`
      } catch (err) {
        throw new StorefrontConfigError((err as Error).message)
      }
    })
  }
  if (v.publicUrl != null) {
    if (typeof v.publicUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(v.publicUrl)) {
      throw new StorefrontConfigError('storefront.publicUrl: expected an http(s) URL')
    }
    out.publicUrl = v.publicUrl.replace(/\/+$/, '')
  }
  return out
}

/**
 * The Retail Web Site: server-rendered pages on their own port (fastify), fed by the catalog protocol (search with
 * facets, releases and tracks), this retailer's certified offers (in plain words, with Buy links to the visitor's
 * own player) and preview clips decrypted here with the key each manifest publishes.
 */
export class Storefront {
  readonly #c: StorefrontComponents
  readonly #init: StorefrontInit
  #server: FastifyInstance | undefined
  #url: string | null = null

  constructor(components: StorefrontComponents, init: StorefrontInit = {}) {
    this.#c = components
    this.#init = init
  }

  /** Where the storefront is served, once started. */
  get url(): string | null {
    return this.#url
  }

  async start(): Promise<void> {
    if (this.#server != null || this.#init.enabled === false) return
    const server = Fastify({ bodyLimit: 16 * 1024, routerOptions: { maxParamLength: MAX_SHARE_PATH_CHARS } })
    server.addHook('onSend', async (_request, reply, payload) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value)
      return payload
    })
    server.setErrorHandler((err, request, reply) => this.#replyError(err, request, reply))
    server.setNotFoundHandler((request, reply) =>
      this.#replyError(new NotInCatalogError(`there is no page at ${request.url.split('?')[0]}`), request, reply),
    )
    this.#routes(server)
    const host = this.#init.host ?? DEFAULT_STOREFRONT_HOST
    await server.listen({ host, port: this.#init.port ?? DEFAULT_STOREFRONT_PORT })
    const address = server.server.address()
    const port = typeof address === 'object' && address != null ? address.port : (this.#init.port ?? 0)
    const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host
    this.#url = this.#init.publicUrl ?? `http://${shownHost}:${port}`
    this.#server = server
    log('storefront at %s', this.#url)
  }

  async stop(): Promise<void> {
    await this.#server?.close()
    this.#server = undefined
    this.#url = null
  }

  #ctx(query?: string): PageContext {
    return { storeName: this.#init.name ?? this.#c.defaultName(), ...(query != null ? { query } : {}) }
  }

  /** Aborted when the visitor goes away before the answer was sent (the catalog and preview work stops). */
  #signal(reply: FastifyReply): AbortSignal {
    const controller = new AbortController()
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) controller.abort()
    })
    return controller.signal
  }

  #page(reply: FastifyReply, body: string, status = 200): FastifyReply {
    return reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(body)
  }

  #routes(server: FastifyInstance): void {
    server.get('/', async (_request, reply) => {
      const signal = this.#signal(reply)
      const latest = await this.#c.catalog.search(
        { query: '', filters: { kind: 'release' }, page: 0, pageSize: HOME_SHELF_SIZE },
        signal,
      )
      const featured = await this.#featured(signal)
      return this.#page(reply, homePage(this.#ctx(), featured, latest))
    })

    server.get('/search', async (request, reply) => {
      const q = request.query as Record<string, unknown>
      const query = single(q.q, 'q') ?? ''
      const pageText = single(q.page, 'page', 8)
      const page = pageText == null ? 0 : Number(pageText) - 1
      if (!Number.isInteger(page) || page < 0 || page >= MAX_SEARCH_PAGE) {
        throw new InvalidParametersError(`page: expected a page number from 1 to ${MAX_SEARCH_PAGE}`)
      }
      const yearText = single(q.year, 'year', 4)
      const candidate = Object.fromEntries(
        Object.entries({
          kind: single(q.kind, 'kind', 16),
          genre: single(q.genre, 'genre', 128),
          label: single(q.label, 'label'),
          year: yearText == null ? undefined : Number(yearText),
          type: single(q.type, 'type', 64),
          artist: single(q.artist, 'artist'),
        }).filter(([, v]) => v != null),
      )
      const parsed = searchFilters.safeParse(candidate)
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!
        throw new InvalidParametersError(`${issue.path.join('.')}: ${issue.message}`)
      }
      const filters: SearchFilters = parsed.data
      const state = { query, filters, page, pageSize: SEARCH_PAGE_SIZE }
      const result = await this.#c.catalog.search(state, this.#signal(reply))
      return this.#page(reply, searchPage(this.#ctx(query), state, result))
    })

    server.get('/release/:contentId', async (request, reply) => {
      const { contentId } = request.params as { contentId: string }
      const signal = this.#signal(reply)
      const view = await this.#c.catalog.release(contentId, signal)
      const trackIds = view.tracks.map((t) => `isrc:${t.isrc}`)
      const offers = await this.#c.shelf.forContent([view.contentId])
      const byTrack = new Map<string, ShelfOffer[]>()
      for (const id of trackIds) byTrack.set(id, await this.#c.shelf.forContent([id]))
      const first = view.release.body.tracks[0]
      const share =
        first === undefined
          ? null
          : this.#shareLink({ track: null, release: view.contentId, manifest: first.manifest }, offers)
      return this.#page(reply, releasePage(this.#ctx(), view, offers, byTrack, share))
    })

    server.get('/release/:contentId/cover', async (request, reply) => {
      const { contentId } = request.params as { contentId: string }
      const signal = this.#signal(reply)
      const view = await this.#c.catalog.release(contentId, signal)
      const artwork = view.release.body.artwork
      if (artwork == null) throw new NotInCatalogError(`${contentId} has no cover art`)
      const bytes = await collectBlock(
        this.#c.blockstore.get(artwork, {
          signal: withDeadline(ARTWORK_FETCH_DEADLINE_MS, signal).signal,
        }),
      )
      const type = imageType(bytes)
      if (type == null || bytes.length > MAX_ARTWORK_BYTES) {
        throw new NotInCatalogError(`the cover art of ${contentId} is not an image this store shows`)
      }
      return reply
        .code(200)
        .header('content-type', type)
        .header('cache-control', 'public, max-age=3600')
        .send(Buffer.from(bytes))
    })

    server.get('/track/:contentId', async (request, reply) => {
      const { contentId } = request.params as { contentId: string }
      const { kind, id } = parseContentId(contentId, 'track')
      if (kind !== 'isrc') throw new InvalidParametersError(`track: ${contentId} is a release, not a track`)
      const manifest = await this.#c.catalog.manifest(id, null, this.#signal(reply))
      const offers = await this.#c.shelf.forContent([`isrc:${id}`])
      // A track is on sale on its own or as part of its release: the search leads here for both.
      const release = manifestReleaseId(manifest)
      const releaseOffers = release != null ? await this.#c.shelf.forContent([release]) : []
      const share = this.#shareLink(
        { track: `isrc:${id}`, release: release ?? null, manifest: manifest.id },
        offers.length > 0 ? offers : releaseOffers,
      )
      return this.#page(reply, trackPage(this.#ctx(), manifest, offers, releaseOffers, share))
    })

    // A share link opened in a browser (decision 0708): what it shares, who shared it, its preview, this store's
    // offers of it, and the way into the visitor's own player, which buys with the share in its signed order.
    server.get('/share/:text', async (request, reply) => {
      const { text } = request.params as { text: string }
      const opened = this.#c.shares.read(text)
      const shared = opened.record.body.content
      const signal = this.#signal(reply)
      // The recording it previews: its track, or the release's track its manifest names (else the first).
      let manifest: ManifestRecord | null
      if (shared.track !== null) {
        manifest = await this.#c.catalog.manifest(shared.track.slice(5), shared.manifest, signal)
      } else {
        const view = await this.#c.catalog.release(shared.release!, signal)
        const tracks = view.tracks.map((t) => t.manifest).filter((m): m is ManifestRecord => m != null)
        manifest = tracks.find((m) => m.id.equals(shared.manifest)) ?? tracks[0] ?? null
      }
      const content = [shared.track, shared.release].filter((c): c is string => c !== null)
      const offers = await this.#c.shelf.forContent(content)
      return this.#page(reply, sharePage(this.#ctx(), opened, text, manifest, offers))
    })

    server.get('/preview/:contentId', async (request, reply) => {
      const { contentId } = request.params as { contentId: string }
      const { kind, id } = parseContentId(contentId, 'preview')
      if (kind !== 'isrc') throw new InvalidParametersError(`preview: ${contentId} is not a track`)
      const m = single((request.query as Record<string, unknown>).m, 'm', 128)
      let preferred: CID | null = null
      if (m != null) {
        try {
          preferred = CID.parse(m)
        } catch {
          throw new InvalidParametersError(`m: not a CID: ${m}`)
        }
      }
      const signal = this.#signal(reply)
      const manifest = await this.#c.catalog.manifest(id, preferred, signal)
      const clip = await this.#c.previews.clip(manifest, signal)
      const size = clip.bytes.length
      const range = parseByteRange(request.headers.range, size)
      reply
        .header('content-type', clip.mime)
        .header('accept-ranges', 'bytes')
        .header('cache-control', 'public, max-age=300')
      if (range == null) return reply.code(200).header('content-length', size).send(Buffer.from(clip.bytes))
      const body = clip.bytes.subarray(range.start, range.end + 1)
      return reply
        .code(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
        .header('content-length', body.length)
        .send(Buffer.from(body))
    })

    server.get('/player', async (_request, reply) => this.#page(reply, playerPage(this.#ctx())))

    server.get('/static/:file', async (request, reply) => {
      const { file } = request.params as { file: string }
      // Own names only: `constructor`, `__proto__` or `toString` would find Object.prototype's (issue 11, finding 7).
      const type = Object.hasOwn(STATIC_FILES, file) ? STATIC_FILES[file] : undefined
      if (type == null) throw new NotInCatalogError(`no file ${file}`)
      const bytes = await readFile(path.join(STATIC_DIR, file))
      return reply.code(200).header('content-type', type).header('cache-control', 'public, max-age=3600').send(bytes)
    })

    server.get('/healthz', async (_request, reply) => reply.code(200).send({ ok: true }))
  }

  /**
   * A share of a page's track or release signed by this store, recommending its cheapest offer of it (the shelf lists
   * cheapest first): the address of its `/share/…` page.
   */
  #shareLink(content: SharedContent, offers: readonly ShelfOffer[]): string | null {
    try {
      const cheapest = [...offers].sort((a, b) =>
        a.price.currency !== b.price.currency
          ? a.price.currency.localeCompare(b.price.currency)
          : a.price.amount < b.price.amount
            ? -1
            : a.price.amount > b.price.amount
              ? 1
              : 0,
      )[0]
      return `${this.#url ?? ''}/share/${this.#c.shares.make(content, cheapest?.offerId ?? null)}`
    } catch (err) {
      log.error('cannot sign a share of %s: %e', content.track ?? content.release, err)
      return null
    }
  }

  async #featured(signal: AbortSignal): Promise<SearchHit[]> {
    const out: SearchHit[] = []
    for (const contentId of this.#init.featured ?? []) {
      try {
        const view = await this.#c.catalog.release(contentId, signal)
        const r = view.release.body
        out.push({
          kind: 'release',
          contentId: view.contentId,
          record: view.release.id.toString(),
          title: r.title,
          artists: r.artists,
          release: r.title,
          genre: r.genre,
          label: r.label,
          year: r.releaseDate != null ? Number(r.releaseDate.slice(0, 4)) : null,
          type: r.type,
          durationMs: null,
          tracks: r.tracks.length,
          score: 0,
        })
      } catch (err) {
        log('featured release %s is not shown: %e', contentId, err)
      }
    }
    return out
  }

  #replyError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const error = err as Error & { code?: string }
    const status = httpStatusOf(err)
    if (isError(err, RangeNotSatisfiableError)) {
      void reply.code(416).header('content-range', `bytes */${err.size}`).send()
      return
    }
    if (status >= 500) log.error('storefront %s %s failed: %e', request.method, request.url, err)
    const titles: Record<number, string> = {
      400: 'That request is not quite right',
      404: 'Not found',
      503: 'The catalog is unavailable',
    }
    const title = titles[status] ?? 'Something went wrong'
    const message =
      status >= 500 && status !== 503 ? 'The store could not answer. Please try again in a moment.' : error.message
    const wantsHtml = !(
      request.url.startsWith('/preview/') ||
      request.url.startsWith('/static/') ||
      /^\/release\/[^/]+\/cover/.test(request.url)
    )
    if (!wantsHtml) {
      void reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(message)
      return
    }
    void this.#page(reply, errorPage(this.#ctx(), status, title, message), status)
  }
}
