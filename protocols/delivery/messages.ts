import { z } from 'zod'
import { recordBytes } from '../messages.ts'
import { blockCid, bytes, count, id, recordCid } from '../records/fields.ts'
import { MAX_ACK_CIDS, MAX_ACK_FETCHES } from './constants.ts'

/** One fetch's share of an `ack` request: the CIDs the asking player received (and verified) from this peer. */
export const ackItem = z
  .object({
    fetch: id,
    manifest: recordCid,
    cids: z.array(blockCid).min(1).max(MAX_ACK_CIDS),
  })
  .strict()
export type AckItem = z.infer<typeof ackItem>

/**
 * `ack` request: the fetches whose blocks this peer served (a player asks once per peer for every fetch since it last
 * asked, so that an album costs one request per peer, not one per track). The device is not in the request: it is
 * the peer id of the connection the request arrives on, the one the blocks were written to.
 */
export const ackRequest = z
  .object({ fetches: z.array(ackItem).min(1).max(MAX_ACK_FETCHES) })
  .strict()
  .refine((r) => r.fetches.reduce((n, f) => n + f.cids.length, 0) <= MAX_ACK_CIDS, {
    path: ['fetches'],
    message: `more than ${MAX_ACK_CIDS} CIDs in all`,
  })
export type AckRequest = z.infer<typeof ackRequest>

/** What the peer confirms of one fetch, and its signature (`ack.ts`). */
export const ackAnswer = z.object({ blocks: count.min(1), bytes: count.min(1), sig: bytes(64) }).strict()
export type AckAnswer = z.infer<typeof ackAnswer>

/**
 * `ack` answer: one entry per fetch asked, in order (null: nothing of it to confirm), and the records that vouch for
 * the peer (its certificate or device registration), which the player passes on with its receipts so that a
 * clearinghouse that never heard of the peer can tell whether it may be paid.
 */
export const ackResponse = z
  .object({
    acks: z.array(ackAnswer.nullable()).min(1).max(MAX_ACK_FETCHES),
    credentials: z.array(recordBytes).max(2),
  })
  .strict()
export type AckResponse = z.infer<typeof ackResponse>
