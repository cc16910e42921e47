import { z } from 'zod'
import { id, recordCid, sequence, timestamp } from '../fields.ts'
import * as q from '../quick.ts'
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

const CERTIFICATION_KEYS = [
  'network',
  'created',
  'offer',
  'offerId',
  'contract',
  'contractId',
  'contractSeq',
  'validUntil',
] as const

/** `certificationBody` by hand, for the record path (`../quick.ts`). */
export const quickCertificationBody = q.quick((v): CertificationBody => {
  const o = q.object(v, CERTIFICATION_KEYS)
  const created = q.natural(o.created)
  const validUntil = q.natural(o.validUntil)
  q.ensure(validUntil > created)
  return {
    network: q.networkName(o.network),
    created,
    offer: q.recordCid(o.offer),
    offerId: q.id(o.offerId),
    contract: q.recordCid(o.contract),
    contractId: q.id(o.contractId),
    contractSeq: q.natural(o.contractSeq),
    validUntil,
  }
})
