import { z } from 'zod'
import { defineRole } from '../role.ts'
import { type RegistrationInit, RegistrationRole } from './registration.ts'
import { REGISTRATION_LAYOUT } from './store.ts'

export { licenceIdOf } from './licences.ts'
export { REVOCATION_KINDS, Registrar, type RegistrarComponents, type RevocationKind } from './registrar.ts'
export {
  type RegistrationComponents,
  type RegistrationEvents,
  type RegistrationInit,
  RegistrationRole,
} from './registration.ts'
export { REGISTRATION_LAYOUT, type RegistrationRoleStore } from './store.ts'

/** The registration manager role (`--roles registration`): see `registration.ts` and README.md. */
export const registration = defineRole({
  name: 'registration',
  options: z.strictObject({
    /** How long a certificate it issues is valid, ms (default a year). */
    certValidityMs: z.number().int().positive().optional(),
    /** How long a device registration it issues is valid, ms (default a year). */
    deviceValidityMs: z.number().int().positive().optional(),
    /** How long fetching a contract a licence request names may take, ms (default 5 s). */
    contractFetchTimeoutMs: z.number().int().positive().optional(),
  }) satisfies z.ZodType<RegistrationInit>,
  components: ['libp2p', 'keys', 'clock', 'random', 'network', 'topics', 'trust', 'records', 'credentials'],
  layout: REGISTRATION_LAYOUT,
  create: (components, options) => new RegistrationRole(components, options),
})
