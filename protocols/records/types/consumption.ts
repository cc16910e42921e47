import { z } from 'zod'
import { count, id, publicKey, timestamp } from '../fields.ts'
import { commonFields } from './common.ts'

/**
 * `consort/consumption`: a clearinghouse's signed statement of the uses of one purchase it has acknowledged from the
 * account's devices (every device's usage reports, up to `created`). A registration manager reissues a licence only
 * with a fresh one from the clearinghouse that captured the purchase's payment, and writes the counts into the
 * licence (`used`), so that a device that wiped its store gets back what it had, not a new licence's worth of uses
 * (docs/decisions/0704-limits-survive-the-device.md).
 */
export const consumptionBody = z
  .object({
    ...commonFields,
    purchaseId: id,
    account: publicKey,
    plays: count,
    playSeconds: count,
    exports: count,
    burns: count,
    /** When the first acknowledged play started (opens a rental window); null before any. */
    firstPlayAt: timestamp.nullable(),
  })
  .strict()
export type ConsumptionBody = z.infer<typeof consumptionBody>

/** What a licence carries of the uses its purchase had already consumed when it was signed. */
export const usedUses = z
  .object({
    plays: count,
    playSeconds: count,
    exports: count,
    burns: count,
    firstPlayAt: timestamp.nullable(),
    /** The time of the clearinghouse statement these counts come from. */
    asOf: timestamp,
  })
  .strict()
export type UsedUses = z.infer<typeof usedUses>
