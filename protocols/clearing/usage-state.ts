import * as dagCbor from '@ipld/dag-cbor'
import type { z } from 'zod'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { domainPayload } from '../records/envelope.ts'
import { USAGE_STATE_DOMAIN, type UsageStateRequestFields, type usageStateRequest } from './index.ts'

/**
 * Signing a `usage-state` request (`/clearing/1`): the device key signs
 *
 *   utf8(USAGE_STATE_DOMAIN) ‖ 0x00 ‖ dagCbor(request fields)
 *
 * (the same layout as account requests), so that only a device can read back what it reported.
 */
export type UsageStateRequest = z.infer<typeof usageStateRequest>

export function usageStatePayload(fields: UsageStateRequestFields): Uint8Array {
  return domainPayload(USAGE_STATE_DOMAIN, dagCbor.encode(fields))
}

export function signUsageStateRequest(
  fields: UsageStateRequestFields,
  device: Signer,
  deviceRecord: Uint8Array,
): UsageStateRequest {
  return { request: fields, device: deviceRecord, sig: device.sign(usageStatePayload(fields)) }
}

export function verifyUsageStateRequest(request: UsageStateRequest): boolean {
  return ed25519Verify(request.request.device, usageStatePayload(request.request), request.sig)
}
