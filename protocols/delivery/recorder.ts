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
  MAX_ACK_CIDS,
  MAX_ACK_FETCHES,
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

/** One finished fetch and what each peer delivered of it. */
export interface FetchDeliveries {
  fetch: string
  manifest: CID
  deliveries: readonly PeerDelivery[]
}

export interface CollectAcksInit {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'peerId'> & Partial<Pick<Libp2p, 'peerStore' | 'getConnections'>>
  network: Pick<NetworkContext, 'name' | 'protocol'>
  /** This device's key (the peer id the blocks were written to). */
  device: Uint8Array
  /** The fetches to acknowledge: each peer is asked once for all of them (in requests of at most 64 fetches). */
  fetches: readonly FetchDeliveries[]
  signal?: AbortSignal
}

export interface CollectedAcks {
  /** Per fetch id, the receipt's peers: each acknowledged share of the fetch. */
  peers: Map<string, DeliveryPeer[]>
  /** The records the acknowledging peers sent to vouch for themselves (for the clearinghouse). */
  credentials: Uint8Array[]
}

interface Asked {
  fetch: FetchDeliveries
  delivery: PeerDelivery
}

/** A peer's share of several fetches cut into requests within the protocol's limits. */
function batches(items: readonly Asked[]): Asked[][] {
  const out: Asked[][] = []
  let current: Asked[] = []
  let cids = 0
  for (const item of items) {
    const n = item.delivery.cids.length
    if (current.length > 0 && (current.length >= MAX_ACK_FETCHES || cids + n > MAX_ACK_CIDS)) {
      out.push(current)
      current = []
      cids = 0
    }
    current.push(item)
    cids += n
  }
  if (current.length > 0) out.push(current)
  return out
}

/**
 * Ask every peer that delivered blocks of these fetches to acknowledge them — one request per peer for all of them,
 * every peer at once — and keep the acknowledgements that are signed by that peer and claim no more than the player
 * received from it (a peer may confirm less: what it forgot). A peer that does not answer, refuses, or over-claims
 * is left out of that fetch's receipt. Each fetch keeps at most `MAX_RECEIPT_PEERS` peers (those that delivered most).
 */
export async function collectAcks(init: CollectAcksInit): Promise<CollectedAcks> {
  const protocol = init.network.protocol(DELIVERY_PROTOCOL, DELIVERY_PROTOCOL_VERSION)
  const byPeer = new Map<string, Asked[]>()
  for (const fetch of init.fetches) {
    for (const delivery of fetch.deliveries.slice(0, MAX_RECEIPT_PEERS)) {
      const list = byPeer.get(delivery.peer) ?? []
      list.push({ fetch, delivery })
      byPeer.set(delivery.peer, list)
    }
  }
  const collected: CollectedAcks = { peers: new Map(), credentials: [] }
  const seenCredentials = new Set<string>()
  const ask = async (peer: string, batch: Asked[]): Promise<void> => {
    const peerId = peerIdFromString(peer)
    const key = peerId.publicKey?.raw
    if (key === undefined || key.length !== 32) throw new DeliveryAckRefusedError(`${peer}: not an Ed25519 peer`)
    const body = await rpcCall(
      init.libp2p as never,
      peerId,
      protocol,
      DELIVERY_OPS.ack,
      { fetches: batch.map((a) => ({ fetch: a.fetch.fetch, manifest: a.fetch.manifest, cids: a.delivery.cids })) },
      {
        deadlineMs: ACK_DEADLINE_MS,
        maxResponseBytes: MAX_ACK_RESPONSE_BYTES,
        service: 'delivery',
        ...(init.signal !== undefined ? { signal: init.signal } : {}),
      },
    )
    const answer = parseMessage(ackResponse, body, 'ack')
    if (answer.acks.length !== batch.length) {
      throw new DeliveryAckRefusedError(`${peer} answered ${answer.acks.length} fetches of ${batch.length}`)
    }
    let kept = 0
    batch.forEach(({ fetch, delivery }, i) => {
      const ack = answer.acks[i]
      if (ack == null) return
      if (ack.blocks > delivery.blocks || ack.bytes > delivery.bytes) {
        log('%s acknowledges more than it delivered of %s: left out', peer, fetch.fetch)
        return
      }
      const fields = {
        network: init.network.name,
        fetch: fetch.fetch,
        device: init.device,
        manifest: fetch.manifest,
        peer: key,
        blocks: ack.blocks,
        bytes: ack.bytes,
      }
      if (!verifyDeliveryAck(fields, ack.sig)) {
        log('%s: an acknowledgement of %s is not its own signature: left out', peer, fetch.fetch)
        return
      }
      const peers = collected.peers.get(fetch.fetch) ?? []
      peers.push({ peer: key, blocks: ack.blocks, bytes: ack.bytes, ack: ack.sig })
      collected.peers.set(fetch.fetch, peers)
      kept++
    })
    if (kept === 0) return
    for (const c of answer.credentials) {
      const k = Buffer.from(c).toString('base64')
      if (seenCredentials.has(k)) continue
      seenCredentials.add(k)
      collected.credentials.push(c)
    }
  }
  const work: Promise<void>[] = []
  for (const [peer, items] of byPeer) {
    work.push(
      (async () => {
        for (const batch of batches(items)) {
          await ask(peer, batch).catch((err) => log('no acknowledgement from %s: %s', peer, (err as Error).message))
        }
      })(),
    )
  }
  await Promise.all(work)
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
