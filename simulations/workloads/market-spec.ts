import { z } from 'zod'

/**
 * The market workload's settings for paid delivery (decision 0811), beside the market's own in `scenario.ts`:
 * every contract the labels sign names this delivery fee, the network record's policy says whether listeners that
 * seed (players of other accounts) are paid, and the ground truth prices every licensed fetch.
 */
export const deliverySpec = z
  .object({
    /** EUR minor units per decimal GB (10⁹ bytes of encrypted segments) delivered. */
    perGBMinor: z.number().int().min(0).max(100_000_000),
    /** Basis points of each sale's price, paid pro rata to the bytes of the track delivered. */
    saleBps: z.number().int().min(0).max(10_000).default(0),
    /** The network's policy `deliveryPaysListeners`: players seeding to other accounts are paid into their wallets. */
    paysListeners: z.boolean().default(false),
  })
  .strict()

export type DeliverySpec = z.infer<typeof deliverySpec>

/** What `scenario.ts` needs of a market to check these settings against the rest of the scenario. */
interface MarketExtensions {
  purchasesPerSec: number
  delivery?: DeliverySpec | undefined
  sharing?: SharingSpec | undefined
}

/** Settings that are valid one by one but wrong together: each an issue at its path. */
export function marketExtensionIssues(
  market: MarketExtensions,
  players: number,
): Array<{ path: (string | number)[]; message: string }> {
  const issues: Array<{ path: (string | number)[]; message: string }> = []
  const delivery = market.delivery
  if (delivery != null) {
    if (delivery.perGBMinor === 0 && delivery.saleBps === 0)
      issues.push({
        path: ['delivery'],
        message: 'a delivery fee of 0 per GB and 0 bps pays nothing: name a fee, or leave delivery out',
      })
    if (market.purchasesPerSec === 0)
      issues.push({
        path: ['delivery'],
        message: 'paid delivery needs purchases (purchasesPerSec > 0): only licensed fetches are receipted and paid',
      })
  }
  const sharing = market.sharing
  if (sharing != null) {
    if (sharing.recipients > players - 1)
      issues.push({
        path: ['sharing', 'recipients'],
        message: `${sharing.recipients} recipient(s) per player need at least ${sharing.recipients + 1} players; the scenario has ${players}`,
      })
    if (sharing.delayMs.min > sharing.delayMs.max)
      issues.push({ path: ['sharing', 'delayMs', 'max'], message: 'must not be below min' })
    if (sharing.referral.stream?.from === 'distributor')
      issues.push({
        path: ['sharing', 'referral', 'stream', 'from'],
        message:
          'the stream deal has no per-unit wholesale price: a credit from the distributor would have nothing to take from (decision 0512)',
      })
    if (market.purchasesPerSec === 0)
      issues.push({
        path: ['sharing'],
        message: 'sharing needs purchases (purchasesPerSec > 0): players share what they buy',
      })
  }
  return issues
}

/** A deal's referral clause as the scenario writes it (decision 0512); the referrers are listeners' accounts. */
const referralClause = z
  .object({
    bps: z.number().int().min(1).max(10_000),
    from: z.enum(['retailer', 'distributor']).default('retailer'),
  })
  .strict()

/**
 * Sharing (decision 0811): the share graph among the players and how they use it. Every player has `recipients` other
 * players it shares with, drawn once from the seed; each track it buys it shares with them (a `consort/share` signed
 * by its account, recommending the offer it bought); each recipient opens the share (its preview plays from the
 * swarm) and buys through it with `buyProbability`, after `delayMs`; a purchase through a share is shared on again,
 * up to `maxHops` from a planned purchase.
 */
export const sharingSpec = z
  .object({
    /** Out-degree of the share graph: the players each player shares with (distinct, never itself). */
    recipients: z.number().int().min(1).max(50),
    buyProbability: z.number().min(0).max(1),
    delayMs: z
      .object({ min: z.number().int().min(0).max(3_600_000), max: z.number().int().min(0).max(3_600_000) })
      .strict()
      .default({ min: 2000, max: 15_000 }),
    /** How far a share travels: 1 = only purchases the plan made are shared. */
    maxHops: z.number().int().min(1).max(10).default(2),
    /**
     * A recipient that bought through a share buys once more through the same share, with this probability: the
     * share's second use must credit nothing (decision 0512: once per referrer, share and buying account).
     */
    reuseProbability: z.number().min(0).max(1).default(0),
    /** The referral clause each deal's contract carries; null: the deal credits no referral. */
    referral: z
      .object({ download: referralClause.nullable().default(null), stream: referralClause.nullable().default(null) })
      .strict(),
  })
  .strict()

export type SharingSpec = z.infer<typeof sharingSpec>
