import { z } from 'zod'
import { recordCid, text } from '../fields.ts'
import { commonFields } from './common.ts'

export const REVOCABLE_KINDS = [
  'offer',
  'certification',
  'cert',
  'device',
  'licence',
  'contract',
  'release',
  'manifest',
  /**
   * A retailer's receipt: no licence of its purchase is or will be valid (a registration manager withdraws it at the
   * retailer's request when the licence could not be delivered). The clearinghouse refunds the purchase against it.
   */
  'receipt',
] as const
export type RevocableKind = (typeof REVOCABLE_KINDS)[number]

/** Targets in one revocation (a takedown of a large catalogue revokes many offers at once). */
export const MAX_REVOCATION_TARGETS = 1000

/**
 * `consort/revocation`: the issuer of a record withdraws it. Who may revoke what is decided by the receiver:
 * a record's own signer, or the service that vouched for it (a registration manager for certs and devices,
 * a reference service for certifications and the offers it certified).
 */
export const revocationBody = z
  .object({
    ...commonFields,
    targets: z
      .array(z.object({ kind: z.enum(REVOCABLE_KINDS), id: recordCid }).strict())
      .min(1)
      .max(MAX_REVOCATION_TARGETS),
    reason: text(),
  })
  .strict()
export type RevocationBody = z.infer<typeof revocationBody>
