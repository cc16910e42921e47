/**
 * Share links (docs/decisions/0708-sharing-in-the-player.md): the places a share's text form (the signed
 * `consort/share` record in base64url) travels in. A player's share has no web page of its own, so its link is
 * `consort://share/<text>`; a storefront's share is a page of the store, `<store>/share/<text>`. A player opens either,
 * the bare text, or any web address that carries the text as its last path segment after `/share/` or in `?share=`,
 * so that a link pasted from a chat, a QR code or a store page all work.
 */

/** The link of a share no web page serves: what `consort share` prints and any player opens. */
export const SHARE_LINK_SCHEME = 'consort://share/'

/** Longest link read (a share's text is a few hundred characters; a QR code holds up to ~4,000). */
export const MAX_SHARE_LINK_TEXT = 4096

const SHARE_TEXT = /^[A-Za-z0-9_-]+$/

/** A share's link: on a web page of `base` (a storefront's URL) when given, else the `consort://share/` form. */
export function shareLink(text: string, base?: string): string {
  return base === undefined ? `${SHARE_LINK_SCHEME}${text}` : `${base.replace(/\/+$/, '')}/share/${text}`
}

/**
 * The share's text form inside a link, or a sentence saying why the link is not a share link (the caller raises its own
 * error with it). The text itself is checked by the share record's decoder.
 */
export function shareTextOf(link: string): { text: string } | { problem: string } {
  const trimmed = link.trim()
  if (trimmed.length === 0) return { problem: 'the link is empty' }
  if (trimmed.length > MAX_SHARE_LINK_TEXT) {
    return { problem: `the link is ${trimmed.length} characters long, more than a share's ${MAX_SHARE_LINK_TEXT}` }
  }
  if (SHARE_TEXT.test(trimmed)) return { text: trimmed }
  if (trimmed.startsWith(SHARE_LINK_SCHEME)) return checked(trimmed.slice(SHARE_LINK_SCHEME.length))
  let url: URL
  try {
    url = new URL(trimmed)
  } catch {
    return { problem: 'it is neither a share link (consort://share/…, or a web address with /share/…) nor a share' }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { problem: `a share link is consort://share/… or a web address, not ${url.protocol}` }
  }
  const query = url.searchParams.get('share')
  if (query !== null) return checked(query)
  const path = url.pathname.match(/\/share\/([^/]+)\/?$/)
  if (path !== null) return checked(decodeURIComponent(path[1]!))
  return { problem: `the address ${url.origin}${url.pathname} carries no share (no /share/… and no ?share=)` }
}

function checked(text: string): { text: string } | { problem: string } {
  if (text.length === 0) return { problem: 'the link carries no share after its prefix' }
  if (!SHARE_TEXT.test(text)) {
    return { problem: 'the share in the link has characters base64url never uses: it was cut or altered on its way' }
  }
  return { text }
}
