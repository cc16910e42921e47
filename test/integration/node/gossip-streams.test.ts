import assert from 'node:assert/strict'
import type { Connection, IdentifyResult, Stream } from '@libp2p/interface'
import type { ConsortNode } from '../../../node/consort-node.ts'
import type { GossipStreamKeeper } from '../../../node/gossip-streams.ts'
import { GOSSIP_PROTOCOLS } from '../../../node/pubsub.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { untilLinked } from '../../helpers/gossip.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'
import { nextEvent } from '../../helpers/wait.ts'

/** Every node follows `revocations` (its revocation keeper), whatever its roles. */
const TOPIC = 'revocations'

const routerOf = (node: ConsortNode) =>
  (
    node.libp2p.services as {
      pubsub: {
        protocols: string[]
        streamsOutbound: Map<string, unknown>
        getSubscribers(topic: string): Array<{ equals(other: unknown): boolean }>
      }
    }
  ).pubsub
const keeperOf = (node: ConsortNode) => (node.libp2p.services as { gossipStreams: GossipStreamKeeper }).gossipStreams

/**
 * Make `node`'s outbound gossip streams fail as they open, after their protocol is agreed (libp2p runs a protocol's
 * middleware on every stream it opens, before handing it over), until `allow()`: gossipsub's `createOutboundStream`
 * sees `newStream` throw, as it does when a negotiation times out on a loaded machine.
 */
function refuseOutboundGossipStreams(node: ConsortNode): { failed: () => number; allow: () => void } {
  let failed = 0
  let refusing = true
  for (const protocol of GOSSIP_PROTOCOLS) {
    node.libp2p.use(protocol, (stream: Stream, connection: Connection, next) => {
      if (stream.direction === 'outbound' && refusing) {
        failed++
        throw new Error('outbound gossip stream refused by the test')
      }
      next(stream, connection)
    })
  }
  return { failed: () => failed, allow: () => (refusing = false) }
}

describe('gossip streams (decision 0018)', function () {
  this.timeout(120_000)
  const nodes: ConsortNode[] = []
  afterEach(async () => {
    await stopAll(nodes.splice(0))
  })

  it("lists the running router's own protocols", async () => {
    const clock = new FakeClock()
    const net = await createTestNetwork(clock)
    const node = await startMemoryNode({ network: net, clock })
    nodes.push(node)
    assert.deepEqual([...GOSSIP_PROTOCOLS].sort(), [...routerOf(node).protocols].sort())
  })

  it('a gossip stream that failed to open is opened again, and both ends then know what the other follows', async () => {
    const clock = new FakeClock()
    const net = await createTestNetwork(clock)
    const a = await startMemoryNode({ network: net, clock })
    const b = await startMemoryNode({ network: net, clock })
    nodes.push(a, b)
    const refusals = refuseOutboundGossipStreams(a)
    const identified = nextEvent<IdentifyResult>(a.libp2p, 'peer:identify', (r) => r.peerId.equals(b.peerId))
    await a.libp2p.dial(b.libp2p.getMultiaddrs()[0]!)
    await identified
    const topic = topicString(net.name, TOPIC)
    // Every attempt gossipsub makes of its own accord fails: at identify (one per gossip protocol) and when b's stream
    // arrives. Once a has identified b and has b's subscriptions (b's stream is there), and a few heartbeats later,
    // they have all been made.
    const knowsB = () =>
      routerOf(a)
        .getSubscribers(topic)
        .some((p) => p.equals(b.peerId))
    await untilHeartbeat(a, knowsB, 'a hears what b follows')
    let beats = 0
    await untilHeartbeat(a, () => ++beats > 3, 'three heartbeats of a')
    assert.ok(refusals.failed() >= 1, 'an outbound gossip stream was refused')
    assert.ok(!routerOf(a).streamsOutbound.has(b.peerId.toString()), 'a has no gossip stream to b')
    refusals.allow()
    // Before decision 0018 this failed after 30 heartbeats of each router: b never heard a's subscriptions (gossipsub
    // does not try a failed stream again), "gossip never settled: … know each other follow …/revocations/2".
    await untilLinked(a, [b], topic)
    assert.ok(routerOf(a).streamsOutbound.has(b.peerId.toString()))
    assert.ok(keeperOf(a).reopened >= 1)
  })

  it('a gossip stream closed while the connection stays open is opened again', async () => {
    const clock = new FakeClock()
    const net = await createTestNetwork(clock)
    const a = await startMemoryNode({ network: net, clock })
    const b = await startMemoryNode({ network: net, clock })
    nodes.push(a, b)
    await a.libp2p.dial(b.libp2p.getMultiaddrs()[0]!)
    const topic = topicString(net.name, TOPIC)
    await untilLinked(a, [b], topic)
    // Reset a's own gossip stream to b: the connection stays, and so does b's stream to a.
    const [connection] = a.libp2p.getConnections(b.peerId)
    const outbound = connection!.streams.filter(
      (s) => s.direction === 'outbound' && GOSSIP_PROTOCOLS.includes(s.protocol),
    )
    assert.equal(outbound.length, 1)
    const before = keeperOf(a).reopened
    outbound[0]!.abort(new Error('reset by the test'))
    const hasStream = () => routerOf(a).streamsOutbound.has(b.peerId.toString())
    await untilHeartbeat(a, () => !hasStream(), 'a forgets its reset stream to b')
    await untilHeartbeat(a, hasStream, 'a holds a gossip stream to b again')
    await untilLinked(a, [b], topic)
    assert.equal(a.libp2p.getConnections(b.peerId).length, 1, 'the same connection, never closed')
    assert.ok(keeperOf(a).reopened > before)
  })
})

/** Until `condition` holds, looking again at every heartbeat of the node's router (60 at most). */
async function untilHeartbeat(node: ConsortNode, condition: () => boolean, what: string): Promise<void> {
  if (condition()) return
  const router = (node.libp2p.services as { pubsub: EventTarget }).pubsub
  let beats = 0
  await new Promise<void>((resolve, reject) => {
    const listener = () => {
      const done = condition()
      if (done || ++beats > 60) {
        router.removeEventListener('gossipsub:heartbeat', listener)
        if (done) resolve()
        else reject(new Error(`not after 60 heartbeats: ${what}`))
      }
    }
    router.addEventListener('gossipsub:heartbeat', listener)
  })
}
