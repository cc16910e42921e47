import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { DELIVERY_ACK_DOMAIN } from './constants.ts'

/**
 * What a serving peer signs when it acknowledges the blocks it served to one device for one fetch. The player copies
 * the counts and the signature into its `consort/delivery` receipt; the clearinghouse rebuilds these fields from the
 * receipt and checks the signature, so a receipt pays a peer only for what that peer itself says it served, and a
 * peer is paid only for what the player says it received.
 */
export interface DeliveryAckFields {
  network: string
  fetch: string
  /** The device the blocks were written to: the peer id of the connection they went over. */
  device: Uint8Array
  manifest: CID
  /** The serving peer (its record-signing key, which is its libp2p identity). */
  peer: Uint8Array
  blocks: number
  bytes: number
}

const PREFIX = new TextEncoder().encode(`${DELIVERY_ACK_DOMAIN}\0`)

export function deliveryAckPayload(f: DeliveryAckFields): Uint8Array {
  const body = dagCbor.encode({
    network: f.network,
    fetch: f.fetch,
    device: f.device,
    manifest: f.manifest,
    peer: f.peer,
    blocks: f.blocks,
    bytes: f.bytes,
  })
  const out = new Uint8Array(PREFIX.length + body.length)
  out.set(PREFIX, 0)
  out.set(body, PREFIX.length)
  return out
}

export function signDeliveryAck(fields: Omit<DeliveryAckFields, 'peer'>, signer: Signer): Uint8Array {
  return signer.sign(deliveryAckPayload({ ...fields, peer: signer.publicKey }))
}

export function verifyDeliveryAck(fields: DeliveryAckFields, sig: Uint8Array): boolean {
  return ed25519Verify(fields.peer, deliveryAckPayload(fields), sig)
}
