import { z } from 'zod'
import { defineRole } from '../role.ts'
import { RetailerService } from './retailer.ts'
import { RETAILER_LAYOUT } from './store.ts'
import { withStorefront } from './web/role.ts'
import { parseStorefrontInit, type StorefrontInit } from './web/storefront.ts'

/**
 * The retailer role (`--roles retailer`): offers within contracts, certified and gossiped, renewed and
 * withdrawn, and the retailer's side of a purchase. See README.md.
 */
export * from './constants.ts'
export { normaliseContentId, type OfferChanges, type OfferInput, offerInput, parseOfferInput } from './draft.ts'
export * from './errors.ts'
export { type CertifyOutcome, OfferDesk, type OfferView, rulesWithin } from './offers.ts'
export {
  describePurchase,
  type OfferLookup,
  PurchaseDesk,
  type PurchaseEvents,
  type PurchaseResult,
} from './purchase.ts'
export { type RetailerComponents, type RetailerInit, RetailerService } from './retailer.ts'
export {
  OFFER_STATUSES,
  type OfferEntry,
  type OfferStatus,
  PURCHASE_STATES,
  type PurchaseEntry,
  type PurchaseState,
  RETAILER_LAYOUT,
  type RetailerRoleStore,
  RetailerStore,
} from './store.ts'

/** `parseStorefrontInit` as a step of the options schema, so that `consort init` refuses a bad setting by its name. */
function storefrontSettings(value: unknown, context: z.RefinementCtx): StorefrontInit {
  try {
    return parseStorefrontInit(value)
  } catch (err) {
    const problem = /^storefront(?:\.(\w+))?: (.*)$/s.exec((err as Error).message)
    context.addIssue({
      code: 'custom',
      message: problem?.[2] ?? (err as Error).message,
      path: problem?.[1] != null ? [problem[1]] : [],
    })
    return z.NEVER
  }
}

export const retailer = defineRole({
  name: 'retailer',
  options: z.strictObject({
    /** How often the renewal and recovery timer reads the clock, ms (default 30 s; 0 turns the timer off). */
    renewCheckIntervalMs: z.number().int().min(0).optional(),
    /**
     * The storefront's settings (default: served on loopback, port 0): `enabled`, `host`, `port`, `name`,
     * `featured`, `publicUrl`, each checked by `parseStorefrontInit` (web/storefront.ts), which names the field.
     */
    storefront: z.unknown().transform(storefrontSettings).optional(),
  }),
  components: [
    'libp2p',
    'helia',
    'keys',
    'clock',
    'random',
    'network',
    'topics',
    'trust',
    'records',
    'credentials',
    'metrics',
  ],
  layout: RETAILER_LAYOUT,
  // The storefront is composed onto the service (`role.storefront`), not a subclass of it.
  create: (components, { storefront, ...options }) =>
    withStorefront(new RetailerService(components, options), components, storefront ?? {}),
})
