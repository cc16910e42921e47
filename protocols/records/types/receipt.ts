import { z } from 'zod'
import { id, money, publicKey, recordCid } from '../fields.ts'
import { commonFields } from './common.ts'

/**
 * `consort/receipt`: the retailer's signed word that a buyer's device paid for an offer, backed by a
 * clearinghouse authorisation. The registration manager issues a licence against it.
 */
export const receiptBody = z
  .object({
    ...commonFields,
    /** Chosen by the buyer; the idempotency key of the whole purchase. */
    purchaseId: id,
    offer: recordCid,
    certification: recordCid,
    account: publicKey,
    device: publicKey,
    price: money,
    /** The clearinghouse that authorised the payment, and its authorisation id. */
    clearinghouse: publicKey,
    authorisation: id,
  })
  .strict()
export type ReceiptBody = z.infer<typeof receiptBody>
