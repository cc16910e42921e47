import { z } from 'zod'
import { defineRole } from '../role.ts'
import { ReferenceService } from './reference.ts'
import { REFERENCE_LAYOUT } from './store.ts'

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
} from './reference.ts'
export {
  type ContractHead,
  REFERENCE_LAYOUT,
  type ReferenceRoleStore,
  ReferenceStore,
  type StoredOffer,
} from './store.ts'

export const reference = defineRole({
  name: 'reference',
  options: z.strictObject({
    /** Fetch a contract this service has not seen by its CID when an offer names it (default true). */
    fetchUnknownContracts: z.boolean().optional(),
    /** How long such a fetch may take, ms (default 3 s). */
    contractFetchTimeoutMs: z.number().int().positive().optional(),
    /** Offers re-checked per page when a contract changes (default 500). */
    recheckPage: z.number().int().positive().optional(),
  }),
  components: ['libp2p', 'keys', 'clock', 'network', 'topics', 'trust', 'records'],
  layout: REFERENCE_LAYOUT,
  create: (components, options) => new ReferenceService(components, options),
})
