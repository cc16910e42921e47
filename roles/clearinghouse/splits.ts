/**
 * Splitting an amount of money among parties by shares in basis points (1/100 of a percent), exactly: the parts
 * always add up to the total, none is negative, and each is the exact proportional part rounded down or up.
 */
import { InvalidSplitError } from './ledger/errors.ts'

/** Basis points in a whole. */
export const BASIS_POINTS = 10_000

/** Most parties in one split: a royalty chain has a handful; bounds the sort and the output. */
export const MAX_SPLIT_PARTIES = 256

/** Longest party name: an account id (see the ledger's MAX_ID_LENGTH). */
export const MAX_PARTY_LENGTH = 128

export interface Share {
  party: string
  /** An integer 0..10000; the shares of one split add up to exactly 10000. */
  bps: number
}

export interface SplitPart {
  party: string
  amount: bigint
}

/**
 * Splits `total` (minor units, >= 0) among `shares` by largest-remainder rounding:
 *
 * 1. each party first gets floor(total × bps / 10000);
 * 2. the cents left over (fewer than the number of parties) go one each to the parties with the largest
 *    remainders (total × bps mod 10000);
 * 3. ties are broken by the larger share first, then by party name in ascending code-unit order — so the result
 *    does not depend on the order in which the shares are listed.
 *
 * Every part is therefore floor or ceil of its exact share, a 0-bps party always gets 0, and the parts sum to
 * `total`. Parts are returned in the order of `shares`. Throws InvalidSplitError naming the field on malformed
 * input (non-integer or negative bps, a sum other than 10000, duplicate or empty parties, a negative total).
 */
export function splitByBasisPoints(total: bigint, shares: readonly Share[]): SplitPart[] {
  if (typeof total !== 'bigint') throw new InvalidSplitError('total', total, 'must be a bigint of minor units')
  if (total < 0n) throw new InvalidSplitError('total', total, 'must not be negative')
  if (!Array.isArray(shares) || shares.length === 0 || shares.length > MAX_SPLIT_PARTIES) {
    throw new InvalidSplitError('shares', shares, `must be an array of 1..${MAX_SPLIT_PARTIES} shares`)
  }
  const seen = new Set<string>()
  let sum = 0
  for (const [i, share] of shares.entries()) {
    if (typeof share !== 'object' || share === null)
      throw new InvalidSplitError(`shares[${i}]`, share, 'must be an object')
    const { party, bps } = share
    if (typeof party !== 'string' || party.length === 0 || party.length > MAX_PARTY_LENGTH) {
      throw new InvalidSplitError(`shares[${i}].party`, party, `must be a string of 1..${MAX_PARTY_LENGTH} characters`)
    }
    if (seen.has(party)) throw new InvalidSplitError(`shares[${i}].party`, party, 'appears more than once')
    seen.add(party)
    if (typeof bps !== 'number' || !Number.isInteger(bps) || bps < 0 || bps > BASIS_POINTS) {
      throw new InvalidSplitError(`shares[${i}].bps`, bps, `must be an integer in 0..${BASIS_POINTS}`)
    }
    sum += bps
  }
  if (sum !== BASIS_POINTS) {
    throw new InvalidSplitError('shares', sum, `bps must add up to exactly ${BASIS_POINTS}`)
  }

  const whole = BigInt(BASIS_POINTS)
  const parts = shares.map((s, index) => {
    const exact = total * BigInt(s.bps)
    return { index, party: s.party, bps: s.bps, amount: exact / whole, remainder: exact % whole }
  })
  let left = total - parts.reduce((acc, p) => acc + p.amount, 0n)
  const order = [...parts].sort((a, b) => {
    if (a.remainder !== b.remainder) return a.remainder > b.remainder ? -1 : 1
    if (a.bps !== b.bps) return b.bps - a.bps
    return a.party < b.party ? -1 : a.party > b.party ? 1 : 0
  })
  for (const p of order) {
    if (left === 0n) break
    if (p.remainder === 0n) break
    p.amount += 1n
    left -= 1n
  }
  // The remainders add up to `left` × 10000 and each is below 10000, so at least `left` of them are non-zero.
  if (left !== 0n) throw new InvalidSplitError('total', total, 'could not be split exactly (internal error)')
  return parts.map((p) => ({ party: p.party, amount: p.amount }))
}
