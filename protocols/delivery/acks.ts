import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import type { Signer } from '../../keys/ed25519.ts'
import type { Clock } from '../clock.ts'
import { parseMessage } from '../messages.ts'
import type { NetworkContext } from '../network.ts'
import type { SignedRecord } from '../records/envelope.ts'
import { type RpcContext, registerRpc } from '../rpc/server.ts'
import type { BlockServedEvent, SegmentsServer } from '../segments/server.ts'
import { signDeliveryAck } from './ack.ts'
import { DELIVERY_OPS, DELIVERY_PROTOCOL, DELIVERY_PROTOCOL_VERSION } from './constants.ts'
import { DeliveryAckInvalidError, NothingServedError } from './errors.ts'
import { type AckRequest, type AckResponse, ackRequest } from './messages.ts'
import { ServedTally, type TallyInit } from './tally.ts'

const log = logger('consort:delivery:acks')

export interface DeliveryAcksComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  network: Pick<NetworkContext, 'name' | 'protocol'>
  /** This node's record-signing key (its libp2p identity): what a clearinghouse pays. */
  signer: Signer
  clock: Clock
  /** The records that vouch for this node (its certificate, its device registration), sent with each ack. */
  credentials: { attachments(): SignedRecord[] }
  /** The segments server whose `served` events are acknowledged. */
  server: Pick<SegmentsServer, 'addEventListener' | 'removeEventListener'>
}

/**
 * The serving side of `/consort/<net>/delivery/1`: remembers each block its segments server wrote to a peer and,
 * when that peer asks, signs what it served of the blocks the peer names — once per block served. Every node that
 * serves blocks runs one (delivery nodes and seeding players), so that whoever served a fetch can be paid for it.
 */
export class DeliveryAcks {
  readonly tally: ServedTally
  readonly protocol: string
  readonly #c: DeliveryAcksComponents
  readonly #onServed = (event: Event) => {
    const served = (event as CustomEvent<BlockServedEvent>).detail
    this.tally.served(served.peer, blockKey(served.cid), served.bytes)
  }
  #unregister: (() => Promise<void>) | undefined
  acknowledged = 0

  constructor(components: DeliveryAcksComponents, init: TallyInit = {}) {
    this.#c = components
    this.tally = new ServedTally(components.clock, init)
    this.protocol = components.network.protocol(DELIVERY_PROTOCOL, DELIVERY_PROTOCOL_VERSION)
  }

  async start(): Promise<void> {
    if (this.#unregister !== undefined) return
    this.#c.server.addEventListener('served', this.#onServed)
    this.#unregister = await registerRpc(this.#c.libp2p, this.protocol, {
      [DELIVERY_OPS.ack]: async (body, context) => this.ack(body, context),
    })
  }

  async stop(): Promise<void> {
    this.#c.server.removeEventListener('served', this.#onServed)
    await this.#unregister?.()
    this.#unregister = undefined
  }

  /** Sign, per fetch named, what this node served the calling peer of the blocks it names. */
  async ack(body: unknown, context: Pick<RpcContext, 'remotePeer'>): Promise<AckResponse> {
    let request: AckRequest
    try {
      request = parseMessage(ackRequest, body, 'request')
    } catch (err) {
      throw new DeliveryAckInvalidError((err as Error).message)
    }
    const device = context.remotePeer.publicKey?.raw
    if (device === undefined || device.length !== 32) {
      throw new DeliveryAckInvalidError('the asking peer has no Ed25519 identity')
    }
    const peer = context.remotePeer.toString()
    let confirmedAny = false
    const acks = request.fetches.map((item) => {
      const confirmed = this.tally.claim(peer, item.cids.map(blockKey))
      if (confirmed.blocks === 0) return null
      confirmedAny = true
      this.acknowledged += confirmed.blocks
      const sig = signDeliveryAck(
        {
          network: this.#c.network.name,
          fetch: item.fetch,
          device,
          manifest: item.manifest,
          blocks: confirmed.blocks,
          bytes: confirmed.bytes,
        },
        this.#c.signer,
      )
      return { blocks: confirmed.blocks, bytes: confirmed.bytes, sig }
    })
    if (!confirmedAny) {
      throw new NothingServedError('none of the blocks named was served to you unacknowledged')
    }
    log.trace('acknowledged %d fetches to %p', acks.filter((a) => a !== null).length, context.remotePeer)
    const credentials = this.#c.credentials
      .attachments()
      .filter((r) => r.type === 'consort/cert' || r.type === 'consort/device')
      .slice(0, 2)
      .map((r) => r.bytes)
    return { acks, credentials }
  }
}

/**
 * The tally's key for a block: its CID's bytes as a Latin-1 string (one character per byte, so distinct CIDs give
 * distinct keys). A CID's base32 text costs several times as much to make, once per block served and once per block
 * acknowledged.
 */
function blockKey(cid: CID): string {
  return Buffer.from(cid.bytes.buffer, cid.bytes.byteOffset, cid.bytes.byteLength).toString('latin1')
}
