import { InvalidIcpnError } from './errors.ts'

/**
 * International Code Product Number of a release: a GS1 product code. Labels send UPC-A (12 digits), EAN-13
 * (13 digits) and, in DDEX messages, also the 14-digit GTIN form padded with leading zeros (the ERN 4.3 example
 * album uses `00094631432057`). All three share the GS1 modulo-10 check digit, so all three are accepted.
 */
export const ICPN_LENGTHS = [12, 13, 14] as const

const DIGITS = /^[0-9]+$/

/**
 * The GS1 check digit for `body`, the code without its last digit (11 digits for UPC-A, 12 for EAN-13, 13 for
 * GTIN-14): digits are weighted 3, 1, 3, ... from the right, and the check digit brings the sum to a multiple of 10.
 */
export function icpnCheckDigit(body: string): number {
  if (!DIGITS.test(body) || !ICPN_LENGTHS.some((length) => length - 1 === body.length)) {
    throw new InvalidIcpnError(body, 'a check digit is computed over 11, 12 or 13 digits')
  }
  let sum = 0
  for (let i = 0; i < body.length; i++) {
    const digit = body.charCodeAt(body.length - 1 - i) - 48
    sum += i % 2 === 0 ? digit * 3 : digit
  }
  return (10 - (sum % 10)) % 10
}

/** True when `s` is 12, 13 or 14 digits whose last digit is the right check digit. */
export function isIcpn(s: string): boolean {
  if (!DIGITS.test(s) || !ICPN_LENGTHS.some((length) => length === s.length)) return false
  return icpnCheckDigit(s.slice(0, -1)) === s.charCodeAt(s.length - 1) - 48
}

/**
 * The GTIN-14 form of a valid ICPN (left-padded with zeros), so that the UPC `094631432057`, the EAN
 * `0094631432057` and the GTIN `00094631432057` of one product compare equal. Throws `InvalidIcpnError`.
 */
export function icpnKey(s: string): string {
  if (!isIcpn(s)) throw new InvalidIcpnError(s, 'expected 12, 13 or 14 digits ending in the GS1 check digit')
  return s.padStart(14, '0')
}
