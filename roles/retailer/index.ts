import type { RoleComponents, RoleFactory } from '../role.ts'
import type { RetailerInit } from './service.ts'
import { StorefrontRetailer } from './web/role.ts'

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
export { type RetailerComponents, type RetailerInit, RetailerService } from './service.ts'
export {
  OFFER_STATUSES,
  type OfferEntry,
  type OfferStatus,
  PURCHASE_STATES,
  type PurchaseEntry,
  type PurchaseState,
  RetailerStore,
} from './store.ts'

/** Read the role's options from the node configuration (`roleOptions.retailer`). */
export function retailerInit(init: Record<string, unknown>): RetailerInit {
  const out: RetailerInit = {}
  if (typeof init.renewCheckIntervalMs === 'number') out.renewCheckIntervalMs = init.renewCheckIntervalMs
  return out
}

export const retailer: RoleFactory = (components: RoleComponents, init) =>
  new StorefrontRetailer(components, retailerInit(init), init.storefront)
