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
}

/** Settings that are valid one by one but wrong together: each an issue at its path. */
export function marketExtensionIssues(market: MarketExtensions): Array<{ path: (string | number)[]; message: string }> {
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
  return issues
}
