import { formatMinorUnits } from '../../protocols/identifiers/currencies.ts'
import { expandTerritories, territorySetWithin } from '../../protocols/identifiers/territories.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { ClauseFailure } from '../../protocols/reference/index.ts'
import type { NetworkRuleDefaults } from '../../protocols/usage-rules/index.ts'
import { checkRulesWithinBounds } from '../../protocols/usage-rules/index.ts'

/**
 * The certification clauses as one pure function: everything the reference service knows about an offer goes
 * in, every clause that fails comes out (an empty list certifies). Clauses that depend on the contract are only
 * judged when the contract is known.
 */

export type RetailerStanding = { ok: true } | { ok: false; revoked: boolean; reason: string }

export interface ClauseInput {
  offer: SignedRecord<'consort/offer'>
  now: number
  /** Whether the signer holds a current retailer certificate (and whether it was revoked). */
  retailer: RetailerStanding
  /** The contract record the offer names, or null when this service does not know it. */
  named: SignedRecord<'consort/contract'> | null
  /** The highest version of that contract (from the same distributor); the offer is judged against it. */
  current: SignedRecord<'consort/contract'> | null
  /** The current version was revoked by its distributor (a takedown). */
  contractRevoked: boolean
  /** The offer record was revoked (by its retailer or a reference service). */
  offerRevoked: boolean
  /** The tracks (as `isrc:` content ids) of a release content id, when this service has seen the release. */
  releaseTracks: ReadonlyMap<string, readonly string[]>
  ruleDefaults: NetworkRuleDefaults
}

/** Countries named in a failure message before it says "and N more". */
const MAX_LISTED = 12

function listSome(items: readonly string[]): string {
  return items.length <= MAX_LISTED
    ? items.join(', ')
    : `${items.slice(0, MAX_LISTED).join(', ')} and ${items.length - MAX_LISTED} more`
}

const amount = (value: bigint, currency: string) => `${formatMinorUnits(value, currency)} ${currency}`
const when = (ms: number) => new Date(ms).toISOString()

/** Is one content item of an offer covered by the contract? See docs/decisions/0300-release-offer-coverage.md. */
export function contentCovered(
  item: string,
  contractContent: readonly string[],
  releaseTracks: ReadonlyMap<string, readonly string[]>,
): boolean {
  if (contractContent.includes(item)) return true
  if (item.startsWith('isrc:')) return false
  const tracks = releaseTracks.get(item)
  return tracks != null && tracks.length > 0 && tracks.every((t) => contractContent.includes(t))
}

export function checkOfferClauses(input: ClauseInput): ClauseFailure[] {
  const { offer, now } = input
  const o = offer.body
  const failures: ClauseFailure[] = []
  const fail = (clause: ClauseFailure['clause'], message: string) => failures.push({ clause, message })

  if (!input.retailer.ok) {
    fail(input.retailer.revoked ? 'revoked' : 'retailer-certificate', input.retailer.reason)
  }
  if (input.offerRevoked) fail('revoked', `offer ${offer.id} (${o.offerId}) is revoked`)

  const named = input.named
  const contract = input.current
  if (named == null || contract == null) {
    fail(
      'contract-exists',
      `contract ${o.contract} is not known to this reference service (has it been published on the contracts topic?)`,
    )
    return failures
  }
  const c = contract.body
  if (input.contractRevoked) {
    fail('revoked', `contract ${c.contractId} (seq ${c.seq}) was revoked by its distributor`)
  }
  if (now < c.validFrom) {
    fail('contract-current', `contract ${c.contractId} (seq ${c.seq}) is in force only from ${when(c.validFrom)}`)
  } else if (c.validUntil != null && now >= c.validUntil) {
    fail('contract-current', `contract ${c.contractId} (seq ${c.seq}) ended at ${when(c.validUntil)}`)
  }

  if (c.retailer != null && Buffer.compare(c.retailer, offer.signer) !== 0) {
    fail('contract-party', `contract ${c.contractId} is with another retailer, not the offer's signer`)
  }

  const uncovered = o.content.filter((item) => !contentCovered(item, c.content, input.releaseTracks))
  if (uncovered.length > 0) fail('content', `contract ${c.contractId} does not cover ${listSome(uncovered)}`)

  if (!c.useTypes.includes(o.useType)) {
    fail('use-type', `contract ${c.contractId} allows ${c.useTypes.join(', ')}, not ${o.useType}`)
  }

  const offerSet = { included: o.territories, excluded: o.excludedTerritories }
  const contractSet = { included: c.territories, excluded: c.excludedTerritories }
  const offerCountries = expandTerritories(offerSet.included, offerSet.excluded)
  if (offerCountries.size === 0) {
    fail('territory', 'the offer covers no territory once its exclusions are taken out')
  } else if (!territorySetWithin(offerSet, contractSet)) {
    const allowed = expandTerritories(contractSet.included, contractSet.excluded)
    const outside = [...offerCountries].filter((t) => !allowed.has(t)).sort()
    fail('territory', `contract ${c.contractId} does not cover ${listSome(outside)}`)
  }

  const windowProblems: string[] = []
  if (o.validFrom < c.validFrom)
    windowProblems.push(`starts ${when(o.validFrom)}, before the contract (${when(c.validFrom)})`)
  if (c.validUntil != null && (o.validUntil == null || o.validUntil > c.validUntil)) {
    windowProblems.push(
      `${o.validUntil == null ? 'has no end' : `ends ${when(o.validUntil)}`}, after the contract (${when(c.validUntil)})`,
    )
  }
  if (o.validUntil != null && o.validUntil <= now) windowProblems.push(`already ended at ${when(o.validUntil)}`)
  if (windowProblems.length > 0) fail('window', `the offer ${windowProblems.join('; ')}`)

  const price = o.price
  const unit = c.wholesale.find((w) => w.currency === price.currency && w.per === 'unit')
  const perPlay = c.wholesale.find((w) => w.currency === price.currency && w.per === 'play')
  let below = false
  if (unit != null) {
    below = price.amount < unit.amount
  } else if (perPlay == null && c.wholesale.length > 0) {
    const priced = [...new Set(c.wholesale.map((w) => w.currency))].join(', ')
    fail('price', `contract ${c.contractId} has no wholesale price in ${price.currency} (it prices ${priced})`)
  }
  if (below && o.promotion == null) {
    fail(
      'price',
      `price ${amount(price.amount, price.currency)} is below the wholesale price ${amount(unit!.amount, unit!.currency)}`,
    )
  }

  if (o.promotion?.kind === 'free') {
    if (price.amount !== 0n) {
      fail('promotion', `a free promotion must have price 0, not ${amount(price.amount, price.currency)}`)
    }
    const inWindow =
      o.validUntil != null && c.promotions.freeWindows.some((w) => w.from <= o.validFrom && o.validUntil! <= w.until)
    if (!inWindow) {
      fail(
        'promotion',
        c.promotions.freeWindows.length === 0
          ? `contract ${c.contractId} allows no free promotion`
          : `the offer's window ${when(o.validFrom)}–${o.validUntil == null ? 'open' : when(o.validUntil)} lies in none of the contract's free windows`,
      )
    }
  } else if (o.promotion?.kind === 'discount' && below) {
    const floor = c.promotions.minPrice.find((m) => m.currency === price.currency)
    if (floor == null) {
      fail('promotion', `contract ${c.contractId} allows no discount in ${price.currency}`)
    } else if (price.amount < floor.amount) {
      fail(
        'promotion',
        `discounted price ${amount(price.amount, price.currency)} is below the contract's lowest promotional price ${amount(floor.amount, floor.currency)}`,
      )
    }
  }

  const violations = checkRulesWithinBounds(o.rules, c.ruleBounds, input.ruleDefaults)
  if (violations.length > 0) fail('rules', violations.map((v) => v.message).join('; '))

  return failures
}
