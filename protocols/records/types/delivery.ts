import { z } from 'zod'
import { bytes, count, id, publicKey, recordCid, unique } from '../fields.ts'
import { commonFields } from './common.ts'

/** Peers one receipt may name: the fetcher's limit of peers per fetch. */
export const MAX_DELIVERY_PEERS = 32

/**
 * One serving peer's share of a fetch: the blocks and bytes it delivered, both as the player counted them (blocks
 * verified against their CIDs) and as the peer itself acknowledged them — `ack` is the peer's Ed25519 signature over
 * `utf8("consort/v1/delivery-ack") ‖ 0x00 ‖ dagCbor({ network, fetch, device, manifest, peer, blocks, bytes })`
 * (`protocols/delivery/ack.ts`), made only for blocks its server wrote to this device's connection.
 */
export const deliveryPeer = z
  .object({
    peer: publicKey,
    blocks: count.min(1),
    bytes: count.min(1),
    ack: bytes(64),
  })
  .strict()
export type DeliveryPeer = z.infer<typeof deliveryPeer>

/**
 * `consort/delivery`: a player's delivery receipt, signed by its device when a fetch completes: which peers served
 * the blocks of one manifest, fetched under one licence, and how much each. `fetch` is chosen by the player and
 * unique per device (with the device, the receipt's idempotency key at the clearinghouse). A clearinghouse pays
 * delivery from it (docs/decisions/0511-paid-delivery.md), never beyond the manifest's size per licence.
 */
export const deliveryBody = z
  .object({
    ...commonFields,
    fetch: id,
    account: publicKey,
    device: publicKey,
    licence: recordCid,
    manifest: recordCid,
    peers: z
      .array(deliveryPeer)
      .min(1)
      .max(MAX_DELIVERY_PEERS)
      .refine((peers) => unique(peers.map((p) => Buffer.from(p.peer).toString('hex'))), 'a peer repeats'),
  })
  .strict()
export type DeliveryBody = z.infer<typeof deliveryBody>
