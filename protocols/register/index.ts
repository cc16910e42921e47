import { z } from 'zod'
import { recordBytes } from '../messages.ts'
import { bytes, id, publicKey, sealingKey, text } from '../records/fields.ts'
import { roleName } from '../records/types/common.ts'

/**
 * `/consort/<net>/register/1` — served by registration managers.
 *
 * - `request-cert`: a node asks for a role certificate. The request is signed by the subject's key (so nobody
 *   can ask on another's behalf). Players are approved by policy at once; other roles wait for an operator.
 * - `cert-status`: poll a pending request.
 * - `register-device`: a consumer account binds a device; signed by both the account key and the device key;
 *   refused beyond the network's device limit.
 * - `lookup-cert`: anyone may fetch the current certificate of a subject.
 */
export const REGISTER_PROTOCOL = 'register'
export const REGISTER_OPS = {
  requestCert: 'request-cert',
  certStatus: 'cert-status',
  registerDevice: 'register-device',
  lookupCert: 'lookup-cert',
} as const
/** Domain tags of the signatures inside register requests. */
export const CERT_REQUEST_DOMAIN = 'consort/v1/cert-request'
export const DEVICE_REQUEST_DOMAIN = 'consort/v1/device-request'

export const certRequestFields = z
  .object({
    network: z.string(),
    subject: publicKey,
    name: text(128),
    roles: z.array(roleName).min(1).max(8),
    sealingKey,
    created: z.number().int().nonnegative(),
  })
  .strict()
export type CertRequestFields = z.infer<typeof certRequestFields>

export const requestCertRequest = z.object({ request: certRequestFields, sig: bytes(64) }).strict()
export const certStatusRequest = z.object({ requestId: id }).strict()
export const certStatusResponse = z.discriminatedUnion('status', [
  z.object({ status: z.literal('approved'), cert: recordBytes }).strict(),
  z.object({ status: z.literal('pending'), requestId: id }).strict(),
  z.object({ status: z.literal('rejected'), reason: text() }).strict(),
])
export type CertStatusResponse = z.infer<typeof certStatusResponse>

export const deviceRequestFields = z
  .object({
    network: z.string(),
    account: publicKey,
    device: publicKey,
    sealingKey,
    name: text(128),
    created: z.number().int().nonnegative(),
  })
  .strict()
export type DeviceRequestFields = z.infer<typeof deviceRequestFields>

export const registerDeviceRequest = z
  .object({ request: deviceRequestFields, accountSig: bytes(64), deviceSig: bytes(64) })
  .strict()
export const registerDeviceResponse = z.object({ device: recordBytes }).strict()

export const lookupCertRequest = z.object({ subject: publicKey }).strict()
export const lookupCertResponse = z.object({ cert: recordBytes.nullable() }).strict()
