import { z } from 'zod'
import { boundedBytes, isrc, keyId, publicKey, recordCid } from '../fields.ts'
import { commonFields } from './common.ts'

/**
 * `consort/escrow`: a content key sealed to one registration manager, which alone can re-seal it to a
 * licensed device. Sent directly over `/escrow/1`, never gossiped.
 */
export const escrowBody = z
  .object({
    ...commonFields,
    keyId,
    isrc,
    manifest: recordCid,
    recipient: publicKey,
    sealedKey: boundedBytes(256),
  })
  .strict()
export type EscrowBody = z.infer<typeof escrowBody>
