import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { logger } from '@libp2p/logger'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Random } from '../../../keys/random.ts'
import type { Clock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { httpStatusOf } from '../../../protocols/http-status.ts'
import { formatMinorUnits } from '../../../protocols/identifiers/currencies.ts'
import { html } from '../../common/html.ts'
import { MAX_SHARE_LINK_TEXT } from '../../common/share-links.ts'
import type { ControlRoute, RoleWebMount } from '../../role.ts'
import type { PlayerRole } from '../player.ts'
import { UiAuth, type UiSession } from './auth.ts'
import {
  BALANCE_DEADLINE_MS,
  CHECKOUT_OFFERS_DEADLINE_MS,
  MAX_FORM_BYTES,
  RETURN_COOKIE,
  RETURN_COOKIE_MAX_AGE_S,
  SESSION_COOKIE,
  SESSION_IDLE_MS,
  TITLE_LOOKUP_DEADLINE_MS,
  UI_PREFIX,
  USAGE_PAGE_EVENTS,
} from './constants.ts'
import {
  BadUiRequestError,
  CsrfError,
  LoginLinkInvalidError,
  NotLoggedInError,
  OfferNotListedError,
  UiNotFoundError,
} from './errors.ts'
import { CID_TEXT, CONTENT, cookies, field, returnPath, SHARE_TEXT, storeUrl } from './input.ts'
import {
  accountPage,
  checkoutPage,
  libraryPage,
  loginHelp,
  messagePage,
  openedSharePage,
  playPage,
  purchaseDonePage,
  purchaseRefusedPage,
  sharedPage,
  type UiContext,
  type UsageRow,
} from './pages.ts'
import { codeOf, explainRefusal } from './refusals.ts'

const log = logger('consort:player:ui')

/** What the web player uses of the player role (its public face: the pages see no more than the CLI does). */
export type PlayerUiBackend = Pick<
  PlayerRole,
  | 'status'
  | 'offers'
  | 'buy'
  | 'quote'
  | 'licences'
  | 'usage'
  | 'balance'
  | 'streams'
  | 'directory'
  | 'share'
  | 'readShare'
  | 'openShare'
>

const STATIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static')
const STATIC_FILES: Record<string, string> = {
  'player.css': 'text/css; charset=utf-8',
  'player.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
}

/**
 * The web player and library, served by the listener's own player daemon at its control API origin under `/ui/`:
 * checkout of an offer a storefront sent the visitor to (shown in plain words, confirmed with a CSRF-protected
 * POST), the library (licences, remaining plays, expiry), a web player streaming decrypted audio with HTTP Range
 * from the daemon into an `<audio>` element, the account balance and the usage history. Authentication is a
 * one-time login link (`consort ui`) that starts an HttpOnly, SameSite=Lax session cookie.
 */
export class PlayerUi {
  readonly auth: UiAuth
  /** Where the control API mounts the pages (outside its bearer-token check: the pages bring their own login). */
  readonly web: RoleWebMount
  readonly #player: PlayerUiBackend

  constructor(player: PlayerUiBackend, clock: Clock, random: Random) {
    this.#player = player
    this.auth = new UiAuth(clock, random)
    this.web = { prefix: UI_PREFIX, plugin: async (instance) => this.#register(instance) }
  }

  /** `POST /v1/player/ui/login-link`: a one-time login path for `consort ui` (the caller prefixes its origin). */
  get controlRoutes(): ControlRoute[] {
    return [
      {
        method: 'POST',
        path: '/ui/login-link',
        handler: async () => {
          const { token, expiresAt } = this.auth.issueLoginToken()
          return { path: `${UI_PREFIX}/login?token=${token}`, expiresAt }
        },
      },
    ]
  }

  #origin(request: FastifyRequest): string {
    return `${request.protocol}://${request.headers.host ?? '127.0.0.1'}`
  }

  #context(request: FastifyRequest, session: UiSession | null): UiContext {
    let account: string | null = null
    try {
      account = session != null ? this.#player.status().account : null
    } catch {
      account = null
    }
    return { csrf: session?.csrf ?? null, origin: this.#origin(request), account }
  }

  #session(request: FastifyRequest): UiSession {
    const session = this.auth.session(cookies(request.headers.cookie).get(SESSION_COOKIE))
    if (session == null) throw new NotLoggedInError('you are not logged in to this player')
    return session
  }

  /** A state-changing request: same origin (when the browser says), and the session's CSRF token. */
  #checkWrite(request: FastifyRequest, session: UiSession, presented: unknown): void {
    const origin = request.headers.origin
    if (origin != null && origin !== this.#origin(request)) throw new CsrfError(`a request from ${origin} was refused`)
    const site = request.headers['sec-fetch-site']
    if (site != null && site !== 'same-origin' && site !== 'none')
      throw new CsrfError('a cross-site request was refused')
    if (!this.auth.checkCsrf(session, typeof presented === 'string' ? presented : undefined)) {
      throw new CsrfError('the form has expired or did not come from this player; reload the page and try again')
    }
  }

  #page(reply: FastifyReply, body: string, status = 200): FastifyReply {
    return reply.code(status).header('content-type', 'text/html; charset=utf-8').send(body)
  }

  /**
   * The titles of tracks and releases, "Title — Artist": what the player knows, else what a catalog answers within
   * `TITLE_LOOKUP_DEADLINE_MS` (a page never shows a bare id when a title can be had).
   */
  async #titles(contents: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    const signal = AbortSignal.timeout(TITLE_LOOKUP_DEADLINE_MS)
    for (const content of contents) {
      if (out.has(content)) continue
      try {
        if (content.startsWith('isrc:')) {
          const b = (
            this.#player.directory.manifestFor(content.slice(5)) ??
            (await this.#player.directory.resolve(content, signal))
          ).body
          out.set(content, `${b.version != null ? `${b.title} (${b.version})` : b.title} — ${b.artists.join(', ')}`)
        } else {
          const release = await this.#player.directory.lookupRelease(content, signal)
          if (release != null) out.set(content, `${release.body.title} — ${release.body.artists.join(', ')}`)
        }
      } catch (err) {
        log('no title for %s: %s', content, (err as Error).message)
      }
    }
    return out
  }

  async #register(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: MAX_FORM_BYTES },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    )
    app.addHook('onSend', async (_request, reply, payload) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value)
      return payload
    })
    app.setErrorHandler((err, request, reply) => this.#replyError(err, request, reply))
    app.setNotFoundHandler((request, reply) =>
      this.#replyError(new BadUiRequestError(`there is no page at ${request.url.split('?')[0]}`), request, reply, 404),
    )

    app.get('/login', async (request, reply) => {
      const token = (request.query as Record<string, unknown>).token
      const session = typeof token === 'string' && token.length <= 128 ? this.auth.redeem(token) : null
      if (session == null) {
        throw new LoginLinkInvalidError('this login link was already used, has expired, or is not one of this player')
      }
      const secure = request.protocol === 'https' ? '; Secure' : ''
      // Back to the page that asked for a login (a checkout the store sent the visitor to), else the library.
      const remembered = cookies(request.headers.cookie).get(RETURN_COOKIE)
      const back = returnPath(remembered)
      const sessionCookie = `${SESSION_COOKIE}=${session.id}; Path=${UI_PREFIX}; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(SESSION_IDLE_MS / 1000)}${secure}`
      return reply
        .code(303)
        .header(
          'set-cookie',
          remembered == null
            ? sessionCookie
            : [sessionCookie, `${RETURN_COOKIE}=; Path=${UI_PREFIX}; HttpOnly; SameSite=Lax; Max-Age=0`],
        )
        .header('location', back ?? `${UI_PREFIX}/`)
        .send()
    })

    app.post('/logout', async (request, reply) => {
      const session = this.#session(request)
      this.#checkWrite(request, session, (request.body as Record<string, unknown> | null)?.csrf)
      this.auth.end(session.id)
      return reply
        .code(303)
        .header('set-cookie', `${SESSION_COOKIE}=; Path=${UI_PREFIX}; HttpOnly; SameSite=Lax; Max-Age=0`)
        .header('location', `${UI_PREFIX}/logged-out`)
        .send()
    })

    app.get('/logged-out', async (request, reply) =>
      this.#page(reply, messagePage(this.#context(request, null), 200, 'Logged out', loginHelp(this.#origin(request)))),
    )

    const library = async (request: FastifyRequest, reply: FastifyReply) => {
      const session = this.#session(request)
      const licences = this.#player.licences().sort((a, b) => b.issuedAt - a.issuedAt)
      const titles = await this.#titles(licences.flatMap((l) => [...l.content, ...l.tracks.map((t) => `isrc:${t}`)]))
      return this.#page(reply, libraryPage(this.#context(request, session), licences, titles))
    }
    app.get('/', library)
    app.get('/library', library)

    app.get('/checkout', async (request, reply) => {
      const session = this.#session(request)
      const q = request.query as Record<string, unknown>
      const offerId = field(q.offer, 'offer', CID_TEXT)
      const content = field(q.content, 'content', CONTENT)
      const store = storeUrl(q.store)
      // Through a share (decision 0708): checked now, so that a bad one is refused before the buyer confirms.
      const share =
        q.share == null ? null : this.#player.readShare(field(q.share, 'share', SHARE_TEXT, MAX_SHARE_LINK_TEXT))
      const offer = await this.#listed(offerId, content)
      const title = (await this.#titles([content])).get(content) ?? content
      // The price in money and in words, and whether this device already holds as much (issue 11, finding 5).
      const quote = this.#player.quote(offerId)
      return this.#page(
        reply,
        checkoutPage(this.#context(request, session), offer, title, content, store, quote, share),
      )
    })

    app.post('/checkout', async (request, reply) => {
      const session = this.#session(request)
      const body = (request.body ?? {}) as Record<string, unknown>
      this.#checkWrite(request, session, body.csrf)
      const offerId = field(body.offer, 'offer', CID_TEXT)
      const content = field(body.content, 'content', CONTENT)
      const store = storeUrl(body.store)
      const share = body.share == null ? undefined : field(body.share, 'share', SHARE_TEXT, MAX_SHARE_LINK_TEXT)
      const title = (await this.#titles([content])).get(content) ?? content
      const ctx = this.#context(request, session)
      try {
        await this.#listed(offerId, content)
        const result = await this.#player.buy(offerId, {
          ...(body.again === '1' ? { again: true } : {}),
          ...(share !== undefined ? { share } : {}),
        })
        const licence = this.#player.licences().find((l) => l.purchaseId === result.purchaseId)
        return this.#page(
          reply,
          purchaseDonePage(
            ctx,
            title,
            {
              purchaseId: result.purchaseId,
              licenceId: result.licenceId,
              priceText: `${formatMinorUnits(result.price.amount, result.price.currency)} ${result.price.currency}`,
              tracks: licence?.tracks ?? [],
            },
            store,
          ),
        )
      } catch (err) {
        if (isError(err, CsrfError) || isError(err, NotLoggedInError)) throw err
        log('purchase of %s refused: %e', offerId, err)
        // 200: the checkout was handled and its page tells the outcome (a 4xx document is a console error in browsers).
        return this.#page(reply, purchaseRefusedPage(ctx, title, explainRefusal(err), store))
      }
    })

    // --- sharing (decision 0708) ---

    app.post('/share', async (request, reply) => {
      const session = this.#session(request)
      const body = (request.body ?? {}) as Record<string, unknown>
      this.#checkWrite(request, session, body.csrf)
      const content = field(body.content, 'content', CONTENT)
      const share = await this.#player.share(content)
      const title = (await this.#titles([content])).get(content) ?? content
      return this.#page(reply, sharedPage(this.#context(request, session), share, title))
    })

    const openShare = async (request: FastifyRequest, reply: FastifyReply, link: string) => {
      const session = this.#session(request)
      const signal = AbortSignal.timeout(CHECKOUT_OFFERS_DEADLINE_MS)
      // The page plays the preview itself (a stream session of this daemon), so opening starts none here.
      const opened = await this.#player.openShare(link, { preview: false, signal })
      const shared = opened.share.content
      let preview: string | null = shared.track
      if (preview === null) {
        preview = await this.#player.directory
          .resolve(shared.manifest, signal)
          .then((m) => `isrc:${m.body.isrc}`)
          .catch(() => null)
      }
      const content = shared.track ?? shared.release ?? ''
      const title = opened.share.title ?? (await this.#titles([content])).get(content) ?? content
      return this.#page(reply, openedSharePage(this.#context(request, session), opened, title, preview))
    }
    app.get('/share', async (request, reply) => {
      const q = request.query as Record<string, unknown>
      const link = q.link ?? q.share
      if (typeof link !== 'string' || link.length === 0 || link.length > MAX_SHARE_LINK_TEXT) {
        throw new BadUiRequestError(
          "link: give the share link to open (consort://share/… or a store's /share/… address)",
        )
      }
      return await openShare(request, reply, link)
    })

    app.get('/play', async (request, reply) => {
      const session = this.#session(request)
      const content = field((request.query as Record<string, unknown>).content, 'content', CONTENT)
      if (!content.startsWith('isrc:')) throw new BadUiRequestError('content: play a track (isrc:…)')
      const title = (await this.#titles([content])).get(content) ?? content
      const licence = this.#player.licences().find((l) => l.tracks.includes(content.slice(5))) ?? null
      return this.#page(reply, playPage(this.#context(request, session), content, title, licence))
    })

    app.get('/account', async (request, reply) => {
      const session = this.#session(request)
      let balance: Parameters<typeof accountPage>[1]
      try {
        balance = await this.#player.balance({ signal: AbortSignal.timeout(BALANCE_DEADLINE_MS) })
      } catch (err) {
        balance = { error: (err as Error).message }
      }
      const usage = this.#player.usage()
      const rows: UsageRow[] = [
        ...usage.pending.map((e) => ({ ...e, status: e.status === 'ready' ? 'waiting to be reported' : e.status })),
        ...usage.acknowledged.map((e) => ({ ...e, status: 'reported' })),
      ]
        .sort((a, b) => b.startedAt - a.startedAt)
        .slice(0, USAGE_PAGE_EVENTS)
      const purchases = this.#player.licences().sort((a, b) => b.issuedAt - a.issuedAt)
      const titles = await this.#titles([...rows.map((r) => `isrc:${r.isrc}`), ...purchases.flatMap((l) => l.content)])
      return this.#page(reply, accountPage(this.#context(request, session), balance, rows, titles, purchases))
    })

    // --- the web player's own requests (script, same origin, CSRF header) ---

    app.post('/api/streams', async (request, reply) => {
      const session = this.#session(request)
      this.#checkWrite(request, session, request.headers['x-csrf-token'])
      const body = (request.body ?? {}) as Record<string, unknown>
      const content = field(body.content, 'content', CONTENT)
      // A share's preview (its page asks for it): never a counted play, whatever this device holds.
      const info = await this.#player.streams.open(content, body.preview === true ? { preview: true } : {})
      return reply.code(200).send(info)
    })

    app.post('/api/streams/:id/close', async (request, reply) => {
      const session = this.#session(request)
      this.#checkWrite(request, session, request.headers['x-csrf-token'])
      const { id } = request.params as { id: string }
      return reply.code(200).send(await this.#player.streams.close(id))
    })

    app.get('/stream/:id/audio', async (request, reply) => {
      this.#session(request)
      const { id } = request.params as { id: string }
      const controller = new AbortController()
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort()
      })
      const range = typeof request.headers.range === 'string' ? request.headers.range : undefined
      const response = await this.#player.streams.response(id, range, controller.signal)
      reply.code(response.status)
      for (const [name, value] of response.headers) reply.header(name, value)
      return reply.send(Buffer.from(await response.arrayBuffer()))
    })

    app.get('/static/:file', async (request, reply) => {
      const { file } = request.params as { file: string }
      // Own names only: `constructor`, `__proto__` or `toString` would find Object.prototype's (issue 11, finding 7).
      const type = Object.hasOwn(STATIC_FILES, file) ? STATIC_FILES[file] : undefined
      if (type == null) throw new UiNotFoundError(`no file ${file}`)
      return reply
        .code(200)
        .header('content-type', type)
        .send(await readFile(path.join(STATIC_DIR, file)))
    })
  }

  /** The certified offer `offer` among those listed for `content` in this player's territory. */
  async #listed(offer: string, content: string) {
    const market = await this.#player.offers(content, { signal: AbortSignal.timeout(CHECKOUT_OFFERS_DEADLINE_MS) })
    const found = market.offers.find((o) => o.offer === offer)
    if (found == null) {
      throw new OfferNotListedError(
        `this offer is not among the certified offers for ${content} in your territory (${market.territory}) right now: it may have been withdrawn, its certification may have lapsed, or it is not sold where you are`,
      )
    }
    return found
  }

  #replyError(err: unknown, request: FastifyRequest, reply: FastifyReply, forced?: number): void {
    const error = err as Error
    const status = forced ?? httpStatusOf(err)
    if (status >= 500) log.error('web player %s %s failed: %e', request.method, request.url, err)
    // A failure of ours says nothing of its internals (paths, stacks): the log has them.
    const shown = status >= 500 ? 'the player could not answer this request; its log says why' : error.message
    const isApi = request.url.startsWith(`${UI_PREFIX}/api/`) || request.url.startsWith(`${UI_PREFIX}/stream/`)
    if (isApi) {
      if (status === 416) {
        void reply.code(416).send({ code: codeOf(err), message: error.message })
        return
      }
      void reply.code(status).send({ code: status >= 500 ? 'ERR_INTERNAL' : codeOf(err), message: shown })
      return
    }
    const ctx = this.#context(request, this.auth.session(cookies(request.headers.cookie).get(SESSION_COOKIE)))
    if (isError(err, NotLoggedInError)) {
      // Remember the page (a checkout): the login link, opened in this browser, comes back to it.
      const back = request.method === 'GET' ? returnPath(encodeURIComponent(request.url)) : null
      if (back != null) {
        reply.header(
          'set-cookie',
          `${RETURN_COOKIE}=${encodeURIComponent(back)}; Path=${UI_PREFIX}; HttpOnly; SameSite=Lax; Max-Age=${RETURN_COOKIE_MAX_AGE_S}`,
        )
      }
      void this.#page(
        reply,
        messagePage(
          ctx,
          401,
          'Log in to your player',
          html`<p>${error.message}.</p>${loginHelp(ctx.origin)}${back != null ? html`<p>Once you are logged in, you come back to this page.</p>` : ''}`,
        ),
        401,
      )
      return
    }
    if (isError(err, LoginLinkInvalidError)) {
      void this.#page(
        reply,
        messagePage(ctx, 403, 'This login link does not work', html`<p>${error.message}.</p>${loginHelp(ctx.origin)}`),
        403,
      )
      return
    }
    const titles: Record<number, string> = { 400: 'That request is not quite right', 403: 'Refused', 404: 'Not found' }
    void this.#page(reply, messagePage(ctx, status, titles[status] ?? 'Something went wrong', shown), status)
  }
}
