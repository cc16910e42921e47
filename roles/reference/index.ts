import type { RoleComponents, RoleFactory } from '../role.ts'
import { type ReferenceInit, ReferenceService } from './service.ts'

/**
 * The Reference Service role (`--roles reference`): certifies offers against the contracts in force, re-checks
 * and revokes them when contracts change, and answers market queries. See README.md.
 */
export { type ClauseInput, checkOfferClauses, contentCovered, type RetailerStanding } from './clauses.ts'
export * from './constants.ts'
export * from './errors.ts'
export {
  type CertifiedDetail,
  type ContractDetail,
  type ReferenceComponents,
  type ReferenceEvents,
  type ReferenceInit,
  ReferenceService,
  type RefusedDetail,
  type RevokedDetail,
} from './service.ts'
export { type ContractHead, ReferenceStore, type StoredOffer } from './store.ts'

/** Read the role's options from the node configuration (`roleOptions.reference`). */
export function referenceInit(init: Record<string, unknown>): ReferenceInit {
  const out: ReferenceInit = {}
  if (typeof init.fetchUnknownContracts === 'boolean') out.fetchUnknownContracts = init.fetchUnknownContracts
  if (typeof init.contractFetchTimeoutMs === 'number') out.contractFetchTimeoutMs = init.contractFetchTimeoutMs
  if (typeof init.recheckPage === 'number') out.recheckPage = init.recheckPage
  return out
}

export const reference: RoleFactory = (components: RoleComponents, init) =>
  new ReferenceService(components, referenceInit(init))
