import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { DEFAULT_RECORD_CAPS, signingPayload } from '../records/envelope.ts'
import { boundedBytes, bytes, id, money, publicKey, recordCid, territory, timestamp } from '../records/fields.ts'

/**
 * A purchase order: the buyer's account key authorises one payment of one price for one offer to one
 * retailer through one clearinghouse. The clearinghouse refuses to take money without it, so a retailer
 * cannot charge an account that did not ask. Signed like a record body, under its own domain tag.
 *
 * `share` (optional, decision 0512): the bytes of the `consort/share` the buyer came through. Under the buyer's
 * signature, so that no one between the buyer and the clearinghouse can strip it or swap in their own; the
 * clearinghouse credits its referrer if the contract allows. An order without it is signed exactly as before.
 */
export const PURCHASE_ORDER_TYPE = 'consort/purchase-order'

export const purchaseOrderFields = z
  .object({
    network: z.string(),
    purchaseId: id,
    offer: recordCid,
    certification: recordCid,
    retailer: publicKey,
    clearinghouse: publicKey,
    account: publicKey,
    device: publicKey,
    price: money,
    territory,
    created: timestamp,
    share: boundedBytes(DEFAULT_RECORD_CAPS.recordBytes).optional(),
  })
  .strict()
export type PurchaseOrderFields = z.infer<typeof purchaseOrderFields>

export const purchaseOrder = z.object({ order: purchaseOrderFields, sig: bytes(64) }).strict()
export type PurchaseOrder = z.infer<typeof purchaseOrder>

/** The fields as signed: an absent share is no field at all (DAG-CBOR cannot encode `undefined`). */
function signedFields(fields: PurchaseOrderFields): PurchaseOrderFields {
  if (fields.share !== undefined || !('share' in fields)) return fields
  const { share: _absent, ...rest } = fields
  return rest
}

export function signPurchaseOrder(fields: PurchaseOrderFields, account: Signer): PurchaseOrder {
  const order = signedFields(fields)
  return { order, sig: account.sign(signingPayload(PURCHASE_ORDER_TYPE, dagCbor.encode(order))) }
}

export function verifyPurchaseOrder(order: PurchaseOrder): boolean {
  const fields = signedFields(order.order)
  return ed25519Verify(fields.account, signingPayload(PURCHASE_ORDER_TYPE, dagCbor.encode(fields)), order.sig)
}
