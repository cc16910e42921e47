/**
 * The money arithmetic of settlement, as pure functions of integers (minor units). Every function preserves the
 * total exactly: what goes in is what comes out, split by largest remainder so that no minor unit appears or
 * vanishes. The decisions behind them are in docs/decisions/0501 and 0502.
 */
import { BASIS_POINTS, type Share, type SplitPart, splitByBasisPoints } from './splits.ts'

const WHOLE = BigInt(BASIS_POINTS)

/** The clearing fee on an amount: rounded down, so the network never charges more than its rate. */
export function feeOf(amount: bigint, feeBps: number): bigint {
  return (amount * BigInt(feeBps)) / WHOLE
}

export interface SaleInput {
  /** What the buyer pays (≥ 0). */
  price: bigint
  /** The contract's per-unit wholesale price in the sale's currency; null when it has none (per play, pools). */
  wholesale: bigint | null
  /** The network's clearing fee in basis points of the price. */
  feeBps: number
  /** The offer is a promotion (its contract allows a price down to `promotions.minPrice`). */
  promotion: boolean
  /** The rights holders' shares of the wholesale price (basis points adding up to 10 000). */
  shares: readonly Share[]
}

export interface SalePlan {
  price: bigint
  /** To the clearinghouse. */
  fee: bigint
  /** To the distributor, then on to the rights holders (`splits` add up to it). */
  wholesale: bigint
  /** The retailer's net: price − fee − wholesale. Negative only for a non-promotional sale below cost. */
  margin: bigint
  splits: SplitPart[]
}

/**
 * How a sale's price is divided. The clearing fee comes off the price first. The distributor gets its wholesale
 * price; on a promotion whose price does not cover the fee and the wholesale price, the distributor (who allowed
 * the promotion in its contract) bears the discount and gets what is left after the fee, the retailer nothing.
 * Outside a promotion the retailer bears a price below cost: its margin is negative and it owes the difference.
 */
export function planSale(input: SaleInput): SalePlan {
  const { price, feeBps, promotion, shares } = input
  if (price < 0n) throw new RangeError(`price ${price} is negative`)
  const fee = feeOf(price, feeBps)
  let wholesale = input.wholesale ?? 0n
  if (wholesale < 0n) throw new RangeError(`wholesale ${wholesale} is negative`)
  if (promotion && price - fee < wholesale) wholesale = price - fee
  const margin = price - fee - wholesale
  return { price, fee, wholesale, margin, splits: splitByBasisPoints(wholesale, shares) }
}

/**
 * A sale's referral credit (decision 0512): `bps` of the price, rounded down, paid from `from`'s share of this sale
 * — the retailer's margin or the distributor's wholesale — and never more than that share (nothing if it has none).
 */
export function referralCredit(sale: SalePlan, bps: number, from: 'retailer' | 'distributor'): bigint {
  const share = from === 'retailer' ? sale.margin : sale.wholesale
  if (share <= 0n) return 0n
  const wanted = (sale.price * BigInt(bps)) / WHOLE
  return wanted < share ? wanted : share
}

/**
 * The sale's plan once its referral credit is paid: from the retailer, its margin is less by the credit; from the
 * distributor, the rights holders split the wholesale less the credit (the distributor passes on what it keeps).
 */
export function withReferral(
  sale: SalePlan,
  credit: bigint,
  from: 'retailer' | 'distributor',
  shares: readonly Share[],
): SalePlan {
  if (credit < 0n) throw new RangeError(`credit ${credit} is negative`)
  if (from === 'retailer') return { ...sale, margin: sale.margin - credit }
  if (credit > sale.wholesale) throw new RangeError(`credit ${credit} exceeds the wholesale ${sale.wholesale}`)
  return { ...sale, splits: splitByBasisPoints(sale.wholesale - credit, shares) }
}

export interface PlayPlan {
  /** The contract's per-play wholesale price, paid by the retailer to the distributor. */
  rate: bigint
  /** The clearing fee on it, paid by the retailer on top. */
  fee: bigint
  /** The rate, split among the rights holders. */
  splits: SplitPart[]
}

/** One paid play: the retailer pays the rate to the distributor and the fee on it to the clearinghouse. */
export function planPlay(rate: bigint, feeBps: number, shares: readonly Share[]): PlayPlan {
  if (rate < 0n) throw new RangeError(`rate ${rate} is negative`)
  return { rate, fee: feeOf(rate, feeBps), splits: splitByBasisPoints(rate, shares) }
}

export interface Weighted<K> {
  key: K
  weight: bigint
}

/**
 * Splits `total` in proportion to integer weights by largest remainder: each part is the floor or ceiling of its
 * exact share and the parts add up to `total`. Ties go to the larger weight, then to the earlier item. Parts come
 * back in the order of `items`. All weights zero: everything to nobody is impossible, so `total` must be 0 then.
 */
export function splitByWeights<K>(total: bigint, items: readonly Weighted<K>[]): Array<{ key: K; amount: bigint }> {
  if (total < 0n) throw new RangeError(`total ${total} is negative`)
  const sum = items.reduce((s, i) => s + i.weight, 0n)
  if (items.some((i) => i.weight < 0n)) throw new RangeError('a weight is negative')
  if (sum === 0n) {
    if (total !== 0n) throw new RangeError(`cannot split ${total} among zero weights`)
    return items.map((i) => ({ key: i.key, amount: 0n }))
  }
  const parts = items.map((i, index) => ({
    index,
    key: i.key,
    weight: i.weight,
    amount: (total * i.weight) / sum,
    remainder: (total * i.weight) % sum,
  }))
  let left = total - parts.reduce((s, p) => s + p.amount, 0n)
  const order = [...parts].sort((a, b) => {
    if (a.remainder !== b.remainder) return a.remainder > b.remainder ? -1 : 1
    if (a.weight !== b.weight) return a.weight > b.weight ? -1 : 1
    return a.index - b.index
  })
  for (const p of order) {
    if (left === 0n) break
    p.amount += 1n
    left -= 1n
  }
  return parts.map((p) => ({ key: p.key, amount: p.amount }))
}

export interface PoolContract<K> {
  key: K
  /** The distributor's share of the retailer's revenue (the contract's `revenueShareBps`). */
  bps: number
  /** Plays under this contract in the period. */
  plays: number
}

/**
 * A subscription or ad-supported period, pro rata: each contract's distributor gets its share (in basis points) of
 * the retailer's revenue for the period, in proportion to its plays among all of the retailer's plays under such
 * contracts. Rounded down per contract; what rounding leaves stays with the retailer (it is never paid out).
 */
export function planPool<K>(revenue: bigint, contracts: readonly PoolContract<K>[]): Array<{ key: K; amount: bigint }> {
  if (revenue < 0n) throw new RangeError(`revenue ${revenue} is negative`)
  const total = BigInt(contracts.reduce((s, c) => s + c.plays, 0))
  return contracts.map((c) => ({
    key: c.key,
    amount: total === 0n ? 0n : (revenue * BigInt(c.bps) * BigInt(c.plays)) / (WHOLE * total),
  }))
}
