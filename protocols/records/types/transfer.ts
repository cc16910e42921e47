import { z } from 'zod'
import { id, publicKey, recordCid, sequence } from '../fields.ts'
import { commonFields } from './common.ts'
import { usedUses } from './consumption.ts'

/** Licences one transfer may revoke: one per device of the giver's account (the network's device limit is ≤ 100). */
export const MAX_TRANSFER_REVOKED = 100

/**
 * `consort/transfer`: a registration manager's word that a purchase moved from one account to another (a licence
 * transfer the usage rules allowed; docs/decisions/0606-licence-transfer.md). `seq` counts the purchase's transfers
 * from 1, so a purchase has one holder at a time: the `to` of its highest transfer. `used` is what the purchase had
 * consumed when it moved (the clearinghouse's signed count), which the receiver's licences start from; `revoked` are
 * the giver's licences it ended. A clearinghouse shown it counts the receiver's devices as the purchase's account.
 */
export const transferBody = z
  .object({
    ...commonFields,
    transferId: id,
    purchaseId: id,
    seq: sequence.min(1),
    from: publicKey,
    to: publicKey,
    used: usedUses,
    revoked: z.array(recordCid).max(MAX_TRANSFER_REVOKED),
  })
  .strict()
  .refine((b) => !b.from.every((x, i) => x === b.to[i]), { path: ['to'], message: 'a transfer to the giver itself' })
export type TransferBody = z.infer<typeof transferBody>
