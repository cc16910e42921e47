import { z } from 'zod'
import { quickUsageRules, usageRulesSchema } from '../../usage-rules/index.ts'
import { boundedBytes, contentId, id, isrc, keyId, publicKey, recordCid, timestamp, unique } from '../fields.ts'
import * as q from '../quick.ts'
import { commonFields, USE_TYPES, useType } from './common.ts'
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

const LICENCE_KEYS = [
  'network',
  'created',
  'licenceId',
  'purchaseId',
  'receipt',
  'offer',
  'contract',
  'content',
  'useType',
  'rules',
  'account',
  'device',
  'notAfter',
  'keys',
] as const
const USED_KEYS = ['plays', 'playSeconds', 'exports', 'burns', 'firstPlayAt', 'asOf'] as const

/** `licenceBody` by hand, for the record path (`../quick.ts`). */
export const quickLicenceBody = q.quick((v): LicenceBody => {
  const o = q.object(v, LICENCE_KEYS, ['used'])
  const keys = q.array(o.keys, 1, MAX_OFFER_CONTENT, (k) => {
    const key = q.object(k, ['isrc', 'keyId', 'sealedKey'])
    return { isrc: q.isrc(key.isrc), keyId: q.bytes(key.keyId, 16), sealedKey: q.boundedBytes(key.sealedKey, 256) }
  })
  q.unique(keys.map((k) => k.isrc))
  let used: LicenceBody['used']
  if (Object.hasOwn(o, 'used')) {
    const u = q.object(o.used, USED_KEYS)
    used = {
      plays: q.natural(u.plays),
      playSeconds: q.natural(u.playSeconds),
      exports: q.natural(u.exports),
      burns: q.natural(u.burns),
      firstPlayAt: q.nullable(u.firstPlayAt, q.natural),
      asOf: q.natural(u.asOf),
    }
  }
  return {
    network: q.networkName(o.network),
    created: q.natural(o.created),
    licenceId: q.id(o.licenceId),
    purchaseId: q.id(o.purchaseId),
    receipt: q.recordCid(o.receipt),
    offer: q.recordCid(o.offer),
    contract: q.recordCid(o.contract),
    content: q.array(o.content, 1, MAX_OFFER_CONTENT, q.contentId),
    useType: q.oneOf(o.useType, USE_TYPES),
    rules: quickUsageRules(o.rules),
    account: q.bytes(o.account, 32),
    device: q.bytes(o.device, 32),
    notAfter: q.nullable(o.notAfter, q.natural),
    ...(used !== undefined ? { used } : {}),
    keys,
  }
})
