import { z } from 'zod'
import { usageRulesSchema } from '../../usage-rules/index.ts'
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
import { commonFields, useType } from './common.ts'

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
