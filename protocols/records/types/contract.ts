import { z } from 'zod'
import { ruleBoundsSchema } from '../../usage-rules/index.ts'
import {
  amount,
  contentId,
  count,
  currency,
  id,
  money,
  publicKey,
  sequence,
  territories,
  text,
  timestamp,
  unique,
  windowIsOrdered,
} from '../fields.ts'
import { COMMERCIAL_MODELS, commonFields, useType } from './common.ts'
import { REFERRER_KINDS } from './share.ts'

/** Rights holders one contract may pay (a classical recording can have many contributors). */
export const MAX_SPLITS = 64
/** Content items one contract may cover (a catalogue deal for a whole label). */
export const MAX_CONTRACT_CONTENT = 10_000

export const wholesalePrice = z
  .object({
    currency,
    amount,
    /** `unit`: per sale; `play`: per play reported. */
    per: z.enum(['unit', 'play']),
  })
  .strict()

export const royaltySplit = z
  .object({
    /** The rights holder's party id (a DDEX party id, an IPI, or a name the clearinghouse knows). */
    party: text(128),
    /** The rights holder's key, where they are a participant of the network. */
    key: publicKey.nullable(),
    bps: count.max(10_000),
  })
  .strict()

/**
 * What the distributor pays the peers that deliver its content (decision 0511): per decimal gigabyte (10^9 bytes of
 * encrypted segments) in the sale's currency, and/or a share of each sale's price, paid pro rata to the bytes of the
 * track delivered. Paid from the distributor's account on players' delivery receipts, at most one track's size per
 * licence. Added after the first layout: a contract without it pays no delivery.
 */
export const deliveryFee = z
  .object({
    perGB: z
      .array(money)
      .max(32)
      .refine((prices) => unique(prices.map((p) => p.currency)), 'a currency is priced twice'),
    saleBps: count.max(10_000),
  })
  .strict()
export type DeliveryFee = z.infer<typeof deliveryFee>

/** Whose share of a sale pays a referral credit. */
export const REFERRAL_PAYERS = ['retailer', 'distributor'] as const
export type ReferralPayer = (typeof REFERRAL_PAYERS)[number]

/**
 * The referral clause (decision 0512): a sale made through a `consort/share` credits its referrer `bps` of the
 * sale's price (rounded down to the minor unit), paid from the share of `from` — the retailer's margin or the
 * distributor's wholesale — and never more than that share of that sale. Only referrers of the kinds listed earn it.
 * Added after the first layout: a contract without it credits no referral.
 */
export const referralClause = z
  .object({
    bps: count.max(10_000),
    from: z.enum(REFERRAL_PAYERS),
    referrers: z.array(z.enum(REFERRER_KINDS)).min(1).max(REFERRER_KINDS.length).refine(unique, 'a kind repeats'),
  })
  .strict()
export type ReferralClause = z.infer<typeof referralClause>

/**
 * `consort/contract`: what a distributor allows retailers to sell. `contractId` is stable across versions; a
 * higher `seq` supersedes. `retailer: null` means any certified retailer.
 */
export const contractBody = z
  .object({
    ...commonFields,
    contractId: id,
    seq: sequence,
    distributor: publicKey,
    retailer: publicKey.nullable(),
    content: z.array(contentId).min(1).max(MAX_CONTRACT_CONTENT).refine(unique, 'content repeats'),
    commercialModel: z.enum(COMMERCIAL_MODELS),
    useTypes: z.array(useType).min(1).max(8).refine(unique, 'use types repeat'),
    territories: territories().refine((t) => t.length > 0, 'at least one territory'),
    excludedTerritories: territories(),
    validFrom: timestamp,
    validUntil: timestamp.nullable(),
    wholesale: z.array(wholesalePrice).max(32),
    /** For subscription and ad-supported models: the distributor's share of the period's revenue, pro rata to plays. */
    revenueShareBps: count.max(10_000).nullable(),
    promotions: z
      .object({
        /** The lowest price a promotion may go down to, per currency. */
        minPrice: z.array(money).max(32),
        /** Windows in which the content may be given away. */
        freeWindows: z.array(z.object({ from: timestamp, until: timestamp }).strict()).max(32),
      })
      .strict(),
    ruleBounds: ruleBoundsSchema,
    splits: z.array(royaltySplit).min(1).max(MAX_SPLITS),
    delivery: deliveryFee.optional(),
    referral: referralClause.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (!windowIsOrdered(b.validFrom, b.validUntil)) {
      ctx.addIssue({ code: 'custom', path: ['validUntil'], message: 'must come after validFrom' })
    }
    const total = b.splits.reduce((sum, s) => sum + s.bps, 0)
    if (total !== 10_000)
      ctx.addIssue({ code: 'custom', path: ['splits'], message: `shares sum to ${total}, not 10000` })
    if (!unique(b.splits.map((s) => s.party)))
      ctx.addIssue({ code: 'custom', path: ['splits'], message: 'a party repeats' })
    const keys = b.wholesale.map((w) => `${w.currency}/${w.per}`)
    if (!unique(keys)) ctx.addIssue({ code: 'custom', path: ['wholesale'], message: 'a currency is priced twice' })
    if (b.commercialModel === 'pay-as-you-go' && b.wholesale.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['wholesale'], message: 'a pay-as-you-go contract needs a wholesale price' })
    }
    if (b.referral?.from === 'distributor' && b.wholesale.every((w) => w.per !== 'unit')) {
      ctx.addIssue({
        code: 'custom',
        path: ['referral', 'from'],
        message: 'the distributor has no share of a sale to pay it from: no per-unit wholesale price',
      })
    }
    b.promotions.freeWindows.forEach((w, i) => {
      if (w.until <= w.from) {
        ctx.addIssue({
          code: 'custom',
          path: ['promotions', 'freeWindows', i, 'until'],
          message: 'must come after from',
        })
      }
    })
  })
export type ContractBody = z.infer<typeof contractBody>
