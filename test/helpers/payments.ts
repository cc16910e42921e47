import type { Signer } from '../../keys/ed25519.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'

/**
 * The clearinghouse's `consort/payment` for a receipt, as a capture signs it: what a registrar needs before it
 * licenses anything. For tests that stand in for the clearinghouse (the real one signs it in `capture`).
 */
export function paymentFor(
  receipt: SignedRecord<'consort/receipt'>,
  clearinghouse: Signer,
  created: number,
  overrides: Partial<{ purchaseId: string; price: { amount: bigint; currency: 'EUR' } }> = {},
): SignedRecord<'consort/payment'> {
  return signRecord(
    'consort/payment',
    {
      network: receipt.body.network,
      created,
      purchaseId: receipt.body.purchaseId,
      receipt: receipt.id,
      offer: receipt.body.offer,
      retailer: receipt.signer,
      account: receipt.body.account,
      device: receipt.body.device,
      price: receipt.body.price,
      authorisation: receipt.body.authorisation,
      ...overrides,
    },
    clearinghouse,
  )
}
