import { InvalidContentIdError } from './errors.ts'
import { isGrid, normaliseGrid } from './grid.ts'
import { icpnKey, isIcpn } from './icpn.ts'
import { isIsrc, normaliseIsrc } from './isrc.ts'

/**
 * Content is named by industry identifiers with a scheme: `isrc:` for a track, `icpn:` or `grid:` for a release.
 * Each has one canonical form, the only one records carry and the only one Consort prints; people and other systems
 * may write any valid form, and every input is turned into the canonical one here (docs/decisions/0006):
 *
 * - `isrc:` 12 characters, upper case, no hyphens (`isrc:USRC17607839`);
 * - `icpn:` the GTIN-14 form, 14 digits left-padded with zeros, so that the UPC-A `012345678905`, the EAN-13
 *   `0012345678905` and the GTIN-14 `00012345678905` of one product are one id (`icpn:00012345678905`);
 * - `grid:` 18 characters, upper case, no hyphens.
 */
export const CONTENT_SCHEMES = ['isrc', 'icpn', 'grid'] as const
export type ContentScheme = (typeof CONTENT_SCHEMES)[number]

/** The canonical form of a UPC-A, EAN-13 or GTIN-14: its GTIN-14. Throws `InvalidIcpnError`. */
export function canonicalIcpn(s: string): string {
  return icpnKey(s.trim())
}

/** True when `s` is a content id in its canonical form. */
export function isCanonicalContentId(s: string): boolean {
  const colon = s.indexOf(':')
  if (colon < 0) return false
  const value = s.slice(colon + 1)
  switch (s.slice(0, colon)) {
    case 'isrc':
      return isIsrc(value)
    case 'icpn':
      return value.length === 14 && isIcpn(value)
    case 'grid':
      return isGrid(value)
    default:
      return false
  }
}

/**
 * The canonical content id of what a person or another system wrote: a scheme in any case (`ICPN:`, `isrc:`) with
 * any valid form of its code, or a bare code (an ISRC, a 12-14 digit UPC/EAN/GTIN, a GRid), with surrounding white
 * space. Throws `InvalidContentIdError` naming what is wrong.
 */
export function canonicalContentId(input: string): string {
  const trimmed = input.trim()
  const colon = trimmed.indexOf(':')
  if (colon < 0) {
    const bare = trimmed.toUpperCase()
    if (/^[0-9]{12,14}$/.test(bare)) {
      if (isIcpn(bare)) return `icpn:${icpnKey(bare)}`
      throw new InvalidContentIdError(input, 'a UPC/EAN of 12, 13 or 14 digits ends in its GS1 check digit')
    }
    const isrc = tryNormalise(normaliseIsrc, bare)
    if (isrc != null) return `isrc:${isrc}`
    const grid = tryNormalise(normaliseGrid, bare)
    if (grid != null) return `grid:${grid}`
    throw new InvalidContentIdError(input, 'expected isrc:…, icpn:… or grid:…, or a bare ISRC, UPC/EAN or GRid')
  }
  const scheme = trimmed.slice(0, colon).toLowerCase()
  const value = trimmed.slice(colon + 1).trim()
  try {
    if (scheme === 'isrc') return `isrc:${normaliseIsrc(value)}`
    if (scheme === 'icpn' || scheme === 'upc' || scheme === 'ean') return `icpn:${canonicalIcpn(value)}`
    if (scheme === 'grid') return `grid:${normaliseGrid(value)}`
  } catch (err) {
    throw new InvalidContentIdError(input, (err as Error).message)
  }
  throw new InvalidContentIdError(input, `unknown scheme ${JSON.stringify(scheme.slice(0, 16))} (isrc, icpn or grid)`)
}

/** `canonicalContentId`, or null for what is not a content id. */
export function tryCanonicalContentId(input: string): string | null {
  try {
    return canonicalContentId(input)
  } catch {
    return null
  }
}

function tryNormalise(normalise: (s: string) => string, value: string): string | null {
  try {
    return normalise(value)
  } catch {
    return null
  }
}
