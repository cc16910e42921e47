/**
 * From a verified play to money: the licence check (nothing is paid for a play without a licence this clearinghouse
 * can verify), the contract in force, and the lines and transfers of one play.
 */

import { toHex } from '../../../keys/hex.ts'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import type { CertificateTrust } from '../../../protocols/trust/trust.ts'
import {
  distributorParticipant,
  feeParticipant,
  retailerParticipant,
  rightsholderParticipant,
} from '../participants.ts'
import { planPlay } from '../pricing.ts'
import type { SettlementBatch, TransferSum } from '../settlement.ts'
import type { Share } from '../splits.ts'
import type { HoldReason, StoredEvent } from '../state.ts'

export interface Hold {
  reason: HoldReason
  detail: string
}

/** The records a play is settled against. */
export interface PlayRecords {
  licence: SignedRecord<'consort/licence'>
  offer: SignedRecord<'consort/offer'>
  /** The contract in force (the newest version of the licence's contract). */
  contract: SignedRecord<'consort/contract'>
}

/** What a licence check needs of a licence that never changes: kept per decoded licence. */
const licenceFacts = new WeakMap<
  object,
  { registrar: boolean; device: string; account: string; offer: string; contract: string; isrcs: Set<string> }
>()

/** Does the licence cover this play by this device of this account? */
export function checkLicence(
  event: StoredEvent,
  device: string,
  account: string,
  licence: SignedRecord<'consort/licence'>,
  trust: CertificateTrust,
): Hold | null {
  const l = licence.body
  let facts = licenceFacts.get(licence)
  if (facts === undefined) {
    facts = {
      registrar: trust.isRegistrar(licence.signer),
      device: toHex(l.device),
      account: toHex(l.account),
      offer: l.offer.toString(),
      contract: l.contract.toString(),
      isrcs: new Set(l.keys.map((k) => k.isrc)),
    }
    licenceFacts.set(licence, facts)
  }
  if (!facts.registrar) {
    return { reason: 'licence-mismatch', detail: 'the licence is not signed by a registrar of the network' }
  }
  if (trust.isRevoked(licence.id)) return { reason: 'licence-revoked', detail: `licence ${licence.id} is revoked` }
  if (trust.isRevoked(l.receipt)) {
    return { reason: 'licence-revoked', detail: `the receipt of licence ${licence.id} was withdrawn` }
  }
  if (facts.device !== device) return { reason: 'licence-mismatch', detail: 'the licence is for another device' }
  if (facts.account !== account) return { reason: 'licence-mismatch', detail: 'the licence is for another account' }
  if (event.purchaseId !== l.purchaseId) {
    return {
      reason: 'licence-mismatch',
      detail: `the play names purchase ${event.purchaseId}, the licence ${l.purchaseId}`,
    }
  }
  if (!facts.isrcs.has(event.isrc)) {
    return { reason: 'licence-mismatch', detail: `the licence does not cover ${event.isrc}` }
  }
  if (event.offer !== null && event.offer !== facts.offer) {
    return { reason: 'licence-mismatch', detail: 'the play names another offer than its licence' }
  }
  if (event.contract !== null && event.contract !== facts.contract) {
    return { reason: 'licence-mismatch', detail: 'the play names another contract than its licence' }
  }
  if (l.notAfter !== null && event.startedAt > l.notAfter) {
    return { reason: 'licence-mismatch', detail: `the play started after the licence ended (${l.notAfter})` }
  }
  return null
}

/** The rights holders' shares of a contract, named as participants. */
export function sharesOf(contract: SignedRecord<'consort/contract'>): Array<Share & { key: string | null }> {
  return contract.body.splits.map((s) => ({
    party: rightsholderParticipant(s.party),
    bps: s.bps,
    key: s.key === null ? null : toHex(s.key),
  }))
}

export interface PlayContext {
  period: string
  feeBps: number
  /** This clearinghouse's key (its fee account). */
  clearinghouse: Uint8Array
}

export interface PoolCount {
  retailer: string
  currency: string
  contractCid: string
  distributor: string
  content: string
}

/**
 * Settle one licensed play. Pay-as-you-go contracts with a per-play price: the retailer pays the price to the
 * distributor and the clearing fee on it, the distributor's receipt is split among the rights holders. Subscription
 * and ad-supported contracts: the play is counted for the period's pro-rata pool (paid when the period closes).
 * Otherwise (a download's plays, free content) the play is only counted. Returns the pool count to add, if any.
 */
export function settlePlay(
  event: StoredEvent,
  records: PlayRecords,
  ctx: PlayContext,
  batch: SettlementBatch,
  transfers: TransferSum,
): PoolCount | null {
  const { offer, contract } = records
  const retailer = retailerParticipant(offer.signer)
  const distributor = distributorParticipant(contract.body.distributor)
  const fee = feeParticipant(ctx.clearinghouse)
  const content = `isrc:${event.isrc}`
  const ref = `plays:${ctx.period}:${content}`
  const shares = sharesOf(contract)
  for (const s of shares) batch.participant(s.party, s.key)
  const line = (
    participant: string,
    kind: 'play' | 'split' | 'fee',
    amount: bigint,
    counterparty: string,
    currency: string,
  ) =>
    batch.line({
      period: ctx.period,
      participant,
      currency,
      kind,
      ref,
      content,
      counterparty,
      units: 1,
      amount,
      at: event.startedAt,
    })
  const model = contract.body.commercialModel
  const saleCurrency = offer.body.price.currency
  if (model === 'pay-as-you-go') {
    const price =
      contract.body.wholesale.find((w) => w.per === 'play' && w.currency === saleCurrency) ??
      contract.body.wholesale.find((w) => w.per === 'play')
    if (price !== undefined && price.amount > 0n) {
      const currency = price.currency
      const plan = planPlay(price.amount, ctx.feeBps, shares)
      line(retailer, 'play', -plan.rate, distributor, currency)
      line(distributor, 'play', plan.rate, retailer, currency)
      transfers.add({ debit: retailer, credit: distributor, currency, code: 'play', amount: plan.rate })
      batch.account(retailer, currency)
      batch.account(distributor, currency)
      if (plan.fee > 0n) {
        line(retailer, 'fee', -plan.fee, fee, currency)
        line(fee, 'fee', plan.fee, retailer, currency)
        transfers.add({ debit: retailer, credit: fee, currency, code: 'play-fee', amount: plan.fee })
        batch.account(fee, currency)
      }
      for (const s of plan.splits) {
        if (s.amount === 0n) continue
        line(distributor, 'split', -s.amount, s.party, currency)
        line(s.party, 'split', s.amount, distributor, currency)
        transfers.add({ debit: distributor, credit: s.party, currency, code: 'play-split', amount: s.amount })
        batch.account(s.party, currency)
      }
      return null
    }
  }
  // Counted, not paid now: every participant of the chain sees the play on its statement.
  line(retailer, 'play', 0n, distributor, saleCurrency)
  line(distributor, 'play', 0n, retailer, saleCurrency)
  for (const s of shares) line(s.party, 'play', 0n, distributor, saleCurrency)
  if (model === 'subscription' || model === 'ad-supported') {
    return {
      retailer: toHex(offer.signer),
      currency: saleCurrency,
      contractCid: contract.id.toString(),
      distributor: toHex(contract.body.distributor),
      content,
    }
  }
  return null
}

/**
 * The contract a play is paid under: the newest version known of the licence's contract, if it was in force when
 * the play started; otherwise the version the licence names.
 */
export function contractForPlay(
  named: SignedRecord<'consort/contract'>,
  newest: SignedRecord<'consort/contract'> | undefined,
  startedAt: number,
): SignedRecord<'consort/contract'> {
  if (newest === undefined || newest.body.seq <= named.body.seq) return named
  if (!newest.signer.every((b, i) => b === named.signer[i])) return named
  return newest.body.validFrom <= startedAt ? newest : named
}
