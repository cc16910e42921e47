import { z } from 'zod'
import { tryCanonicalContentId } from '../../protocols/identifiers/content-id.ts'
import { parseDecimalAmount } from '../../protocols/identifiers/currencies.ts'
import { parseDateOrDateTime } from '../../protocols/identifiers/iso8601.ts'
import { isTerritory } from '../../protocols/identifiers/territories.ts'
import { id } from '../../protocols/records/fields.ts'
import { USE_TYPES, type UseType } from '../../protocols/records/types/common.ts'
import { type UsageRules, usageRulesSchema } from '../../protocols/usage-rules/index.ts'
import { OfferInputError } from './errors.ts'

/**
 * What a person (through the CLI or the control API) gives to create or change an offer: decimal prices, dates
 * as ISO 8601 or milliseconds, content ids with or without their scheme. Turned here into the offer's own fields
 * (bigint minor units, ms), naming the field at fault when something is wrong.
 */
export const offerInput = z
  .object({
    offerId: z.string().optional(),
    content: z.array(z.string()).min(1).optional(),
    /** A contract record CID, or a contract id (its current version is used). */
    contract: z.string().min(1).optional(),
    /** Decimal, in major units of `currency` (`0.99`). */
    price: z.string().optional(),
    currency: z.string().optional(),
    useType: z.string().optional(),
    rules: z.record(z.string(), z.unknown()).optional(),
    territories: z.array(z.string()).optional(),
    excludedTerritories: z.array(z.string()).optional(),
    validFrom: z.union([z.number(), z.string()]).nullable().optional(),
    validUntil: z.union([z.number(), z.string()]).nullable().optional(),
    promotion: z.object({ kind: z.string(), label: z.string() }).strict().nullable().optional(),
  })
  .strict()
export type OfferInput = z.infer<typeof offerInput>

/** The offer fields an input sets (absent fields keep their default or previous value). */
export interface OfferChanges {
  offerId?: string
  content?: string[]
  contract?: string
  /** Minor units of an ISO 4217 currency (checked again when the offer is signed). */
  price?: { amount: bigint; currency: string }
  useType?: UseType
  rules?: UsageRules
  territories?: string[]
  excludedTerritories?: string[]
  validFrom?: number | null
  validUntil?: number | null
  promotion?: { kind: 'discount' | 'free'; label: string } | null
}

/** The canonical content id of what a person typed (`canonicalContentId`), or an `OfferInputError` naming it. */
export function normaliseContentId(value: string): string {
  const canonical = tryCanonicalContentId(value)
  if (canonical == null) {
    throw new OfferInputError('content', `not a content id (isrc:…, icpn:… or grid:…): ${JSON.stringify(value)}`)
  }
  return canonical
}

function time(field: string, value: number | string | null | undefined): number | null | undefined {
  if (value === undefined || value === null) return value
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new OfferInputError(field, `not a time in ms: ${value}`)
    return value
  }
  try {
    return parseDateOrDateTime(value).ms
  } catch (err) {
    throw new OfferInputError(field, (err as Error).message)
  }
}

function territoryList(field: string, list: string[] | undefined): string[] | undefined {
  if (list == null) return undefined
  const out = list.map((t) => (t.toLowerCase() === 'worldwide' ? 'Worldwide' : t.toUpperCase()))
  for (const t of out) if (!isTerritory(t)) throw new OfferInputError(field, `not a territory: ${JSON.stringify(t)}`)
  if (new Set(out).size !== out.length) throw new OfferInputError(field, 'a territory repeats')
  return out
}

/**
 * Parse an offer input. `price` and `currency` go together: a price needs its currency (given here, or the
 * `fallbackCurrency` of the version being changed).
 */
export function parseOfferInput(input: unknown, fallbackCurrency?: string): OfferChanges {
  const result = offerInput.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const message = issue.code === 'unrecognized_keys' ? `unexpected field(s) ${issue.keys.join(', ')}` : issue.message
    throw new OfferInputError(issue.path.map(String).join('.') || 'offer', message)
  }
  const i = result.data
  const out: OfferChanges = {}
  if (i.offerId != null) {
    const parsed = id.safeParse(i.offerId)
    if (!parsed.success) throw new OfferInputError('offerId', parsed.error.issues[0]!.message)
    out.offerId = i.offerId
  }
  if (i.content != null) out.content = [...new Set(i.content.map(normaliseContentId))]
  if (i.contract != null) out.contract = i.contract
  if (i.price != null || i.currency != null) {
    const currency = (i.currency ?? fallbackCurrency)?.toUpperCase()
    if (currency == null) throw new OfferInputError('currency', 'a price needs a currency')
    if (i.price == null) throw new OfferInputError('price', 'a new currency needs a price in it')
    try {
      out.price = { amount: parseDecimalAmount(i.price, currency), currency }
    } catch (err) {
      throw new OfferInputError('price', (err as Error).message)
    }
  }
  if (i.useType != null) {
    if (!(USE_TYPES as readonly string[]).includes(i.useType)) {
      throw new OfferInputError('useType', `${JSON.stringify(i.useType)} is not one of ${USE_TYPES.join(', ')}`)
    }
    out.useType = i.useType as UseType
  }
  if (i.rules != null) {
    const rules = usageRulesSchema.safeParse(i.rules)
    if (!rules.success) {
      const issue = rules.error.issues[0]!
      throw new OfferInputError(['rules', ...issue.path.map(String)].join('.'), issue.message)
    }
    out.rules = rules.data
  }
  const territories = territoryList('territories', i.territories)
  if (territories != null) out.territories = territories
  const excluded = territoryList('excludedTerritories', i.excludedTerritories)
  if (excluded != null) out.excludedTerritories = excluded
  const from = time('validFrom', i.validFrom)
  if (from !== undefined) out.validFrom = from
  const until = time('validUntil', i.validUntil)
  if (until !== undefined) out.validUntil = until
  if (i.promotion !== undefined) {
    if (i.promotion === null) out.promotion = null
    else {
      if (i.promotion.kind !== 'discount' && i.promotion.kind !== 'free') {
        throw new OfferInputError('promotion.kind', `${JSON.stringify(i.promotion.kind)} is not discount or free`)
      }
      if (i.promotion.label.length === 0 || i.promotion.label.length > 128) {
        throw new OfferInputError('promotion.label', 'must be 1 to 128 characters')
      }
      out.promotion = { kind: i.promotion.kind, label: i.promotion.label }
    }
  }
  return out
}
