import { tryCanonicalContentId } from '../../../protocols/identifiers/index.ts'
import { UI_PREFIX } from './constants.ts'
import { BadUiRequestError } from './errors.ts'

/**
 * What a browser sends the web player, read strictly: form fields by pattern, the page to come back to after login
 * (a path of this UI only, never another site), a storefront link (http(s) or nothing), cookies. Whatever fails is
 * refused with the field named, or dropped where a missing value is harmless (a link not shown).
 */

/** A track or release id in any valid form, canonical from here on (decision 0006). */
export const CONTENT = {
  test: (value: string) => tryCanonicalContentId(value) != null,
} as const
/** A share's text form (base64url); its length is bounded by the caller, its contents by the share's decoder. */
export const SHARE_TEXT = /^[A-Za-z0-9_-]+$/
export const CID_TEXT = /^[a-z2-7]{20,120}$|^[1-9A-HJ-NP-Za-km-z]{20,120}$/

/** A form field that must match `pattern` (a content id comes back canonical). */
export function field(value: unknown, name: string, pattern: { test(value: string): boolean }, max = 256): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !pattern.test(value)) {
    throw new BadUiRequestError(`${name}: missing or malformed`)
  }
  return pattern === CONTENT ? tryCanonicalContentId(value)! : value
}

/** A page of this UI to come back to after logging in: a path under the UI's prefix, nothing else. */
export function returnPath(value: string | undefined): string | null {
  if (value == null) return null
  let path: string
  try {
    path = decodeURIComponent(value)
  } catch {
    return null
  }
  if (path.length > 2048 || !path.startsWith(`${UI_PREFIX}/`) || path.startsWith('//') || /[\\\r\n]/.test(path))
    return null
  if (path.startsWith(`${UI_PREFIX}/login`) || path.startsWith(`${UI_PREFIX}/api/`)) return null
  return path
}

/** The storefront to go back to: an http(s) URL, or null (anything else is dropped, never linked). */
export function storeUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 1024) return null
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : null
  } catch {
    return null
  }
}

/** The cookies of a `Cookie` header, by name. */
export function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=')
    if (at < 0) continue
    out.set(part.slice(0, at).trim(), part.slice(at + 1).trim())
  }
  return out
}
