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
  delivery?: DeliveryTerms | null
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

  sale(input: { wallet: string; retailer: string; price: bigint; terms: ContractTerms }): void {
    const { wallet, retailer, price, terms } = input
    const fee = this.#feeOf(price)
    const wholesale = terms.unit ?? 0n
    this.#add(wallet, -price)
    this.#add(this.fee, fee)
    this.#add(retailer, price - fee - wholesale)
    this.#add(terms.distributor, 0n)
    for (const [party, amount] of splitByBps(wholesale, terms.shares)) this.#add(party, amount)
    this.sales++
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
