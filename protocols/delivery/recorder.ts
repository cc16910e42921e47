import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import type { Signer } from '../../keys/ed25519.ts'
import type { Clock } from '../clock.ts'
import { parseMessage } from '../messages.ts'
import type { NetworkContext } from '../network.ts'
import { type SignedRecord, signRecord } from '../records/envelope.ts'
import type { DeliveryPeer } from '../records/types/delivery.ts'
import { rpcCall } from '../rpc/client.ts'
import { BITSWAP_PEER_ID, type FetchProgressEvent } from '../segments/fetcher.ts'
import { verifyDeliveryAck } from './ack.ts'
import {
  ACK_DEADLINE_MS,
  DELIVERY_OPS,
  DELIVERY_PROTOCOL,
  DELIVERY_PROTOCOL_VERSION,
  MAX_ACK_RESPONSE_BYTES,
  MAX_RECEIPT_PEERS,
} from './constants.ts'
import { DeliveryAckRefusedError } from './errors.ts'
import { ackResponse } from './messages.ts'

const log = logger('consort:delivery:receipts')

/** What one peer delivered of a fetch, as the player counted it (each block verified against its CID). */
export interface PeerDelivery {
  peer: string
  cids: CID[]
  blocks: number
  bytes: number
}

/**
 * Follows a fetch's progress events and keeps, per serving peer, the blocks whose first verified copy came from
 * it (the fetcher emits `block` only after the CID check). Pass `recorder.onProgress` as the fetch's `onProgress`
 * (or call it from yours). Bitswap is left out: its blocks come from peers the fetch does not know by name.
 */
export class DeliveryRecorder {
  readonly #cids: readonly CID[]
  readonly #peers = new Map<string, PeerDelivery>()

  constructor(cids: readonly CID[]) {
    this.#cids = cids
  }

  readonly onProgress = (event: FetchProgressEvent): void => {
    if (event.type !== 'block' || event.peer === BITSWAP_PEER_ID) return
    const cid = this.#cids[event.index]
    if (cid === undefined) return
    let peer = this.#peers.get(event.peer)
    if (peer === undefined) {
      peer = { peer: event.peer, cids: [], blocks: 0, bytes: 0 }
      this.#peers.set(event.peer, peer)
    }
    peer.cids.push(cid)
    peer.blocks++
    peer.bytes += event.bytes
  }

  /** The peers that delivered, most bytes first. */
  deliveries(): PeerDelivery[] {
    return [...this.#peers.values()].sort((a, b) => b.bytes - a.bytes)
  }
}

export interface CollectAcksInit {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'peerId'> & Partial<Pick<Libp2p, 'peerStore' | 'getConnections'>>
  network: Pick<NetworkContext, 'name' | 'protocol'>
  /** This device's key (the peer id the blocks were written to). */
  device: Uint8Array
  fetch: string
  manifest: CID
  deliveries: readonly PeerDelivery[]
  signal?: AbortSignal
}

export interface CollectedAcks {
  /** The receipt's peers: each acknowledged share of the fetch. */
  peers: DeliveryPeer[]
  /** The records the acknowledging peers sent to vouch for themselves (for the clearinghouse). */
  credentials: Uint8Array[]
}

/**
 * Ask every peer that delivered blocks to acknowledge them, at once, and keep the acknowledgements that are
 * signed by that peer and claim no more than the player received from it (a peer may confirm less: what it
 * forgot). A peer that does not answer, refuses, or over-claims is left out of the receipt.
 */
export async function collectAcks(init: CollectAcksInit): Promise<CollectedAcks> {
  const protocol = init.network.protocol(DELIVERY_PROTOCOL, DELIVERY_PROTOCOL_VERSION)
  const asked = init.deliveries.slice(0, MAX_RECEIPT_PEERS)
  const answers = await Promise.allSettled(
    asked.map(async (d): Promise<{ peer: DeliveryPeer; credentials: Uint8Array[] }> => {
      const peerId = peerIdFromString(d.peer)
      const key = peerId.publicKey?.raw
      if (key === undefined || key.length !== 32) throw new DeliveryAckRefusedError(`${d.peer}: not an Ed25519 peer`)
      const body = await rpcCall(
        init.libp2p as never,
        peerId,
        protocol,
        DELIVERY_OPS.ack,
        { fetch: init.fetch, manifest: init.manifest, cids: d.cids },
        {
          deadlineMs: ACK_DEADLINE_MS,
          maxResponseBytes: MAX_ACK_RESPONSE_BYTES,
          service: 'delivery',
          ...(init.signal !== undefined ? { signal: init.signal } : {}),
        },
      )
      const ack = parseMessage(ackResponse, body, 'ack')
      if (ack.blocks > d.blocks || ack.bytes > d.bytes) {
        throw new DeliveryAckRefusedError(
          `${d.peer} acknowledges ${ack.blocks} blocks / ${ack.bytes} bytes; it delivered ${d.blocks} / ${d.bytes}`,
        )
      }
      const fields = {
        network: init.network.name,
        fetch: init.fetch,
        device: init.device,
        manifest: init.manifest,
        peer: key,
        blocks: ack.blocks,
        bytes: ack.bytes,
      }
      if (!verifyDeliveryAck(fields, ack.sig))
        throw new DeliveryAckRefusedError(`${d.peer}: the signature is not its own`)
      return { peer: { peer: key, blocks: ack.blocks, bytes: ack.bytes, ack: ack.sig }, credentials: ack.credentials }
    }),
  )
  const collected: CollectedAcks = { peers: [], credentials: [] }
  answers.forEach((a, i) => {
    if (a.status === 'fulfilled') {
      collected.peers.push(a.value.peer)
      collected.credentials.push(...a.value.credentials)
    } else log('no acknowledgement from %s: %s', asked[i]!.peer, (a.reason as Error).message)
  })
  return collected
}

export interface BuildReceiptInit {
  network: Pick<NetworkContext, 'name' | 'caps'>
  device: Signer
  account: Uint8Array
  fetch: string
  licence: CID
  manifest: CID
  peers: DeliveryPeer[]
  clock: Clock
}

/** The device-signed `consort/delivery` receipt of one fetch (at least one acknowledged peer). */
export function buildDeliveryReceipt(init: BuildReceiptInit): SignedRecord<'consort/delivery'> {
  return signRecord(
    'consort/delivery',
    {
      network: init.network.name,
      created: init.clock.now(),
      fetch: init.fetch,
      account: init.account,
      device: init.device.publicKey,
      licence: init.licence,
      manifest: init.manifest,
      peers: init.peers,
    },
    init.device,
    init.network.caps,
  )
}
