import assert from 'node:assert/strict'
import type { PeerId } from '@libp2p/interface'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/index.ts'
import { encodeGossipMessage, topicString } from '../../../protocols/topics/index.ts'
import { untilGossip } from '../../helpers/gossip.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'
import { flipBit, indexOfBytes } from '../../helpers/record-samples.ts'
import { sampleManifestBody } from '../../helpers/records.ts'
import { waitUntil } from '../../helpers/wait.ts'

/** What these tests read of a node's gossipsub router. */
interface Router extends EventTarget {
  subscribe(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<{ recipients: PeerId[] }>
  /** By the peer id's string (its score table's key). */
  getScore(peer: string): number
  getMeshPeers(topic: string): string[]
  getSubscribers(topic: string): PeerId[]
}

const routerOf = (node: ConsortNode) => (node.libp2p.services as unknown as { pubsub: Router }).pubsub

/** Resolves once every node's router has run `count` more heartbeats (event-driven: the same on a loaded machine). */
async function heartbeats(nodes: ConsortNode[], count: number): Promise<void> {
  await Promise.all(
    nodes.map(
      (node) =>
        new Promise<void>((resolve) => {
          let seen = 0
          const router = routerOf(node)
          const beat = () => {
            if (++seen < count) return
            router.removeEventListener('gossipsub:heartbeat', beat)
            resolve()
          }
          router.addEventListener('gossipsub:heartbeat', beat)
        }),
    ),
  )
}

interface RawMessage {
  type: 'signed' | 'unsigned'
  topic: string
  data: Uint8Array
}

/**
 * Decision 0016: gossip messages travel without gossipsub's own signature (`StrictNoSign`), on topics of wire version
 * 2; a node still on version 1 (gossipsub-signed messages, topics without a version) shares no topic with them, so
 * neither side ever judges the other's messages invalid.
 */
describe('foundation: unsigned gossip (decision 0016)', function () {
  this.timeout(60_000)
  const clock = new FakeClock()
  let network: TestNetwork
  const nodes: ConsortNode[] = []

  before(async () => {
    network = await createTestNetwork(clock, { name: 'nosignnet' })
  })

  afterEach(async () => {
    await stopAll(nodes.splice(0))
  })

  /** A node on gossipsub's default signature policy: what a node of wire version 1 ran. */
  async function startSigningNode(): Promise<ConsortNode> {
    const node = await createConsortNode({
      dataDir: null,
      network: network.record,
      keys: await createNodeKeys(),
      listen: [`/memory/consort-test-nosign-${process.pid}-${nodes.length}`],
      transports: { tcp: false, memory: true },
      clock,
      targetConnections: 0,
      gossip: { signaturePolicy: 'StrictSign' },
    })
    await node.start()
    return node
  }

  it('carries records in messages with no author, sequence number or gossipsub signature, and still refuses forged records', async () => {
    const label = await startMemoryNode({ network, clock, certRoles: ['production'] })
    const relay = await startMemoryNode({ network, clock })
    const follower = await startMemoryNode({ network, clock })
    nodes.push(label, relay, follower)
    await label.libp2p.dial(relay.libp2p.getMultiaddrs()[0]!)
    await relay.libp2p.dial(follower.libp2p.getMultiaddrs()[0]!)
    const received: string[] = []
    const raw: RawMessage[] = []
    const topic = topicString(network.name, 'catalog')
    for (const node of [label, relay, follower]) {
      node.topics.subscribe('catalog', {
        onMessage: (d) => void (node === follower && received.push(d.record.id.toString())),
      })
    }
    routerOf(follower).addEventListener('message', (event) => raw.push((event as CustomEvent<RawMessage>).detail))
    await untilGossip(nodes, () => [label, relay, follower].every((n) => routerOf(n).getMeshPeers(topic).length > 0), {
      message: 'a catalog mesh along the line',
    })
    const good = signRecord(
      'consort/manifest',
      sampleManifestBody(network.name, clock.now(), { title: 'Unsigned Wire', seq: 1 }),
      label.keys.signer,
    )
    await label.topics.publish('catalog', good, [label.credentials.cert()!])
    await waitUntil(() => received.includes(good.id.toString()), { message: 'the manifest reaches the follower' })
    const message = raw.find((m) => m.topic === topic)
    assert.equal(message?.type, 'unsigned', 'gossipsub adds no signature, author or sequence number')
    assert.deepEqual(Object.keys(message).sort(), ['data', 'topic', 'type'])

    // A record whose own signature does not verify is refused at the first hop, as before: the records' signatures are
    // what every message is judged by.
    const next = signRecord(
      'consort/manifest',
      sampleManifestBody(network.name, clock.now(), { title: 'Forged', seq: 2 }),
      label.keys.signer,
    )
    const forged = { id: next.id, bytes: flipBit(next.bytes, indexOfBytes(next.bytes, next.sig) * 8 + 13) }
    const refusals: string[] = []
    relay.topics.addEventListener('refused', (event) =>
      refusals.push((event as CustomEvent<{ code: string }>).detail.code),
    )
    const forgedBytes = encodeGossipMessage([forged.bytes, label.credentials.cert()!.bytes])
    await routerOf(label).publish(topic, forgedBytes)
    await waitUntil(() => refusals.length > 0, { message: 'the relay refuses the forged manifest' })
    assert.deepEqual(refusals, ['ERR_BAD_SIGNATURE'])
    assert.equal(received.includes(forged.id.toString()), false)
    // Scoring still sees who handed a message over (not its author, which gossipsub no longer names).
    await waitUntil(() => routerOf(relay).getScore(label.peerId.toString()) < 0, {
      message: 'the peer that sent it is punished by peer scoring',
    })
  })

  it('a node signing its messages (wire version 1) and an unsigned one share no topic, and neither punishes the other', async () => {
    const current = await startMemoryNode({ network, clock, certRoles: ['production'] })
    const old = await startSigningNode()
    nodes.push(current, old)
    await current.libp2p.dial(old.libp2p.getMultiaddrs()[0]!)
    const v2 = topicString(network.name, 'catalog')
    const v1 = `/consort/${network.name}/catalog`
    const heard = { current: [] as string[], old: [] as string[] }
    current.topics.subscribe('catalog', { onMessage: () => {} })
    routerOf(current).addEventListener('message', (e) =>
      heard.current.push((e as CustomEvent<RawMessage>).detail.topic),
    )
    routerOf(old).subscribe(v1)
    routerOf(old).addEventListener('message', (e) => heard.old.push((e as CustomEvent<RawMessage>).detail.topic))
    await untilGossip(
      nodes,
      () => routerOf(current).getSubscribers(v1).length > 0 && routerOf(old).getSubscribers(v2).length > 0,
      { message: 'each node knows what the other follows' },
    )
    const manifest = signRecord(
      'consort/manifest',
      sampleManifestBody(network.name, clock.now(), { title: 'Across Versions', seq: 1 }),
      current.keys.signer,
    )
    const bytes = encodeGossipMessage([manifest.bytes, current.credentials.cert()!.bytes])
    // Each publishes on its own version's topic; both messages go nowhere (nobody of that version is connected).
    assert.equal((await current.topics.publish('catalog', manifest, [current.credentials.cert()!])) >= 0, true)
    await routerOf(old)
      .publish(v1, bytes)
      .catch(() => {})
    // Three heartbeats of each router: time for anything to arrive, be forwarded by gossip or be scored.
    await heartbeats([current, old], 3)
    assert.deepEqual(heard, { current: [], old: [] })
    assert.ok(
      routerOf(current).getScore(old.peerId.toString()) >= 0,
      'the unsigned node does not punish the signing one',
    )
    assert.ok(
      routerOf(old).getScore(current.peerId.toString()) >= 0,
      'the signing node does not punish the unsigned one',
    )
  })
})
