import { z } from 'zod'
import { publicKey, sealingKey, sequence, territory, text, timestamp } from '../fields.ts'
import * as q from '../quick.ts'
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
    /**
     * The account's territory as the registration manager attests it (its operator set it: never the buyer's
     * word). Retailers, clearinghouses and registrars sell, charge and license only for this territory. Absent on
     * registrations made before territories were attested, and for accounts nobody attested: read as `Worldwide`,
     * which buys only what is sold everywhere.
     */
    territory: territory.optional(),
  })
  .strict()
  .refine((b) => b.notAfter > b.notBefore, { path: ['notAfter'], message: 'must come after notBefore' })
export type DeviceBody = z.infer<typeof deviceBody>

const DEVICE_KEYS = [
  'network',
  'created',
  'serial',
  'account',
  'device',
  'sealingKey',
  'name',
  'notBefore',
  'notAfter',
] as const

/** `deviceBody` by hand, for the record path (`../quick.ts`). */
export const quickDeviceBody = q.quick((v): DeviceBody => {
  const o = q.object(v, DEVICE_KEYS, ['territory'])
  const notBefore = q.natural(o.notBefore)
  const notAfter = q.natural(o.notAfter)
  q.ensure(notAfter > notBefore)
  const body: DeviceBody = {
    network: q.networkName(o.network),
    created: q.natural(o.created),
    serial: q.natural(o.serial),
    account: q.bytes(o.account, 32),
    device: q.bytes(o.device, 32),
    sealingKey: q.bytes(o.sealingKey, 32),
    name: q.text(o.name, 128),
    notBefore,
    notAfter,
  }
  if (Object.hasOwn(o, 'territory')) body.territory = q.territory(o.territory)
  return body
})
