import * as dagCbor from '@ipld/dag-cbor'
import type { z } from 'zod'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { domainPayload } from '../records/envelope.ts'
import { CONSUMPTION_DOMAIN, type ConsumptionRequestFields, type consumptionRequest } from './index.ts'

/**
 * Signing a `consumption` request (`/clearing/1`): the device key signs
 *
 *   utf8(CONSUMPTION_DOMAIN) ‖ 0x00 ‖ dagCbor(request fields)
 *
 * (the layout of `usage-state` and account requests), so that only a device of the purchase's account can ask.
 */
export type ConsumptionRequest = z.infer<typeof consumptionRequest>

export function consumptionPayload(fields: ConsumptionRequestFields): Uint8Array {
  return domainPayload(CONSUMPTION_DOMAIN, dagCbor.encode(fields))
}

export function signConsumptionRequest(
  fields: ConsumptionRequestFields,
  device: Signer,
  deviceRecord: Uint8Array,
): ConsumptionRequest {
  return { request: fields, device: deviceRecord, sig: device.sign(consumptionPayload(fields)) }
}

export function verifyConsumptionRequest(request: ConsumptionRequest): boolean {
  return ed25519Verify(request.request.device, consumptionPayload(request.request), request.sig)
}
