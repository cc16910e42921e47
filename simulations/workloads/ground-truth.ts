/**
 * The workload's own record of what happened in the market — money paid in, sales made, licensed plays — and what
 * every participant's account must therefore hold. It is written from the settlement rules as the README of the
 * clearinghouse states them (decision 0501), not from its code, so that a wrong split, a lost or doubled play, a
 * payment for a replayed report or a stray transfer shows up as a difference.
 *
 * - Funding A: the gateway's external account −A, the wallet +A.
 * - A sale at price P under a contract with per-unit wholesale W (0 without one): fee F = ⌊P × bps / 10 000⌋; the
 *   wallet −P, the fee account +F, the retailer +P − F − W, the distributor +W − W (it passes everything on), the
 *   rights holders W split by their basis points, largest remainder first.
 * - A licensed play under a contract with a per-play price R: the retailer −R − ⌊R × bps / 10 000⌋, the fee account
 *   +⌊R × bps / 10 000⌋, the rights holders R split. Plays under contracts without a per-play price move nothing.
 * - A delivery payment (decision 0511, computed in `delivery-truth.ts`): the contract's distributor −D, the peer paid
 *   (a delivery node, or a seeding listener's wallet) +D.
 * - A sale through a share that earns a referral (decision 0512; whether it does is the sharing workload's to say):
 *   credit C = min(⌊P × bps / 10 000⌋, the payer's share of this sale), the payer's share being the retailer's
 *   margin P − F − W or the distributor's wholesale W; the referrer +C, and the retailer's margin less C (from the
 *   retailer) or the rights holders splitting W − C (from the distributor).
 */

import type { DeliveryTerms } from './delivery-truth.ts'

export interface Share {
  /** The rights holder's participant id (`rightsholder:<party>`). */
  participant: string
  bps: number
}

/** What settlement needs to know of a contract. */
export interface ContractTerms {
  /** The distributor's participant id. */
  distributor: string
  currency: string
  unit: bigint | null
  perPlay: bigint | null
  shares: readonly Share[]
  /** The contract's delivery fee (decision 0511); null or absent: it pays no delivery. */
  delivery?: DeliveryTerms | null /** The contract's referral clause (decision 0512); null or absent: a share credits no one. */
  referral?: { bps: number; from: 'retailer' | 'distributor'; referrers: readonly string[] } | null
}

/** Split `total` by basis points, largest remainder first (the scenarios use shares that never tie). */
export function splitByBps(total: bigint, shares: readonly Share[]): Array<[string, bigint]> {
  const sum = BigInt(shares.reduce((a, s) => a + s.bps, 0))
  if (sum === 0n) return []
  const parts = shares.map((s) => {
    const exact = total * BigInt(s.bps)
    return { participant: s.participant, amount: exact / sum, rest: exact % sum }
  })
  let left = total - parts.reduce((a, p) => a + p.amount, 0n)
  const byRest = [...parts].sort((a, b) => (a.rest === b.rest ? 0 : a.rest > b.rest ? -1 : 1))
  for (const p of byRest) {
    if (left <= 0n) break
    p.amount++
    left--
  }
  return parts.map((p) => [p.participant, p.amount])
}

export class GroundTruth {
  readonly feeBps: number
  readonly fee: string
  readonly gateway: string
  readonly #balances = new Map<string, bigint>()
  sales = 0
  paidPlays = 0
  unpaidPlays = 0
  deliveryPayments = 0
  referralCredits = 0

  constructor(init: { feeBps: number; feeParticipant: string; gatewayParticipant: string }) {
    this.feeBps = init.feeBps
    this.fee = init.feeParticipant
    this.gateway = init.gatewayParticipant
  }

  #add(participant: string, amount: bigint): void {
    this.#balances.set(participant, (this.#balances.get(participant) ?? 0n) + amount)
  }

  #feeOf(amount: bigint): bigint {
    return (amount * BigInt(this.feeBps)) / 10_000n
  }

  fund(wallet: string, amount: bigint): void {
    this.#add(this.gateway, -amount)
    this.#add(wallet, amount)
  }

  /** A sale; with `referral`, the credit its referrer earns (answered: 0 when the payer's share is nothing). */
  sale(input: {
    wallet: string
    retailer: string
    price: bigint
    terms: ContractTerms
    referral?: { referrer: string; bps: number; from: 'retailer' | 'distributor' } | null
  }): bigint {
    const { wallet, retailer, price, terms, referral } = input
    const fee = this.#feeOf(price)
    const wholesale = terms.unit ?? 0n
    const margin = price - fee - wholesale
    let credit = 0n
    if (referral != null) {
      const share = referral.from === 'retailer' ? margin : wholesale
      const wanted = (price * BigInt(referral.bps)) / 10_000n
      credit = share <= 0n ? 0n : wanted < share ? wanted : share
    }
    this.#add(wallet, -price)
    this.#add(this.fee, fee)
    this.#add(retailer, margin - (referral?.from === 'retailer' ? credit : 0n))
    this.#add(terms.distributor, 0n)
    const split = wholesale - (referral?.from === 'distributor' ? credit : 0n)
    for (const [party, amount] of splitByBps(split, terms.shares)) this.#add(party, amount)
    if (credit > 0n && referral != null) {
      this.#add(referral.referrer, credit)
      this.referralCredits++
    }
    this.sales++
    return credit
  }

  play(input: { retailer: string; terms: ContractTerms }): void {
    const rate = input.terms.perPlay
    if (rate == null) {
      this.unpaidPlays++
      return
    }
    const fee = this.#feeOf(rate)
    this.#add(input.retailer, -rate - fee)
    this.#add(this.fee, fee)
    this.#add(input.terms.distributor, 0n)
    for (const [party, amount] of splitByBps(rate, input.terms.shares)) this.#add(party, amount)
    this.paidPlays++
  }

  /** The distributor of a sold track pays a peer for delivering it (the amount from `delivery-truth.ts`). */
  deliveryPayment(input: { distributor: string; payee: string; amount: bigint }): void {
    this.#add(input.distributor, -input.amount)
    this.#add(input.payee, input.amount)
    this.deliveryPayments++
  }

  /** Every participant the workload moved money for, with what it must hold (posted, minor units). */
  balances(): Map<string, bigint> {
    return new Map(this.#balances)
  }
}
