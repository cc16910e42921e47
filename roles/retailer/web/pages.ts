import type { FacetField, SearchFilters, SearchHit, SearchResponse } from '../../../protocols/catalog/index.ts'
import { formatDuration, type Html, html, queryString, spokenDuration } from '../../common/html.ts'
import { useTypeWords } from '../../common/words.ts'
import { type ManifestRecord, manifestReleaseId, type ReleaseView } from './catalog.ts'
import type { OpenedStoreShare } from './shares.ts'
import type { ShelfOffer } from './shelf.ts'

/**
 * The storefront's pages: pure functions from data to HTML. Every page has the same landmarks (a skip link, a
 * banner with the search form, navigation, one `main` with one `h1`, a footer), labels on every control and
 * alt text on every image. Scripts and styles are self-hosted (`/static/…`); the pages work without script
 * except for the preview player and remembering the visitor's player address.
 */

export interface PageContext {
  /** The storefront's name (the retailer's). */
  storeName: string
  /** The search box's current text. */
  query?: string
}

const STATIC_VERSION = '3'

export function layout(ctx: PageContext, title: string, body: Html, options: { status?: string } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${ctx.storeName}</title>
<link rel="stylesheet" href="/static/store.css?v=${STATIC_VERSION}">
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<script src="/static/store.js?v=${STATIC_VERSION}" defer></script>
</head>
<body${options.status != null ? html` data-status="${options.status}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="banner">
  <a class="brand" href="/">${ctx.storeName}</a>
  <form class="search" role="search" action="/search" method="get">
    <label for="q" class="visually-hidden">Search the catalog</label>
    <input id="q" name="q" type="search" placeholder="Artists, titles, labels, genres" value="${ctx.query ?? ''}" maxlength="256">
    <button type="submit">Search</button>
  </form>
  <nav aria-label="Main">
    <ul class="main-nav">
      <li><a href="/">New releases</a></li>
      <li><a href="/search">Browse</a></li>
      <li><a href="/player" id="player-link">Your player</a></li>
    </ul>
  </nav>
</header>
<main id="main" tabindex="-1">
${body}
</main>
<div class="previewer" id="previewer" hidden>
  <p id="preview-label" aria-live="polite">Preview</p>
  <audio id="preview-player" controls preload="none" aria-labelledby="preview-label"></audio>
</div>
<footer>
  <p>${ctx.storeName} sells on the Consort network. Purchases are made by your own player: this store never sees your account key.</p>
</footer>
</body>
</html>
`.value
}

// --- shared fragments ---

function artists(list: readonly string[]): string {
  if (list.length <= 1) return list[0] ?? ''
  return `${list.slice(0, -1).join(', ')} & ${list[list.length - 1]}`
}

function releaseHref(contentId: string): string {
  return `/release/${encodeURIComponent(contentId)}`
}

function trackHref(contentId: string): string {
  return `/track/${encodeURIComponent(contentId)}`
}

export function hitHref(hit: Pick<SearchHit, 'kind' | 'contentId'>): string {
  return hit.kind === 'release' ? releaseHref(hit.contentId) : trackHref(hit.contentId)
}

function territoryWords(offer: ShelfOffer): string {
  const where = offer.territories.includes('Worldwide') ? 'worldwide' : `in ${offer.territories.join(', ')}`
  return offer.excludedTerritories.length > 0
    ? `available ${where} except ${offer.excludedTerritories.join(', ')}`
    : `available ${where}`
}

/** One offer in plain words, with its Buy link (made a checkout link by the script once a player is known). */
function offerItem(offer: ShelfOffer, title: string, contentId: string, share?: string): Html {
  const buyHref = `/player${queryString({ offer: offer.offer, content: contentId, ...(share != null ? { share } : {}) })}`
  return html`<li class="offer">
  <p class="offer-terms"><strong>${useTypeWords(offer.useType)}</strong>${offer.promotion != null ? html` <span class="badge">${offer.promotion.label}</span>` : ''}:
    ${offer.rules.join(', ')}; ${territoryWords(offer)}.</p>
  <a class="buy button" href="${buyHref}" data-offer="${offer.offer}" data-content="${contentId}"${share != null ? html` data-share="${share}"` : ''}
     aria-label="Buy ${title} for ${offer.priceText}: ${useTypeWords(offer.useType).toLowerCase()}">Buy for ${offer.priceText}</a>
</li>`
}

function offerList(offers: readonly ShelfOffer[], title: string, contentId: string, headingLevel: 2 | 3): Html {
  const heading =
    headingLevel === 2
      ? html`<h2 id="offers-${contentId}">Buy</h2>`
      : html`<h3 id="offers-${contentId}" class="visually-hidden">Buy ${title}</h3>`
  if (offers.length === 0) {
    return html`<section class="offers" aria-labelledby="offers-${contentId}">${heading}<p class="muted">Not on sale here at the moment.</p></section>`
  }
  return html`<section class="offers" aria-labelledby="offers-${contentId}">${heading}<ul>${offers.map((o) => offerItem(o, title, contentId))}</ul></section>`
}

function previewButton(manifest: ManifestRecord): Html {
  const p = manifest.body.preview
  if (p == null) return html`<span class="muted">No preview</span>`
  const contentId = `isrc:${manifest.body.isrc}`
  return html`<button type="button" class="preview" data-src="/preview/${encodeURIComponent(contentId)}?m=${manifest.id.toString()}"
    data-title="${manifest.body.title}" aria-label="Preview ${manifest.body.title} (${spokenDuration(p.durationMs)})">▶ Preview <span class="muted">${formatDuration(p.durationMs)}</span></button>`
}

function isoDuration(ms: number): string {
  return `PT${Math.round(ms / 1000)}S`
}

function cover(view: ReleaseView): Html {
  const r = view.release.body
  if (r.artwork == null) {
    return html`<div class="cover placeholder" role="img" aria-label="No cover art for ${r.title}"><span aria-hidden="true">♪</span></div>`
  }
  return html`<img class="cover" src="${releaseHref(view.contentId)}/cover" width="320" height="320" alt="Cover of ${r.title} by ${artists(r.artists)}">`
}

function hitCard(hit: SearchHit): Html {
  const meta = [
    hit.kind === 'release' ? (hit.type ?? 'Release') : 'Track',
    hit.year != null ? String(hit.year) : null,
    hit.genre,
    hit.kind === 'release' && hit.tracks != null ? `${hit.tracks} track${hit.tracks === 1 ? '' : 's'}` : null,
    hit.durationMs != null ? formatDuration(hit.durationMs) : null,
  ].filter((v): v is string => v != null)
  return html`<li class="card">
  <a href="${hitHref(hit)}"><span class="card-title">${hit.title}</span></a>
  <span class="card-artist">${artists(hit.artists)}</span>
  ${hit.kind === 'track' && hit.release != null ? html`<span class="card-release">from ${hit.release}</span>` : ''}
  <span class="card-meta">${meta.join(' · ')}</span>
  ${hit.label != null ? html`<span class="card-label">${hit.label}</span>` : ''}
</li>`
}

// --- pages ---

export function homePage(ctx: PageContext, featured: readonly SearchHit[], latest: SearchResponse): string {
  const shelf = [...featured, ...latest.hits.filter((h) => !featured.some((f) => f.contentId === h.contentId))]
  const body = html`<h1>New releases</h1>
${
  shelf.length === 0
    ? html`<p>No releases in the catalog yet. When labels publish, they appear here.</p>`
    : html`<ul class="cards" aria-label="New releases">${shelf.map(hitCard)}</ul>`
}
<p><a href="/search">Browse the whole catalog</a> (${latest.total} release${latest.total === 1 ? '' : 's'}).</p>`
  return layout(ctx, 'New releases', body)
}

const FACET_NAMES: Record<FacetField, string> = {
  genre: 'Genre',
  label: 'Label',
  year: 'Year',
  type: 'Type',
  artist: 'Artist',
}

export interface SearchState {
  query: string
  filters: SearchFilters
  page: number
  pageSize: number
}

function searchHref(state: SearchState, changes: Partial<Record<string, string | number | null>>): string {
  const params: Record<string, string | number | null | undefined> = {
    q: state.query,
    kind: state.filters.kind,
    genre: state.filters.genre,
    label: state.filters.label,
    year: state.filters.year,
    type: state.filters.type,
    artist: state.filters.artist,
    page: state.page > 0 ? state.page + 1 : null,
    ...changes,
  }
  return `/search${queryString(params)}`
}

export function searchPage(ctx: PageContext, state: SearchState, result: SearchResponse): string {
  const active = (Object.entries(state.filters) as Array<[string, string | number | undefined]>).filter(
    ([, v]) => v != null,
  )
  const from = result.total === 0 ? 0 : state.page * state.pageSize + 1
  const to = Math.min(result.total, (state.page + 1) * state.pageSize)
  const pages = Math.max(1, Math.ceil(result.total / state.pageSize))
  const title = state.query === '' ? 'Browse the catalog' : `Results for “${state.query}”`
  const facets = (Object.keys(FACET_NAMES) as FacetField[])
    .map((field) => ({ field, values: result.facets[field] ?? [] }))
    .filter(({ values }) => values.length > 0)
  const body = html`<h1>${title}</h1>
<div class="search-layout">
<nav class="facets" aria-label="Refine the results">
  <h2>Refine</h2>
  <section aria-labelledby="facet-kind"><h3 id="facet-kind">Show</h3><ul>
    ${(['release', 'track'] as const).map(
      (kind) =>
        html`<li><a href="${searchHref(state, { kind: state.filters.kind === kind ? null : kind, page: null })}"${state.filters.kind === kind ? html` aria-current="true"` : ''}>${kind === 'release' ? 'Releases' : 'Tracks'}</a></li>`,
    )}
  </ul></section>
  ${facets.map(
    ({
      field,
      values,
    }) => html`<section aria-labelledby="facet-${field}"><h3 id="facet-${field}">${FACET_NAMES[field]}</h3><ul>
    ${values.map((v) => {
      const selected = String(state.filters[field] ?? '') === v.value
      return html`<li><a href="${searchHref(state, { [field]: selected ? null : v.value, page: null })}"${selected ? html` aria-current="true"` : ''}>${v.value} <span class="count">(${v.count})</span></a></li>`
    })}
  </ul></section>`,
  )}
</nav>
<section class="results" aria-labelledby="results-heading">
  <h2 id="results-heading">${result.total === 0 ? 'Nothing found' : `${from}–${to} of ${result.total}`}</h2>
  ${
    active.length > 0
      ? html`<p class="active-filters">Filtered by ${active.map(
          ([k, v]) =>
            html`<a class="chip" href="${searchHref(state, { [k]: null, page: null })}" aria-label="Remove the filter ${k} ${String(v)}">${k}: ${String(v)} ✕</a> `,
        )}</p>`
      : ''
  }
  ${
    result.total === 0
      ? html`<p>No release or track matches${state.query !== '' ? html` “${state.query}”` : ''}${active.length > 0 ? ' with these filters' : ''}. Try fewer or other words.</p>`
      : html`<ol class="cards" start="${from}">${result.hits.map(hitCard)}</ol>`
  }
  ${
    pages > 1
      ? html`<nav class="pager" aria-label="Pages">
      ${state.page > 0 ? html`<a rel="prev" href="${searchHref(state, { page: state.page > 1 ? state.page : null })}">Previous page</a>` : ''}
      <span>Page ${state.page + 1} of ${pages}</span>
      ${state.page + 1 < pages ? html`<a rel="next" href="${searchHref(state, { page: state.page + 2 })}">Next page</a>` : ''}
    </nav>`
      : ''
  }
</section>
</div>`
  return layout({ ...ctx, query: state.query }, title, body)
}

export function releasePage(
  ctx: PageContext,
  view: ReleaseView,
  releaseOffers: readonly ShelfOffer[],
  trackOffers: ReadonlyMap<string, readonly ShelfOffer[]>,
  share: string | null = null,
): string {
  const r = view.release.body
  const total = view.tracks.reduce((sum, t) => sum + (t.manifest?.body.durationMs ?? 0), 0)
  const facts = [r.type, r.releaseDate, r.genre, r.label].filter((v): v is string => v != null)
  const body = html`<article class="release">
<div class="release-head">
  ${cover(view)}
  <div>
    <h1>${r.title}</h1>
    <p class="release-artist">${artists(r.artists)}</p>
    <p class="release-facts">${facts.join(' · ')}</p>
    <p class="release-facts">${view.tracks.length} track${view.tracks.length === 1 ? '' : 's'}, ${formatDuration(total)}${r.icpn != null ? html` · UPC/EAN ${r.icpn}` : ''}${r.grid != null ? html` · GRid ${r.grid}` : ''}</p>
    ${offerList(releaseOffers, r.title, view.contentId, 2)}
    ${sharePanel(share, r.title)}
  </div>
</div>
<section aria-labelledby="tracks-heading">
<h2 id="tracks-heading">Tracks</h2>
<ol class="tracks">
${view.tracks.map((t, i) => {
  const m = t.manifest
  if (m == null) {
    return html`<li class="track"><span class="track-no">${i + 1}</span><span class="track-title muted">isrc:${t.isrc} (not in the catalog)</span></li>`
  }
  const contentId = `isrc:${t.isrc}`
  const title = m.body.version != null ? `${m.body.title} (${m.body.version})` : m.body.title
  return html`<li class="track">
  <span class="track-no" aria-hidden="true">${i + 1}</span>
  <span class="track-title"><a href="${trackHref(contentId)}">${title}</a>${m.body.artists.join() !== r.artists.join() ? html` <span class="muted">${artists(m.body.artists)}</span>` : ''}</span>
  <time class="track-duration" datetime="${isoDuration(m.body.durationMs)}" aria-label="${spokenDuration(m.body.durationMs)}">${formatDuration(m.body.durationMs)}</time>
  ${previewButton(m)}
  ${(trackOffers.get(contentId)?.length ?? 0) > 0 ? offerList(trackOffers.get(contentId) ?? [], title, contentId, 3) : ''}
</li>`
})}
</ol>
</section>
</article>`
  return layout(ctx, `${r.title} by ${artists(r.artists)}`, body)
}

export function trackPage(
  ctx: PageContext,
  manifest: ManifestRecord,
  offers: readonly ShelfOffer[],
  releaseOffers: readonly ShelfOffer[] = [],
  share: string | null = null,
): string {
  const m = manifest.body
  const title = m.version != null ? `${m.title} (${m.version})` : m.title
  const contentId = `isrc:${m.isrc}`
  const releaseId = manifestReleaseId(manifest)
  const onSale =
    offers.length === 0 && releaseOffers.length > 0 && releaseId != null && m.release != null
      ? html`<section class="offers" aria-labelledby="offers-${contentId}"><h2 id="offers-${contentId}">Buy</h2>
<p>On sale as part of <a href="${releaseHref(releaseId)}">${m.release.title}</a>:</p>
<ul>${releaseOffers.map((o) => offerItem(o, m.release!.title, releaseId))}</ul></section>`
      : html`${offerList(offers, title, contentId, 2)}${
          releaseOffers.length > 0 && releaseId != null && m.release != null
            ? html`<section class="offers" aria-labelledby="offers-${releaseId}"><h2 id="offers-${releaseId}">Buy the whole release, ${m.release.title}</h2><ul>${releaseOffers.map((o) => offerItem(o, m.release!.title, releaseId))}</ul></section>`
            : ''
        }`
  const facts = [m.genre, m.label, m.year != null ? String(m.year) : null, `ISRC ${m.isrc}`].filter(
    (v): v is string => v != null,
  )
  const body = html`<article class="release">
<h1>${title}</h1>
<p class="release-artist">${artists(m.artists)}</p>
${m.release != null && releaseId != null ? html`<p>From <a href="${releaseHref(releaseId)}">${m.release.title}</a></p>` : ''}
<p class="release-facts">${facts.join(' · ')} · <time datetime="${isoDuration(m.durationMs)}" aria-label="${spokenDuration(m.durationMs)}">${formatDuration(m.durationMs)}</time></p>
<p>${previewButton(manifest)}</p>
${onSale}
${sharePanel(share, title)}
</article>`
  return layout(ctx, `${title} by ${artists(m.artists)}`, body)
}

/**
 * A page's share link (signed by this store when the page was made): to copy, or to follow to its share page. Whoever
 * opens it in a Consort player hears the preview and can buy; the store may be credited for the sale.
 */
function sharePanel(link: string | null, title: string): Html {
  if (link == null) return html``
  return html`<section class="share" aria-labelledby="share-heading">
  <h2 id="share-heading">Share</h2>
  <p><label for="share-link">A link to ${title} for anyone with a Consort player</label>
  <input id="share-link" class="share-link" type="text" readonly value="${link}"></p>
  <p><a class="share button secondary" href="${link}">Share this</a>
  <span class="muted">Opened in a player, it plays the preview at once and shows where to buy it.</span></p>
</section>`
}

/** A share link opened in a browser: what it shares, who shared it, its preview, this store's offers of it. */
export function sharePage(
  ctx: PageContext,
  opened: OpenedStoreShare,
  text: string,
  manifest: ManifestRecord | null,
  offers: readonly ShelfOffer[],
): string {
  const b = opened.record.body
  const contentId = b.content.track ?? b.content.release ?? ''
  const title =
    manifest != null && b.content.track != null ? manifest.body.title : (manifest?.body.release?.title ?? contentId)
  const by = opened.ours
    ? 'this store'
    : b.referrer.kind === 'retailer'
      ? `the store ${opened.referrerName ?? 'named by its key'}`
      : 'a listener'
  const body = html`<article class="shared" data-share="${text}">
<h1>${title}</h1>
${manifest != null ? html`<p class="release-artist">${artists(manifest.body.artists)}</p>` : ''}
<p class="shared-by">Shared by ${by}. The link works until <time datetime="${new Date(b.expires).toISOString()}">${new Date(b.expires).toISOString().slice(0, 10)}</time>.</p>
${opened.untrusted != null ? html`<p class="notice" role="note">The network does not vouch for who shared it (${opened.untrusted}): buying through it credits no one.</p>` : ''}
${manifest != null ? html`<p>${previewButton(manifest)}</p>` : ''}
<p><a class="open-share button" href="/player${queryString({ share: text })}" data-share="${text}">Open in your player</a>
  <span class="muted">Your player plays the preview and lists the offers sold where you live; buying through this link puts it in your signed order.</span></p>
${
  offers.length > 0
    ? html`<section class="offers" aria-labelledby="offers-shared"><h2 id="offers-shared">Buy it here</h2><ul>${offers.map((o) => offerItem(o, title, contentId, text))}</ul></section>`
    : html`<p class="muted">This store does not sell it at the moment: your player lists who does.</p>`
}
</article>`
  return layout(ctx, `${title}, shared`, body)
}

export function playerPage(ctx: PageContext): string {
  const body = html`<h1>Your player</h1>
<p>Purchases and playback happen in <strong>your own Consort player</strong>, running on your computer. This store
only sends you there: your account key, your licences and your listening history never leave your player.</p>
<section aria-labelledby="current-player">
  <h2 id="current-player">Player address</h2>
  <p id="player-status" aria-live="polite">No player address is set in this browser.</p>
  <form id="player-form" class="stack">
    <label for="player-url">Your player's address (its <code>http://127.0.0.1:…</code> URL)</label>
    <input id="player-url" name="player" type="url" inputmode="url" placeholder="http://127.0.0.1:PORT" required maxlength="512" pattern="https?://.+">
    <div><button type="submit">Use this player</button> <button type="button" id="player-forget" class="secondary">Forget it</button></div>
  </form>
  <p id="continue" hidden><a class="button" id="continue-link" href="/">Continue to checkout</a></p>
</section>
<section aria-labelledby="start-player">
  <h2 id="start-player">No player yet?</h2>
  <ol>
    <li>Try everything on one machine: <code>npm start</code> in the Consort repository (or <code>consort devnet</code>) starts a whole network with a listener and prints this store's address with your player filled in.</li>
    <li>Or join a network: <code>consort init --data-dir ~/.consort --network network.json</code>, then
      <code>consort daemon --data-dir ~/.consort --roles player</code>.</li>
    <li>Open your player: <code>consort ui --data-dir ~/.consort</code> prints a one-time login link. Open it in this browser,
      then enter the player's address above (the part before <code>/ui/</code>).</li>
  </ol>
</section>`
  return layout(ctx, 'Your player', body)
}

export function errorPage(ctx: PageContext, status: number, title: string, message: string): string {
  const body = html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
<p><a href="/">Back to the new releases</a> or <a href="/search">search the catalog</a>.</p>`
  return layout(ctx, title, body, { status: String(status) })
}
