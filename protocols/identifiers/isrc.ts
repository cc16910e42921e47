import { InvalidIsrcError } from './errors.ts'

/**
 * International Standard Recording Code (ISO 3901): a 2-letter country code, a 3-character registrant code, the
 * 2-digit year of reference and a 5-digit designation code, 12 characters in all. The country part is not checked
 * against ISO 3166: the ISRC agency also allocates prefixes that are not countries (QM, QZ, ZZ, ...).
 */
const ISRC_COMPACT = /^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$/
const ISRC_HYPHENATED = /^([A-Z]{2})-([A-Z0-9]{3})-([0-9]{2})-([0-9]{5})$/

/** True when `s` is an ISRC in its canonical form: 12 characters, upper case, no separators. */
export function isIsrc(s: string): boolean {
  return ISRC_COMPACT.test(s)
}

/**
 * Returns the canonical form of an ISRC written compactly or with hyphens at the standard places
 * (`US-RC1-76-07839` -> `USRC17607839`), in either case. Throws `InvalidIsrcError` otherwise.
 */
export function normaliseIsrc(s: string): string {
  const upper = s.trim().toUpperCase()
  if (ISRC_COMPACT.test(upper)) return upper
  const parts = ISRC_HYPHENATED.exec(upper)
  if (parts !== null) return parts.slice(1).join('')
  throw new InvalidIsrcError(s, 'expected 2 letters, 3 letters or digits, then 7 digits (CC-XXX-YY-NNNNN)')
}
