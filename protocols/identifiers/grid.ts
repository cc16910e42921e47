import { InvalidGridError } from './errors.ts'

/**
 * Global Release Identifier: 18 characters, `A1` (the identifier scheme), a 5-character issuer code, a
 * 10-character release number and one check character computed with the ISO 7064 hybrid system MOD 37,36 over
 * the alphabet 0-9 A-Z.
 */
const GRID_SHAPE = /^A1[0-9A-Z]{16}$/
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const MODULUS = 36

/** The ISO 7064 MOD 37,36 check character for the 17 characters before it. */
export function gridCheckCharacter(body: string): string {
  if (!/^[0-9A-Z]{17}$/.test(body))
    throw new InvalidGridError(body, 'the check character is computed over 17 characters 0-9 A-Z')
  let product = MODULUS
  for (const char of body) {
    let sum = (product + ALPHABET.indexOf(char)) % MODULUS
    if (sum === 0) sum = MODULUS
    product = (sum * 2) % (MODULUS + 1)
  }
  return ALPHABET[(MODULUS + 1 - product) % MODULUS]!
}

/** True when `s` is a GRid in canonical form (upper case, no separators) with a correct check character. */
export function isGrid(s: string): boolean {
  return GRID_SHAPE.test(s) && gridCheckCharacter(s.slice(0, 17)) === s[17]
}

/** The canonical form of a GRid written with hyphens or in lower case (`A1-2425G-ABC1234002-M`). */
export function normaliseGrid(s: string): string {
  const compact = s.trim().toUpperCase().replaceAll('-', '')
  if (!GRID_SHAPE.test(compact)) throw new InvalidGridError(s, 'expected A1 followed by 16 letters or digits')
  if (!isGrid(compact)) throw new InvalidGridError(s, 'the check character (ISO 7064 MOD 37,36) does not match')
  return compact
}
