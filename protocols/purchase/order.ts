import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { signingPayload } from '../records/envelope.ts'
import { bytes, id, money, publicKey, recordCid, territory, timestamp } from '../records/fields.ts'

/**
 * A purchase order: the buyer's account key authorises one payment of one price for one offer to one
 * retailer through one clearinghouse. The clearinghouse refuses to take money without it, so a retailer
 * cannot charge an account that did not ask. Signed like a record body, under its own domain tag.
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
  })
  .strict()
export type PurchaseOrderFields = z.infer<typeof purchaseOrderFields>

export const purchaseOrder = z.object({ order: purchaseOrderFields, sig: bytes(64) }).strict()
export type PurchaseOrder = z.infer<typeof purchaseOrder>

export function signPurchaseOrder(fields: PurchaseOrderFields, account: Signer): PurchaseOrder {
  return { order: fields, sig: account.sign(signingPayload(PURCHASE_ORDER_TYPE, dagCbor.encode(fields))) }
}

export function verifyPurchaseOrder(order: PurchaseOrder): boolean {
  return ed25519Verify(order.order.account, signingPayload(PURCHASE_ORDER_TYPE, dagCbor.encode(order.order)), order.sig)
}
