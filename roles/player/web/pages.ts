import { formatMinorUnits } from '../../../protocols/identifiers/currencies.ts'
import type { UsageEvent } from '../../../protocols/usage/index.ts'
import { formatDuration, type Html, html, queryString } from '../../common/html.ts'
import { useTypeWords } from '../../common/words.ts'
import type { LicenceView, ListedOffer, OpenedShare, PurchaseQuote, ShareView } from '../player.ts'

/**
 * The web player's pages: pure functions from data to HTML, with the same landmarks on every page (skip link,
 * banner, navigation, one `main` with one `h1`). State-changing forms carry the session's CSRF token; the page's
 * script reads it from `<meta name="csrf-token">` for its own requests.
 */

export interface UiContext {
  /** The session's CSRF token; null on pages shown without a session. */
  csrf: string | null
  /** Where this player runs (`http://127.0.0.1:PORT`), for the instructions. */
  origin: string
  /** The account, for the banner (hex, shortened). */
  account: string | null
  /** The current section, for `aria-current`. */
  section?: 'library' | 'account' | 'checkout' | 'play' | 'share'
}

const STATIC_VERSION = '2'

export function layout(ctx: UiContext, title: string, body: Html, status?: number): string {
  const nav = (href: string, label: string, section: UiContext['section']) =>
    html`<li><a href="${href}"${ctx.section === section ? html` aria-current="page"` : ''}>${label}</a></li>`
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${ctx.csrf != null ? html`<meta name="csrf-token" content="${ctx.csrf}">` : ''}
<title>${title} · Consort player</title>
<link rel="stylesheet" href="/ui/static/player.css?v=${STATIC_VERSION}">
<link rel="icon" href="/ui/static/icon.svg" type="image/svg+xml">
<script src="/ui/static/player.js?v=${STATIC_VERSION}" defer></script>
</head>
<body${status != null ? html` data-status="${status}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header class="banner">
  <a class="brand" href="/ui/">Consort player</a>
  ${
    ctx.csrf != null
      ? html`<nav aria-label="Player">
    <ul>
      ${nav('/ui/', 'Library', 'library')}
      ${nav('/ui/account', 'Balance and history', 'account')}
    </ul>
  </nav>
  <form class="logout" method="post" action="/ui/logout">
    <input type="hidden" name="csrf" value="${ctx.csrf}">
    <button type="submit" class="secondary">Log out</button>
  </form>`
      : ''
  }
</header>
<main id="main" tabindex="-1">
${body}
</main>
<footer>
  <p>This page is served by your own player${ctx.account != null ? html` (account <code>${ctx.account.slice(0, 12)}…</code>)` : ''}. Your account key never leaves it.</p>
</footer>
</body>
</html>
`.value
}

export function titleOf(titles: ReadonlyMap<string, string>, content: string): string {
  return titles.get(content) ?? content
}

function date(ms: number | null): Html {
  if (ms == null) return html`<span>never</span>`
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`
}

function left(value: number | null, unit: string): string {
  if (value === null) return `unlimited ${unit}s`
  return `${value} ${unit}${value === 1 ? '' : 's'} left`
}

export function libraryPage(
  ctx: UiContext,
  licences: readonly LicenceView[],
  titles: ReadonlyMap<string, string>,
  notice?: string,
): string {
  const body = html`<h1>Your library</h1>
${notice != null ? html`<p class="notice" role="status">${notice}</p>` : ''}
${openShareForm()}
${
  licences.length === 0
    ? html`<p>No licences yet. Find music in a Consort store and buy it: the store sends you back here to confirm.</p>`
    : html`<ul class="licences" aria-label="Licences">
${licences.map((l) => {
  const title = titleOf(titles, l.content[0] ?? '')
  return html`<li class="licence" data-purchase="${l.purchaseId}">
  <h2>${title}</h2>
  <p class="muted">${useTypeWords(l.useType)} · bought ${date(l.issuedAt)} · ${l.rules.join(', ')}</p>
  <dl class="facts">
    <div><dt>Plays</dt><dd class="plays-left">${left(l.remaining.plays, 'play')} (${l.state.plays} used)</dd></div>
    <div><dt>Usable until</dt><dd>${l.remaining.usableUntil == null ? 'no expiry' : date(l.remaining.usableUntil)}</dd></div>
    <div><dt>Expires</dt><dd>${l.notAfter == null ? 'no expiry date' : date(l.notAfter)}</dd></div>
    <div><dt>Status</dt><dd>${l.playable ? 'ready to play' : `not playable: ${l.reason ?? 'unknown'}`}</dd></div>
  </dl>
  <ul class="tracks">
    ${l.tracks.map(
      (isrc) => html`<li><span>${titleOf(titles, `isrc:${isrc}`)}</span>
      ${
        l.playable
          ? html`<a class="button play" href="/ui/play${queryString({ content: `isrc:${isrc}` })}">Play<span class="visually-hidden"> ${titleOf(titles, `isrc:${isrc}`)}</span></a>`
          : ''
      }
      ${shareButton(ctx, `isrc:${isrc}`, titleOf(titles, `isrc:${isrc}`))}</li>`,
    )}
  </ul>
</li>`
})}
</ul>`
}`
  return layout({ ...ctx, section: 'library' }, 'Library', body)
}

export function checkoutPage(
  ctx: UiContext,
  offer: ListedOffer,
  title: string,
  content: string,
  store: string | null,
  quote: Pick<PurchaseQuote, 'priceWords' | 'owned'> | null = null,
  share: ShareView | null = null,
): string {
  const owned = quote?.owned ?? []
  const body = html`<h1>Confirm your purchase</h1>
<section class="offer" aria-labelledby="offer-title">
  <h2 id="offer-title">${title}</h2>
  <p class="price">${offer.priceText}${quote != null ? html` <span class="price-words">(${quote.priceWords})</span>` : ''}</p>
  <p>Sold by <strong>${offer.retailerName}</strong>, certified by ${offer.certifier}.</p>
  <p class="use-type">What you get: <strong>${useTypeWords(offer.useType)}</strong>: ${offer.rules.join(', ')}.</p>
  <p class="muted">Bought for territory ${offer.territory}. Paid from your account at the network's clearinghouse.</p>
  ${share != null ? html`<p class="via-share">Through a share from ${referrerWords(share)}: it goes into your signed order${share.own ? ' (your own share: it credits no one)' : ', and may credit them'}.</p>` : ''}
</section>
${
  owned.length > 0
    ? html`<p class="notice owned" role="alert"><strong>You already own this.</strong> Your licence${owned.length > 1 ? 's' : ''} ${owned.map((o) => html`<code>${o.licenceId}</code> (${useTypeWords(o.useType)}: ${o.rules.join(', ')})`)} already give${owned.length > 1 ? '' : 's'} at least what this offer would. Buying it again charges ${offer.priceText} again.</p>`
    : ''
}
<form method="post" action="/ui/checkout" class="confirm">
  <input type="hidden" name="csrf" value="${ctx.csrf ?? ''}">
  <input type="hidden" name="offer" value="${offer.offer}">
  <input type="hidden" name="content" value="${content}">
  ${store != null ? html`<input type="hidden" name="store" value="${store}">` : ''}
  ${share != null ? html`<input type="hidden" name="share" value="${share.text}">` : ''}
  ${owned.length > 0 ? html`<input type="hidden" name="again" value="1">` : ''}
  <button type="submit" id="confirm">${owned.length > 0 ? 'Buy again' : 'Buy'} for ${offer.priceText}</button>
  ${store != null ? html`<a href="${store}">Cancel and go back to the store</a>` : html`<a href="/ui/">Cancel</a>`}
</form>`
  return layout({ ...ctx, section: 'checkout' }, `Buy ${title}`, body)
}

export function purchaseDonePage(
  ctx: UiContext,
  title: string,
  result: { purchaseId: string; licenceId: string; priceText: string; tracks: string[] },
  store: string | null,
): string {
  const body = html`<h1>Bought: ${title}</h1>
<p class="notice" role="status">Paid ${result.priceText}. Your licence <code>${result.licenceId}</code> is in your library.</p>
<ul class="actions">
  ${result.tracks.map((isrc) => html`<li><a class="button" href="/ui/play${queryString({ content: `isrc:${isrc}` })}">Play now</a></li>`)}
  <li><a href="/ui/">Go to your library</a></li>
  ${store != null ? html`<li><a href="${store}">Back to the store</a></li>` : ''}
</ul>`
  return layout({ ...ctx, section: 'checkout' }, `Bought ${title}`, body)
}

export function purchaseRefusedPage(
  ctx: UiContext,
  title: string,
  refusal: { code: string; reason: string; detail: string },
  store: string | null,
): string {
  const body = html`<h1>The purchase of ${title} did not go through</h1>
<p class="error" role="alert"><strong>Why:</strong> ${refusal.reason}</p>
<p class="muted">Nothing was charged: a refused purchase releases any amount that was held.</p>
<details><summary>Details</summary><p><code>${refusal.code}</code>: ${refusal.detail}</p></details>
<ul class="actions">
  ${store != null ? html`<li><a href="${store}">Back to the store</a></li>` : ''}
  <li><a href="/ui/account">Check your balance</a></li>
</ul>`
  return layout({ ...ctx, section: 'checkout' }, 'Purchase refused', body)
}

export function playPage(ctx: UiContext, content: string, title: string, licence: LicenceView | null): string {
  const body = html`<h1>${title}</h1>
<section class="web-player" aria-labelledby="now-playing" data-content="${content}">
  <h2 id="now-playing" class="visually-hidden">Player</h2>
  ${licence != null ? html`<p class="muted" id="plays-info">${left(licence.remaining.plays, 'play')} before this one. ${licence.rules.join(', ')}.</p>` : ''}
  <button type="button" id="start" class="big">▶ Play <span class="muted">(counts one play)</span></button>
  <audio id="player" controls preload="none" aria-label="${title}"></audio>
  <p id="play-status" role="status" aria-live="polite"></p>
</section>
<p><a href="/ui/">Back to your library</a> · <a href="/ui/account">Usage history</a></p>`
  return layout({ ...ctx, section: 'play' }, title, body)
}

/** The form that opens a share link someone sent (on the library page and the share pages). */
function openShareForm(): Html {
  return html`<form method="get" action="/ui/share" class="open-share">
  <label for="share-link-input">Open a share link someone sent you</label>
  <input id="share-link-input" name="link" type="text" required maxlength="4096" placeholder="consort://share/… or a store's /share/… address">
  <button type="submit">Open</button>
</form>`
}

/** A track's Share button: a signed share of it as this account (a POST: it signs with the account key). */
function shareButton(ctx: UiContext, content: string, title: string): Html {
  return html`<form method="post" action="/ui/share" class="share-form">
  <input type="hidden" name="csrf" value="${ctx.csrf ?? ''}">
  <input type="hidden" name="content" value="${content}">
  <button type="submit" class="secondary share">Share<span class="visually-hidden"> ${title}</span></button>
</form>`
}

function referrerWords(share: ShareView): string {
  if (share.own) return 'you'
  if (share.referrer.kind === 'retailer') return `the store ${share.referrer.name ?? share.referrer.key.slice(0, 12)}`
  return `the listener ${share.referrer.key.slice(0, 12)}…`
}

/** The share this account just made: its link, to copy and send. */
export function sharedPage(ctx: UiContext, share: ShareView, title: string): string {
  const body = html`<h1>Share ${title}</h1>
<p>Send this link to anyone with a Consort player. It plays them the preview at once and shows where they can buy it;
if they buy through it, the network may credit you as the contract allows.</p>
<p class="share-link-row">
  <label for="share-link">Your share link</label>
  <input id="share-link" class="share-link" type="text" readonly value="${share.link}" data-copy>
  <button type="button" id="copy-share" class="secondary">Copy</button>
</p>
<p id="copy-status" role="status" aria-live="polite"></p>
<p class="muted">Signed with your account key. Works until ${date(share.expires)}. They open it with <code>consort open LINK</code>, or in the "Open a share link" box of their web player.</p>
<p><a href="/ui/">Back to your library</a></p>`
  return layout({ ...ctx, section: 'share' }, `Share ${title}`, body)
}

/** A share someone sent, opened: who shared what, its preview, and the offers for this account's territory. */
export function openedSharePage(ctx: UiContext, opened: OpenedShare, title: string, preview: string | null): string {
  const share = opened.share
  const content = share.content.track ?? share.content.release ?? ''
  const body = html`<h1>${title}</h1>
<p class="shared-by">Shared by ${referrerWords(share)} · until ${date(share.expires)}${opened.own ? html` · <strong>your own share: buying through it credits no one</strong>` : ''}</p>
${
  preview != null
    ? html`<section class="web-player" aria-labelledby="preview-heading" data-content="${preview}" data-preview="1" data-autostart="1">
  <h2 id="preview-heading">Preview</h2>
  <button type="button" id="start" class="big">▶ Play the preview <span class="muted">(free, counts nothing)</span></button>
  <audio id="player" controls preload="none" aria-label="Preview of ${title}"></audio>
  <p id="play-status" role="status" aria-live="polite"></p>
</section>`
    : ''
}
<section aria-labelledby="offers-heading">
  <h2 id="offers-heading">Where to buy it${opened.territory === 'Worldwide' ? '' : ` in ${opened.territory}`}</h2>
  ${opened.sharedOffer === 'not-sold-here' ? html`<p class="notice">The offer ${share.offer} it recommends is not sold in ${opened.territory} (your account's territory); these are.</p>` : ''}
  ${
    opened.offers.length === 0
      ? html`<p>No certified offer sells it in ${opened.territory} right now.</p>`
      : html`<ul class="offers" aria-label="Offers">${opened.offers.map(
          (o) => html`<li class="offer" data-offer-id="${o.offerId}"${o.shared ? html` data-shared="1"` : ''}>
      <strong>${o.retailerName}</strong>${o.shared ? html` <span class="badge">recommended</span>` : o.fromReferrer ? html` <span class="badge">from the store it came from</span>` : ''}
      · ${useTypeWords(o.useType)} · ${o.rules.join(', ')} · <span class="price">${o.priceText}</span>
      <a class="button buy" href="/ui/checkout${queryString({ offer: o.offer, content, share: share.text })}">Buy<span class="visually-hidden"> from ${o.retailerName} for ${o.priceText}</span></a>
    </li>`,
        )}</ul>`
  }
</section>
<p><a href="/ui/">Back to your library</a></p>`
  return layout({ ...ctx, section: 'share' }, title, body)
}

export interface UsageRow extends UsageEvent {
  status: string
}

export function accountPage(
  ctx: UiContext,
  balance:
    | { clearinghouse: string; balances: Array<{ currency: string; available: bigint; pending: bigint }> }
    | { error: string },
  usage: readonly UsageRow[],
  titles: ReadonlyMap<string, string>,
  purchases: readonly LicenceView[] = [],
): string {
  const body = html`<h1>Balance and history</h1>
<section aria-labelledby="balance-heading">
  <h2 id="balance-heading">Balance</h2>
  ${
    'error' in balance
      ? html`<p class="error" role="alert">The balance is unavailable right now: ${balance.error}</p>`
      : balance.balances.length === 0
        ? html`<p>No money in your account at ${balance.clearinghouse} yet.</p>`
        : html`<table class="balances"><caption>At ${balance.clearinghouse}</caption>
      <thead><tr><th scope="col">Currency</th><th scope="col">Available</th><th scope="col">Held for purchases</th></tr></thead>
      <tbody>${balance.balances.map(
        (b) =>
          html`<tr><th scope="row">${b.currency}</th><td class="available">${formatMinorUnits(b.available, b.currency)} ${b.currency}</td><td>${formatMinorUnits(b.pending, b.currency)} ${b.currency}</td></tr>`,
      )}</tbody></table>`
  }
</section>
<section aria-labelledby="purchases-heading">
  <h2 id="purchases-heading">Purchases</h2>
  ${
    purchases.length === 0
      ? html`<p>No purchases yet.</p>`
      : html`<table class="purchases"><caption>What you bought, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">As</th><th scope="col">Paid</th></tr></thead>
      <tbody>${purchases.map(
        (l) =>
          html`<tr class="purchase" data-purchase="${l.purchaseId}"><td>${date(l.issuedAt)}</td><td>${l.content.map((c) => titleOf(titles, c)).join(', ')}</td><td>${useTypeWords(l.useType)}</td><td>${l.price != null ? `${formatMinorUnits(l.price.amount, l.price.currency)} ${l.price.currency}` : 'not known'}</td></tr>`,
      )}</tbody></table>`
  }
</section>
<section aria-labelledby="usage-heading">
  <h2 id="usage-heading">Usage history</h2>
  ${
    usage.length === 0
      ? html`<p>Nothing played yet.</p>`
      : html`<table class="usage"><caption>Plays, previews, exports and burns, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Track</th><th scope="col">Listened</th><th scope="col">Report</th></tr></thead>
      <tbody>${usage.map(
        (e) =>
          html`<tr class="usage-event" data-kind="${e.kind}"><td>${date(e.startedAt)}</td><td>${e.kind}</td><td>${titleOf(titles, `isrc:${e.isrc}`)}</td><td>${formatDuration(e.seconds * 1000)}</td><td>${e.status}</td></tr>`,
      )}</tbody></table>`
  }
</section>`
  return layout({ ...ctx, section: 'account' }, 'Balance and history', body)
}

export function messagePage(ctx: UiContext, status: number, title: string, message: Html | string): string {
  const body = html`<h1>${title}</h1>
<div class="${status >= 400 ? 'error' : 'notice'}" role="${status >= 400 ? 'alert' : 'status'}">${message}</div>
${ctx.csrf != null ? html`<p><a href="/ui/">Back to your library</a></p>` : ''}`
  return layout(ctx, title, body, status)
}

export function loginHelp(origin: string): Html {
  return html`<p>Open this player with a login link. In a terminal on this computer, run</p>
<pre><code>consort ui --data-dir YOUR_DATA_DIR</code></pre>
<p>and open the link it prints (it starts with <code>${origin}/ui/login</code>). Each link works once.</p>`
}
