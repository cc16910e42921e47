import { z } from 'zod'
import { LICENCE_CODES } from '../licence/index.ts'
import { recordBytes } from '../messages.ts'
import { bytes, id, publicKey, sealingKey, text } from '../records/fields.ts'
import { roleName } from '../records/types/common.ts'
import { RPC_CODES } from '../rpc/errors.ts'

/**
 * `/consort/<net>/register/1` — served by registration managers.
 *
 * - `request-cert`: a node asks for a role certificate. The request is signed by the subject's key (so nobody
 *   can ask on another's behalf). Players are approved by policy at once; other roles wait for an operator.
 * - `cert-status`: poll a pending request.
 * - `register-device`: a consumer account binds a device; signed by both the account key and the device key;
 *   refused beyond the network's device limit.
 * - `lookup-cert`: anyone may fetch the current certificate of a subject.
 * - `rotate-cert`: a certified node moves to a new key. The request for the new key is signed by the new key and
 *   endorsed by the old one (whose current certificate comes with it); the registrar certifies the new key for the
 *   same name and roles at once and revokes the old certificate when the grace period it was asked for ends.
 */
export const REGISTER_PROTOCOL = 'register'
export const REGISTER_OPS = {
  requestCert: 'request-cert',
  certStatus: 'cert-status',
  registerDevice: 'register-device',
  lookupCert: 'lookup-cert',
  rotateCert: 'rotate-cert',
} as const
/**
 * The refusals of `/register/1`, the protocol's one list of wire codes (decision 0014); each has its class in
 * `errors.ts`. A device's registration refuses a revoked device or one beyond the account's limit with `/licence/1`'s
 * codes (one condition, one class). `cert-status` of an unknown request is the shared `ERR_NOT_FOUND`; a malformed
 * request the shared `ERR_BAD_REQUEST`.
 */
export const REGISTER_CODES = {
  /** A request's signature does not verify (the subject's, the account's, the device's, the old key's). */
  unauthorised: RPC_CODES.unauthorised,
  /** A signed request for another network, too old, or dated in the future. */
  staleRequest: 'ERR_STALE_REQUEST',
  /** The device key is registered to another account. */
  deviceTaken: 'ERR_DEVICE_TAKEN',
  deviceRevoked: LICENCE_CODES.deviceRevoked,
  deviceLimit: LICENCE_CODES.deviceLimit,
  /** Too many certificate requests wait for an operator. */
  tooManyPending: 'ERR_TOO_MANY_PENDING',
  /** A rotation that does not continue its predecessor. */
  rotationInvalid: 'ERR_ROTATION_INVALID',
  /** The old certificate was already rotated to another key. */
  rotationConflict: 'ERR_ROTATION_CONFLICT',
} as const

/** Domain tags of the signatures inside register requests. */
export const CERT_REQUEST_DOMAIN = 'consort/v1/cert-request'
export const DEVICE_REQUEST_DOMAIN = 'consort/v1/device-request'
export const CERT_ROTATION_DOMAIN = 'consort/v1/cert-rotation'
/** Longest grace period a rotation may ask for before the old certificate is revoked (30 days). */
export const MAX_ROTATION_GRACE_MS = 30 * 24 * 3600_000

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

export const rotateCertRequest = z
  .object({
    /** The new key's certificate request, signed by the new key (`sig`). */
    request: certRequestFields,
    sig: bytes(64),
    /** The old key's current certificate. */
    predecessor: recordBytes,
    /** The old key's signature over the new request (`CERT_ROTATION_DOMAIN`). */
    predecessorSig: bytes(64),
    /** How long the old certificate stays valid after the new one is issued. */
    graceMs: z.number().int().min(0).max(MAX_ROTATION_GRACE_MS),
  })
  .strict()
export type RotateCertRequest = z.infer<typeof rotateCertRequest>
export const rotateCertResponse = z.object({ cert: recordBytes, revokeOldAt: z.number().int() }).strict()

export const lookupCertRequest = z.object({ subject: publicKey }).strict()
export const lookupCertResponse = z.object({ cert: recordBytes.nullable() }).strict()
