import { z } from 'zod'
import { boundedBytes, publicKey, recordCid, sequence } from '../fields.ts'
import * as q from '../quick.ts'
import { commonFields } from './common.ts'

/** Largest sealed batch of usage events (a player that was offline for weeks may hold many). */
export const MAX_SEALED_USAGE_BYTES = 256 * 1024

/**
 * `consort/usage`: a device's report of what it played. Reports form a hash chain per device (`prev` is the
 * previous report's id, `seq` counts from 0), so a clearinghouse notices a gap or a fork. The events are sealed
 * to each clearinghouse: only they learn what a listener played.
 */
export const usageBody = z
  .object({
    ...commonFields,
    device: publicKey,
    account: publicKey,
    seq: sequence,
    prev: recordCid.nullable(),
    sealed: z
      .array(z.object({ recipient: publicKey, box: boundedBytes(MAX_SEALED_USAGE_BYTES) }).strict())
      .min(1)
      .max(16),
  })
  .strict()
  .refine((b) => (b.seq === 0) === (b.prev == null), {
    path: ['prev'],
    message: 'the first report (seq 0) has no prev, every later one has',
  })
export type UsageBody = z.infer<typeof usageBody>

const USAGE_KEYS = ['network', 'created', 'device', 'account', 'seq', 'prev', 'sealed'] as const

/** `usageBody` by hand, for the record path (`../quick.ts`). */
export const quickUsageBody = q.quick((v): UsageBody => {
  const o = q.object(v, USAGE_KEYS)
  const seq = q.natural(o.seq)
  const prev = q.nullable(o.prev, q.recordCid)
  q.ensure((seq === 0) === (prev === null))
  return {
    network: q.networkName(o.network),
    created: q.natural(o.created),
    device: q.bytes(o.device, 32),
    account: q.bytes(o.account, 32),
    seq,
    prev,
    sealed: q.array(o.sealed, 1, 16, (s) => {
      const box = q.object(s, ['recipient', 'box'])
      return { recipient: q.bytes(box.recipient, 32), box: q.boundedBytes(box.box, MAX_SEALED_USAGE_BYTES) }
    }),
  }
})
