import type { ConsortNode } from '../../node/consort-node.ts'

/** The part of a node's gossipsub router these waits read. */
interface Router extends EventTarget {
  getSubscribers(topic: string): Array<{ toString(): string }>
  getMeshPeers(topic: string): string[]
}

const routerOf = (node: ConsortNode) => (node.libp2p.services as { pubsub: Router }).pubsub

/** What changes a router's view of its peers and meshes; each is a moment to look again. */
const CHANGES = ['subscription-change', 'gossipsub:graft', 'gossipsub:prune', 'gossipsub:heartbeat'] as const

/**
 * How many heartbeats every router may take before a wait gives up: a mesh forms at the first heartbeat after both
 * ends know each other's subscriptions, so this is generous, and it is counted in heartbeats rather than
 * milliseconds so that a loaded machine (which slows heartbeats and meshes alike) gets the same verdict.
 */
export const GOSSIP_WAIT_HEARTBEATS = 30

/**
 * Wait until `condition` holds of the nodes' gossipsub routers, looking again at every change a router reports (a
 * peer subscribed or left, a graft, a prune, a heartbeat) and never on a timer. Fails, naming `message`, once every
 * router has run `heartbeats` heartbeats with the condition still false.
 */
export async function untilGossip(
  nodes: readonly ConsortNode[],
  condition: () => boolean,
  options: { message: string; heartbeats?: number },
): Promise<void> {
  if (condition()) return
  const budget = options.heartbeats ?? GOSSIP_WAIT_HEARTBEATS
  const routers = nodes.map(routerOf)
  const beats = new Map<Router, number>(routers.map((router) => [router, 0]))
  const { promise, resolve, reject } = Promise.withResolvers<void>()
  const listeners = routers.map((router) => {
    const listener = (event: Event) => {
      if (event.type === 'gossipsub:heartbeat') beats.set(router, beats.get(router)! + 1)
      if (condition()) resolve()
      else if ([...beats.values()].every((count) => count >= budget)) {
        reject(new Error(`gossip never settled: ${options.message} (after ${budget} heartbeats of every router)`))
      }
    }
    for (const type of CHANGES) router.addEventListener(type, listener)
    return () => {
      for (const type of CHANGES) router.removeEventListener(type, listener)
    }
  })
  try {
    await promise
  } finally {
    for (const remove of listeners) remove()
  }
}

/** Wait until every node knows at least `min` peers that follow `topic`. */
export async function untilTopicPeers(nodes: readonly ConsortNode[], topic: string, min = 1): Promise<void> {
  await untilGossip(nodes, () => nodes.every((node) => routerOf(node).getSubscribers(topic).length >= min), {
    message: `every node has ${min} peer(s) on ${topic}`,
  })
}

/** Wait until every node has grafted at least `min` peers into its mesh for `topic`. */
export async function untilMesh(nodes: readonly ConsortNode[], topic: string, min: number): Promise<void> {
  await untilGossip(nodes, () => nodes.every((node) => routerOf(node).getMeshPeers(topic).length >= min), {
    message: `every node has ${min} mesh peer(s) on ${topic}`,
  })
}

/**
 * Wait until `publisher` and each of `peers` know that the other follows `topic`, so that what the publisher sends
 * reaches each of them first-hand: gossipsub floods a node's own messages to every peer it knows follows the topic,
 * and only over its own stream to that peer. Each side opens its own stream when the connection opens, and either
 * may be ready first (on a loaded machine, seconds apart): knowing that the peer follows the topic proves only the
 * peer's stream. A peer learns the publisher's subscriptions over the publisher's stream, so a peer that knows the
 * publisher follows `topic` proves the other. The publisher must follow `topic` itself.
 */
export async function untilLinked(publisher: ConsortNode, peers: readonly ConsortNode[], topic: string): Promise<void> {
  const router = routerOf(publisher)
  const id = publisher.peerId.toString()
  await untilGossip(
    [publisher, ...peers],
    () => {
      const following = new Set(router.getSubscribers(topic).map(String))
      return peers.every(
        (peer) =>
          following.has(peer.peerId.toString()) && routerOf(peer).getSubscribers(topic).map(String).includes(id),
      )
    },
    { message: `${id} and ${peers.length} peer(s) know each other follow ${topic}` },
  )
}

/** Wait until no peer of `node` follows `topic` any more. */
export async function untilUnfollowed(node: ConsortNode, topic: string): Promise<void> {
  await untilGossip([node], () => routerOf(node).getSubscribers(topic).length === 0, {
    message: `no peer of ${node.peerId} follows ${topic}`,
  })
}
