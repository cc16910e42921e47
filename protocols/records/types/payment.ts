import { z } from 'zod'
import { id, money, publicKey, recordCid } from '../fields.ts'
import { commonFields } from './common.ts'

/**
 * `consort/payment`: a clearinghouse's signed word that it captured the price of one purchase — the buyer's money
 * has left the wallet and been split by the contract. A registration manager issues (and reissues) a licence only
 * against one, checked offline: signed by a clearinghouse the network record lists, for exactly the receipt,
 * buyer, device, retailer and price of the purchase. Money before keys: without this record no content key leaves
 * a registrar (docs/decisions/0306-money-before-keys.md).
 */
export const paymentBody = z
  .object({
    ...commonFields,
    purchaseId: id,
    /** The retailer's receipt the money was captured for. */
    receipt: recordCid,
    offer: recordCid,
    retailer: publicKey,
    account: publicKey,
    device: publicKey,
    /** What was captured: the receipt's price. */
    price: money,
    /** The clearinghouse's authorisation id, as on the receipt. */
    authorisation: id,
  })
  .strict()
export type PaymentBody = z.infer<typeof paymentBody>
