import { z } from 'zod'
import { id, recordCid, sequence, timestamp } from '../fields.ts'
import { commonFields } from './common.ts'

/**
 * `consort/certification`: a reference service's statement that one offer conformed to one version of its
 * contract when checked. Time-limited: the retailer renews it before `validUntil`.
 */
export const certificationBody = z
  .object({
    ...commonFields,
    offer: recordCid,
    offerId: id,
    contract: recordCid,
    contractId: id,
    contractSeq: sequence,
    validUntil: timestamp,
  })
  .strict()
  .refine((b) => b.validUntil > b.created, { path: ['validUntil'], message: 'must come after created' })
export type CertificationBody = z.infer<typeof certificationBody>
