import { z } from 'zod'
import { quickUsageRules, usageRulesSchema } from '../../usage-rules/index.ts'
import {
  contentId,
  id,
  money,
  recordCid,
  sequence,
  territories,
  text,
  timestamp,
  unique,
  windowIsOrdered,
} from '../fields.ts'
import * as q from '../quick.ts'
import { commonFields, USE_TYPES, useType } from './common.ts'

/** Items one offer may bundle (an album offer covers its release id; a bundle lists several). */
export const MAX_OFFER_CONTENT = 1000

/**
 * `consort/offer`: a retailer's price for content under a contract. `offerId` is stable across versions; a
 * higher `seq` supersedes. Only certified offers are gossiped and sold.
 */
export const offerBody = z
  .object({
    ...commonFields,
    offerId: id,
    seq: sequence,
    content: z.array(contentId).min(1).max(MAX_OFFER_CONTENT).refine(unique, 'content repeats'),
    contract: recordCid,
    price: money,
    useType,
    rules: usageRulesSchema,
    territories: territories().refine((t) => t.length > 0, 'at least one territory'),
    excludedTerritories: territories(),
    validFrom: timestamp,
    validUntil: timestamp.nullable(),
    promotion: z
      .object({ kind: z.enum(['discount', 'free']), label: text(128) })
      .strict()
      .nullable(),
  })
  .strict()
  .refine((b) => windowIsOrdered(b.validFrom, b.validUntil), {
    path: ['validUntil'],
    message: 'must come after validFrom',
  })
export type OfferBody = z.infer<typeof offerBody>

const OFFER_KEYS = [
  'network',
  'created',
  'offerId',
  'seq',
  'content',
  'contract',
  'price',
  'useType',
  'rules',
  'territories',
  'excludedTerritories',
  'validFrom',
  'validUntil',
  'promotion',
] as const

/** `offerBody` by hand, for the record path (`../quick.ts`): the schema's output, or `undefined` to let it decide. */
export const quickOfferBody = q.quick((v): OfferBody => {
  const o = q.object(v, OFFER_KEYS)
  const content = q.array(o.content, 1, MAX_OFFER_CONTENT, q.contentId)
  q.unique(content)
  const territoriesValue = q.territories(o.territories)
  q.ensure(territoriesValue.length > 0)
  const validFrom = q.natural(o.validFrom)
  const validUntil = q.nullable(o.validUntil, q.natural)
  q.ensure(windowIsOrdered(validFrom, validUntil))
  return {
    network: q.networkName(o.network),
    created: q.natural(o.created),
    offerId: q.id(o.offerId),
    seq: q.natural(o.seq),
    content,
    contract: q.recordCid(o.contract),
    price: q.money(o.price),
    useType: q.oneOf(o.useType, USE_TYPES),
    rules: quickUsageRules(o.rules),
    territories: territoriesValue,
    excludedTerritories: q.territories(o.excludedTerritories),
    validFrom,
    validUntil,
    promotion: q.nullable(o.promotion, (p) => {
      const promotion = q.object(p, ['kind', 'label'])
      return { kind: q.oneOf(promotion.kind, ['discount', 'free'] as const), label: q.text(promotion.label, 128) }
    }),
  }
})
