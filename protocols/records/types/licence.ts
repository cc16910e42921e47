import { z } from 'zod'
import { usageRulesSchema } from '../../usage-rules/index.ts'
import { boundedBytes, contentId, id, isrc, keyId, publicKey, recordCid, timestamp, unique } from '../fields.ts'
import { commonFields, useType } from './common.ts'
import { usedUses } from './consumption.ts'
import { MAX_OFFER_CONTENT } from './offer.ts'

/**
 * `consort/licence`: a registration manager grants one device the right to use content under rules, and hands
 * it the content keys sealed to that device's X25519 key.
 */
export const licenceBody = z
  .object({
    ...commonFields,
    licenceId: id,
    purchaseId: id,
    receipt: recordCid,
    offer: recordCid,
    contract: recordCid,
    content: z.array(contentId).min(1).max(MAX_OFFER_CONTENT),
    useType,
    rules: usageRulesSchema,
    account: publicKey,
    device: publicKey,
    notAfter: timestamp.nullable(),
    /**
     * The uses the purchase had already consumed when this licence was signed (a reissue: the clearinghouse's
     * signed count of what every device of the account reported). A holder starts counting from here, so a licence
     * fetched again after a lost or wiped store carries no uses it did not have. Absent on a first licence.
     * Added after the first layout: older licences lack it and mean "nothing used".
     */
    used: usedUses.optional(),
    keys: z
      .array(z.object({ isrc, keyId, sealedKey: boundedBytes(256) }).strict())
      .min(1)
      .max(MAX_OFFER_CONTENT)
      .refine((k) => unique(k.map((e) => e.isrc)), 'a track repeats'),
  })
  .strict()
export type LicenceBody = z.infer<typeof licenceBody>
