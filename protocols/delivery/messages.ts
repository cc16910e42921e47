import { z } from 'zod'
import { recordBytes } from '../messages.ts'
import { blockCid, bytes, count, id, recordCid } from '../records/fields.ts'
import { MAX_ACK_CIDS } from './constants.ts'

/**
 * `ack` request: the fetch the blocks belong to, the manifest they are segments of, and the CIDs the asking
 * player received (and verified) from this peer. The device is not in the request: it is the peer id of the
 * connection the request arrives on, the one the blocks were written to.
 */
export const ackRequest = z
  .object({
    fetch: id,
    manifest: recordCid,
    cids: z.array(blockCid).min(1).max(MAX_ACK_CIDS),
  })
  .strict()
export type AckRequest = z.infer<typeof ackRequest>

/**
 * `ack` answer: what the peer confirms of those CIDs, its signature (`ack.ts`), and the records that vouch for it (its
 * certificate or device registration), which the player passes on with its receipt so that a clearinghouse that never
 * heard of the peer can tell whether it may be paid.
 */
export const ackResponse = z
  .object({
    blocks: count.min(1),
    bytes: count.min(1),
    sig: bytes(64),
    credentials: z.array(recordBytes).max(2),
  })
  .strict()
export type AckResponse = z.infer<typeof ackResponse>
