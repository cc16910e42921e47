import { z } from 'zod'
import { dpid, publicKey, sealingKey, sequence, text, timestamp, unique } from '../fields.ts'
import { commonFields, roleName } from './common.ts'

/**
 * `consort/cert`: a registration manager vouches that `subject` may act in `roles` until `notAfter`. `partyId` is
 * the DPID-style party id it assigned (`protocols/register/party-id.ts`), by which DDEX messages (DSR reports) name
 * the participant. Registrars always set it; it is optional so that certificates issued before it existed stay
 * valid, their holders named by the id derived from their key (the same function registrars use).
 */
export const certBody = z
  .object({
    ...commonFields,
    serial: sequence,
    subject: publicKey,
    name: text(128),
    partyId: dpid.optional(),
    roles: z.array(roleName).min(1).max(8).refine(unique, 'roles repeat'),
    sealingKey,
    notBefore: timestamp,
    notAfter: timestamp,
  })
  .strict()
  .refine((b) => b.notAfter > b.notBefore, { path: ['notAfter'], message: 'must come after notBefore' })
export type CertBody = z.infer<typeof certBody>
