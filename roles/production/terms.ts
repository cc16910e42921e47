import { z } from 'zod'
import { fromHex } from '../../keys/hex.ts'
import { parseDateOrDateTime, parseDecimalAmount } from '../../protocols/identifiers/index.ts'
import { COMMERCIAL_MODELS, USE_TYPES } from '../../protocols/records/types/common.ts'
import { REFERRAL_PAYERS } from '../../protocols/records/types/contract.ts'
import { REFERRER_KINDS } from '../../protocols/records/types/share.ts'
import { ruleBoundsSchema } from '../../protocols/usage-rules/index.ts'
import type { ImportIssue } from './errors.ts'
import type { DealPlan } from './plan.ts'

/**
 * Contract terms as people write them (JSON release descriptions, `consort contract create --file`): decimal
 * amounts as strings, dates as ISO 8601, keys as hex. Parsed strictly here; identifiers and bounds are checked
 * again by the `consort/contract` schema when the contract is signed.
 */

const decimal = z.string().regex(/^[0-9]+(\.[0-9]+)?$/, 'a decimal amount such as "0.99"')
/** ISO 8601 date (`2026-01-01`) or date-time with a zone, or milliseconds since the epoch. */
export const dateInput = z.union([z.string().min(1).max(64), z.number().int().min(0)])
const hexKey = z.string().regex(/^[0-9a-f]{64}$/i, '32 bytes as 64 hex digits')
const money = z.strictObject({ currency: z.string().length(3), amount: decimal })

export const splitInput = z.strictObject({
  party: z.string().min(1).max(128),
  bps: z.number().int().min(0).max(10_000),
  key: hexKey.nullable().optional(),
})

/** The fields of contract terms, none defaulted (an update names only what changes). */
export const termsFields = {
  commercialModel: z.enum(COMMERCIAL_MODELS),
  useTypes: z.array(z.enum(USE_TYPES)).min(1).max(8),
  territories: z.array(z.string()).min(1).max(300),
  excludedTerritories: z.array(z.string()).max(300),
  validFrom: dateInput,
  validUntil: dateInput.nullable(),
  wholesale: z
    .array(
      z.strictObject({
        currency: z.string().length(3),
        amount: decimal,
        per: z.enum(['unit', 'play']).default('unit'),
      }),
    )
    .max(32),
  revenueShareBps: z.number().int().min(0).max(10_000).nullable(),
  promotions: z.strictObject({
    minPrice: z.array(money).max(32).default([]),
    freeWindows: z
      .array(z.strictObject({ from: dateInput, until: dateInput }))
      .max(32)
      .default([]),
  }),
  ruleBounds: ruleBoundsSchema,
  splits: z.array(splitInput).min(1).max(64),
  /** A named retailer's signing key (hex); absent or null: any certified retailer. */
  retailer: hexKey.nullable(),
  /**
   * What the distributor pays the peers that deliver the content (decision 0511): a price per decimal GB of encrypted
   * segments and/or a share of each sale, pro rata to the bytes; null or absent: delivery is not paid.
   */
  delivery: z
    .strictObject({
      perGB: z.array(money).max(32).default([]),
      saleBps: z.number().int().min(0).max(10_000).default(0),
    })
    .nullable(),
  /**
   * The referral clause (decision 0512): a sale made through a share credits its referrer `bps` of the price, from
   * the retailer's or the distributor's share, for the referrer kinds listed; null or absent: no referral credit.
   */
  referral: z
    .strictObject({
      bps: z.number().int().min(0).max(10_000),
      from: z.enum(REFERRAL_PAYERS),
      referrers: z.array(z.enum(REFERRER_KINDS)).min(1).max(REFERRER_KINDS.length),
    })
    .nullable(),
}

/** Terms with their defaults: Worldwide, no exclusions, valid from now, no price, 100 % to the label. */
export const termsShape = {
  commercialModel: termsFields.commercialModel,
  useTypes: termsFields.useTypes,
  territories: termsFields.territories.default(['Worldwide']),
  excludedTerritories: termsFields.excludedTerritories.default([]),
  validFrom: termsFields.validFrom.optional(),
  validUntil: termsFields.validUntil.optional(),
  wholesale: termsFields.wholesale.default([]),
  revenueShareBps: termsFields.revenueShareBps.optional(),
  promotions: termsFields.promotions.optional(),
  ruleBounds: termsFields.ruleBounds.optional(),
  splits: termsFields.splits.optional(),
  retailer: termsFields.retailer.optional(),
  delivery: termsFields.delivery.optional(),
  referral: termsFields.referral.optional(),
}

export const termsSchema = z.strictObject(termsShape)
export type TermsInput = z.input<typeof termsSchema>
export type Terms = z.output<typeof termsSchema>

/** Milliseconds from a date input; an issue (and NaN) when it is not a date. */
export function dateMs(value: string | number, where: string, issues: ImportIssue[]): number {
  if (typeof value === 'number') return value
  try {
    return parseDateOrDateTime(value).ms
  } catch (err) {
    issues.push({ path: where, value, message: (err as Error).message })
    return Number.NaN
  }
}

function amountOf(amount: string, currency: string, where: string, issues: ImportIssue[]): bigint {
  try {
    return parseDecimalAmount(amount, currency)
  } catch (err) {
    issues.push({ path: where, value: `${amount} ${currency}`, message: (err as Error).message })
    return 0n
  }
}

/** Terms → the contract fields of a deal plan (content and ids are the caller's). */
export function dealFromTerms(
  terms: Terms,
  where: string,
  defaults: { validFrom: number; splits: DealPlan['splits'] },
  issues: ImportIssue[],
): Omit<DealPlan, 'path' | 'localId' | 'content' | 'wholeRelease'> {
  return {
    commercialModel: terms.commercialModel,
    useTypes: [...new Set(terms.useTypes)],
    territories: terms.territories,
    excludedTerritories: terms.excludedTerritories,
    validFrom: terms.validFrom == null ? defaults.validFrom : dateMs(terms.validFrom, `${where}.validFrom`, issues),
    validUntil: terms.validUntil == null ? null : dateMs(terms.validUntil, `${where}.validUntil`, issues),
    wholesale: terms.wholesale.map((w, i) => ({
      currency: w.currency,
      amount: amountOf(w.amount, w.currency, `${where}.wholesale.${i}.amount`, issues),
      per: w.per,
    })),
    revenueShareBps: terms.revenueShareBps ?? null,
    promotions: {
      minPrice: (terms.promotions?.minPrice ?? []).map((m, i) => ({
        currency: m.currency,
        amount: amountOf(m.amount, m.currency, `${where}.promotions.minPrice.${i}.amount`, issues),
      })),
      freeWindows: (terms.promotions?.freeWindows ?? []).map((w, i) => ({
        from: dateMs(w.from, `${where}.promotions.freeWindows.${i}.from`, issues),
        until: dateMs(w.until, `${where}.promotions.freeWindows.${i}.until`, issues),
      })),
    },
    ruleBounds: terms.ruleBounds ?? {},
    splits:
      terms.splits == null
        ? defaults.splits
        : terms.splits.map((s) => ({ party: s.party, bps: s.bps, key: s.key == null ? null : fromHex(s.key) })),
    retailer: terms.retailer == null ? null : fromHex(terms.retailer),
    ...(terms.delivery == null
      ? {}
      : {
          delivery: {
            perGB: terms.delivery.perGB.map((p, i) => ({
              currency: p.currency,
              amount: amountOf(p.amount, p.currency, `${where}.delivery.perGB.${i}.amount`, issues),
            })),
            saleBps: terms.delivery.saleBps,
          },
        }),
    ...(terms.referral == null ? {} : { referral: { ...terms.referral, referrers: [...terms.referral.referrers] } }),
  }
}

/** Zod issues as import issues under `prefix`. */
export function zodIssues(error: z.ZodError, prefix: string, input: unknown): ImportIssue[] {
  return error.issues.map((issue) => {
    let value: unknown = input
    for (const key of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey]
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.')
    return {
      path,
      value: value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value).slice(0, 200),
      message: issue.code === 'unrecognized_keys' ? `unexpected field(s) ${issue.keys.join(', ')}` : issue.message,
    }
  })
}
