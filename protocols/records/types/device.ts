import { z } from 'zod'
import { publicKey, sealingKey, sequence, text, timestamp } from '../fields.ts'
import { commonFields } from './common.ts'

/**
 * `consort/device`: a registration manager binds a device key (the player node's identity) and its X25519
 * sealing key to a consumer account. Licences are sealed to the device; the account limits how many devices.
 */
export const deviceBody = z
  .object({
    ...commonFields,
    serial: sequence,
    account: publicKey,
    device: publicKey,
    sealingKey,
    name: text(128),
    notBefore: timestamp,
    notAfter: timestamp,
  })
  .strict()
  .refine((b) => b.notAfter > b.notBefore, { path: ['notAfter'], message: 'must come after notBefore' })
export type DeviceBody = z.infer<typeof deviceBody>
