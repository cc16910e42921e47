import { createHash } from 'node:crypto'
import { gossipsub, multicodec, StrictNoSign, StrictSign } from '@libp2p/gossipsub'
import { createPeerScoreParams, createTopicScoreParams } from '@libp2p/gossipsub/score'
import { TOPIC_NAMES, topicString } from '../protocols/topics/names.ts'

/**
 * The one place that imports a gossipsub implementation. The design card's `@chainsafe/libp2p-gossipsub`
 * (14.x) only speaks libp2p 2; `@libp2p/gossipsub` is the libp2p team's compatible stopgap for libp2p 3.
 * Switching back is this import (see docs/decisions/0001-gossipsub-package.md).
 */
export { gossipsub }

/**
 * The protocols gossipsub speaks, newest first: its version ladder (v1.2 to v1.0) and floodsub, which it falls back to
 * by default. `test/integration/node/gossip-streams.test.ts` checks them against a running router's own list.
 */
export const GOSSIP_PROTOCOLS: readonly string[] = [multicodec, '/meshsub/1.1.0', '/meshsub/1.0.0', '/floodsub/1.0.0']

export interface PubSubOptions {
  network: string
  /** Largest gossip message accepted from the wire, in bytes. */
  maxMessageBytes: number
  /** Mesh degree (gossipsub's D); smaller meshes in large simulations save CPU. */
  meshDegree?: number
  heartbeatIntervalMs?: number
  /**
   * `StrictNoSign`, the network's (decision 0016, topics of wire version 2). `StrictSign`, gossipsub's own default,
   * only for what measures plain gossipsub as deployed by default beside ours (`bench/benchmarks/offers.ts`).
   */
  signaturePolicy?: GossipSignaturePolicy
}

export type GossipSignaturePolicy = 'StrictNoSign' | 'StrictSign'

/**
 * Messages are named by the hash of their data, not by author and sequence number: the same record published
 * by two nodes is one message, and a replayed message is recognised as a duplicate.
 */
export function messageIdOf(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

/**
 * Smallest message a node answers with `IDONTWANT` to its mesh (gossipsub v1.2; the library's default is 512 bytes).
 * `IDONTWANT` saves a peer from sending a copy it would send anyway only when it arrives first, and a node sends it
 * together with its own forward of the message: for a record of 1–2 KB (offers, contracts, manifests, usage
 * reports) the peer's copy is already on the wire, and the `IDONTWANT`s double the RPCs every message costs (measured
 * in the 1,050-node market: 2,807 `IDONTWANT` for 2,813 message copies). Above 16 KiB a duplicate costs more than the
 * frame that may stop it (decision 0812).
 */
export const IDONTWANT_MIN_DATA_BYTES = 16 * 1024

export function consortGossipsub(options: PubSubOptions) {
  const topics = Object.fromEntries(
    TOPIC_NAMES.map((topic) => [
      topicString(options.network, topic),
      createTopicScoreParams({
        topicWeight: 1,
        // No mesh-delivery penalties: quiet topics (revocations) would punish honest peers for silence.
        timeInMeshWeight: 0.01,
        timeInMeshQuantum: 1000,
        timeInMeshCap: 10,
        firstMessageDeliveriesWeight: 1,
        firstMessageDeliveriesDecay: 0.9,
        firstMessageDeliveriesCap: 50,
        meshMessageDeliveriesWeight: 0,
        meshFailurePenaltyWeight: 0,
        // What a rejected message costs its sender: a few forged records and the peer is graylisted.
        invalidMessageDeliveriesWeight: -50,
        invalidMessageDeliveriesDecay: 0.5,
      }),
    ]),
  )
  return gossipsub({
    // Every message is a self-signed record (decision 0016): a gossipsub signature more would cost its author one
    // Ed25519 signature and every node one verify per message, and vouch for nothing the records do not.
    globalSignaturePolicy: options.signaturePolicy === 'StrictSign' ? StrictSign : StrictNoSign,
    allowPublishToZeroTopicPeers: true,
    // A player behind NAT may reach the network only through a relay: gossip must flow on relayed connections too.
    runOnLimitedConnection: true,
    emitSelf: false,
    msgIdFn: (message) => messageIdOf(message.data),
    // Recognise a copy already seen before checking its signature: under spam most copies are duplicates.
    fastMsgIdFn: (message) => (message.data == null ? '' : createHash('sha256').update(message.data).digest('base64')),
    maxInboundDataLength: options.maxMessageBytes,
    idontwantMinDataSize: IDONTWANT_MIN_DATA_BYTES,
    ...(options.meshDegree != null
      ? { D: options.meshDegree, Dlo: Math.max(1, options.meshDegree - 2), Dhi: options.meshDegree * 2 }
      : {}),
    ...(options.heartbeatIntervalMs != null ? { heartbeatInterval: options.heartbeatIntervalMs } : {}),
    scoreParams: createPeerScoreParams({
      topics,
      // Every node of a devnet or loopback simulation shares 127.0.0.1: do not count that as a Sybil colony.
      IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']),
    }),
    scoreThresholds: { gossipThreshold: -100, publishThreshold: -200, graylistThreshold: -300 },
  })
}
