import { z } from 'zod'
import { dpid, publicKey, sealingKey, sequence, text, timestamp, unique } from '../fields.ts'
import * as q from '../quick.ts'
import { commonFields, ROLE_NAMES, roleName } from './common.ts'

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

const CERT_KEYS = [
  'network',
  'created',
  'serial',
  'subject',
  'name',
  'roles',
  'sealingKey',
  'notBefore',
  'notAfter',
] as const

/** `certBody` by hand, for the record path (`../quick.ts`). */
export const quickCertBody = q.quick((v): CertBody => {
  const o = q.object(v, CERT_KEYS, ['partyId'])
  const roles = q.array(o.roles, 1, 8, (r) => q.oneOf(r, ROLE_NAMES))
  q.unique(roles)
  const notBefore = q.natural(o.notBefore)
  const notAfter = q.natural(o.notAfter)
  q.ensure(notAfter > notBefore)
  return {
    network: q.networkName(o.network),
    created: q.natural(o.created),
    serial: q.natural(o.serial),
    subject: q.bytes(o.subject, 32),
    name: q.text(o.name, 128),
    ...(o.partyId === undefined ? {} : { partyId: q.dpid(o.partyId) }),
    roles,
    sealingKey: q.bytes(o.sealingKey, 32),
    notBefore,
    notAfter,
  }
})
