import { z } from 'zod'
import { publicKey, sealingKey, sequence, text, timestamp, unique } from '../fields.ts'
import { commonFields, roleName } from './common.ts'

/** `consort/cert`: a registration manager vouches that `subject` may act in `roles` until `notAfter`. */
export const certBody = z
  .object({
    ...commonFields,
    serial: sequence,
    subject: publicKey,
    name: text(128),
    roles: z.array(roleName).min(1).max(8).refine(unique, 'roles repeat'),
    sealingKey,
    notBefore: timestamp,
    notAfter: timestamp,
  })
  .strict()
  .refine((b) => b.notAfter > b.notBefore, { path: ['notAfter'], message: 'must come after notBefore' })
export type CertBody = z.infer<typeof certBody>
