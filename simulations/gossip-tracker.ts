import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { recordId } from '../protocols/records/envelope.ts'
import { OfferGossipCheck } from '../protocols/reference/offers.ts'
import type { GossipDelivery } from '../protocols/topics/bus.ts'
import { decodeGossipMessage } from '../protocols/topics/message.ts'
import { parseTopicString, type TopicName, topicString } from '../protocols/topics/names.ts'
import type { Cluster, SimNode } from './cluster.ts'
import { Distribution, type DistributionSummary } from './metrics.ts'

const log = logger('consort:sim:gossip')

/**
 * Messages published this soon after the network changed (a heal, a node rejoining) are reported apart: gossipsub
 * rebuilds its mesh at its next heartbeats, and what is published meanwhile may miss the newcomers.
 */
export const TRANSITION_MS = 3000

/** Messages tracked in one run; beyond this new publishes are counted but not followed (bounded memory). */
export const MAX_TRACKED_MESSAGES = 100_000

/** The parts of gossipsub the tracker wraps (instrumentation from outside; see docs/decisions/0802-gossip-metrics.md). */
interface InstrumentedPubSub {
  publish(topic: string, data: Uint8Array): Promise<{ recipients: PeerId[] }>
  handleReceivedMessage(from: PeerId, rpcMsg: { topic: string; data?: Uint8Array }): Promise<void>
  getTopics(): string[]
  getMeshPeers(topic: string): string[]
}

interface Tracked {
  key: string
  topic: TopicName
  publisher: number
  honest: boolean
  t0: number
  /** Honest nodes that follow the topic, are up and on the publisher's side of any partition at publish time. */
  expected: Set<number>
  /** Honest nodes subscribed but cut off by a partition at publish time: they must catch up after the heal. */
  cutOff: Set<number>
  arrivals: Map<number, number>
  receipts: number
  /** The publisher's gossip mesh peers on the topic when it published. */
  meshAtPublish: number
}

export interface GossipReport {
  /** Messages published by honest nodes (and followed). */
  messages: number
  /** Delivered (message, node) pairs over expected pairs, over the honest messages. */
  reliability: number
  /** The smallest share of expected nodes one honest message reached. */
  minReach: number
  /** Honest messages that reached every expected node. */
  fullyDelivered: number
  /** Messages published after the tracker was full (MAX_TRACKED_MESSAGES): counted, not followed. */
  untracked: number
  /** Expected pairs whose node left (churn) before the message could reach it: not counted against reliability. */
  excusedByChurn: number
  /** Pairs cut off by a partition at publish time (reported, not counted). */
  cutOffByPartition: number
  latencyMs: DistributionSummary
  /** Copies beyond the first that honest nodes received, per message and per receiving node. */
  duplicatesPerMessage: number
  duplicatesPerDelivery: number
  byTopic: Record<string, { messages: number; reliability: number; p50: number; p99: number }>
  /** Each honest message's publish time (s since the workload started) and reach (share of expected nodes). */
  reach: Array<[number, number]>
  /** Expected pairs a partition separated while the message was spreading (not counted against reliability). */
  cutInFlight: number
  /** Messages published within TRANSITION_MS of a heal or a rejoin: their reach, apart from `reliability`. */
  transition: { messages: number; reliability: number }
  /**
   * Catch-up (protocols/sync): the (message, node) pairs a partition cut off at publish time, how many of them the
   * node got after the heal, and how long after the heal, overall and by topic.
   */
  catchUp: {
    pairs: number
    delivered: number
    afterHealMs: DistributionSummary
    byTopic: Record<string, { pairs: number; delivered: number; p50: number; p99: number; max: number }>
  }
  adversarial: {
    published: number
    /** (message, honest node) pairs where an honest node accepted an adversary's message. */
    acceptedByHonest: number
    /** Messages of adversaries that at least one honest node accepted. */
    messagesAccepted: number
    acceptedKeys: string[]
  }
  /** Honest messages published while their publisher had no mesh peer on the topic (they rely on gossip). */
  publishedWithoutMesh: number
  /** Refusals by honest nodes' validators, by code. */
  refusals: Record<string, number>
}

/**
 * Follows every message published in the run: who published it and when, which honest nodes should get it, when
 * each accepted it (its TopicBus delivered it), and how many copies each received. Keyed by the lead record's
 * id (the name of the record everywhere), so a message is recognised whoever forwards it.
 */
export class GossipTracker {
  readonly #cluster: Cluster
  readonly #topics: readonly TopicName[]
  readonly #messages = new Map<string, Tracked>()
  readonly #latency = new Distribution()
  readonly #latencyByTopic = new Map<TopicName, Distribution>()
  readonly #onCount: (name: string, n?: number) => void
  #untracked = 0
  #junk = 0

  readonly #origin: () => number
  readonly #partitions: Array<{ at: number; sides: ReadonlyMap<string, number> }> = []

  constructor(
    cluster: Cluster,
    measureTopics: readonly TopicName[],
    onCount: (name: string, n?: number) => void,
    origin: () => number,
  ) {
    this.#cluster = cluster
    this.#topics = measureTopics
    this.#onCount = onCount
    this.#origin = origin
  }

  readonly #transitions: number[] = []

  /** The runner tells of each change that rebuilds meshes (a heal, a restart, a rejoin) as it happens. */
  noteTransition(): void {
    this.#transitions.push(performance.now())
  }

  #inTransition(t0: number): boolean {
    return this.#transitions.some((t) => t0 >= t && t0 <= t + TRANSITION_MS)
  }

  readonly #heals: number[] = []

  /** The runner tells of each heal of a partition as it happens (catch-up is measured from it). */
  noteHeal(): void {
    this.#heals.push(performance.now())
  }

  /** The runner tells of each partition (sides by peer id) as it cuts. */
  notePartition(sides: ReadonlyMap<string, number>): void {
    this.#partitions.push({ at: performance.now(), sides })
  }

  /** Did a partition separate a and b during [from, to]? */
  #cutBetween(a: SimNode, b: SimNode, from: number, to: number): boolean {
    return this.#partitions.some(
      (p) => p.at >= from && p.at <= to && (p.sides.get(a.peerId) ?? 0) !== (p.sides.get(b.peerId) ?? 0),
    )
  }

  /** Instrument a (re)started node: wrap its gossipsub and, for honest nodes, follow the measured topics. */
  attach(sim: SimNode): void {
    const node = sim.started
    const pubsub = (node.libp2p.services as { pubsub: InstrumentedPubSub }).pubsub
    const publish = pubsub.publish.bind(pubsub)
    pubsub.publish = async (topic, data) => {
      this.#published(sim, topic, data)
      return await publish(topic, data)
    }
    if (!sim.honest) return
    const receive = pubsub.handleReceivedMessage.bind(pubsub)
    pubsub.handleReceivedMessage = async (from, rpcMsg) => {
      if (rpcMsg.data != null) {
        const key = leadKey(rpcMsg.data)
        const tracked = key == null ? undefined : this.#messages.get(key)
        if (tracked != null) tracked.receipts++
      }
      return await receive(from, rpcMsg)
    }
    // Offers are checked as every player checks them (certified, fresh, unrevoked): the shared offers-topic check.
    const offerCheck = new OfferGossipCheck({ trust: node.trust, clock: node.clock })
    for (const topic of this.#topics) {
      node.topics.subscribe(topic, {
        ...(topic === 'offers' ? { check: (delivery: GossipDelivery) => offerCheck.check(delivery) } : {}),
        onMessage: (delivery) => this.#delivered(sim, delivery),
      })
    }
    // Topics the node's roles follow: listen to them too (adding a subscriber changes no subscription).
    for (const name of pubsub.getTopics()) {
      const parsed = parseTopicString(name)
      if (parsed == null || this.#topics.includes(parsed.topic)) continue
      node.topics.subscribe(parsed.topic, { onMessage: (delivery) => this.#delivered(sim, delivery) })
    }
  }

  #published(sim: SimNode, topicName: string, data: Uint8Array): void {
    const parsed = parseTopicString(topicName)
    if (parsed == null) return
    this.#onCount(sim.honest ? 'gossip.published' : 'gossip.publishedByAdversaries')
    const key = leadKey(data) ?? `junk:${++this.#junk}`
    if (this.#messages.has(key)) return
    if (this.#messages.size >= MAX_TRACKED_MESSAGES) {
      this.#untracked++
      return
    }
    // Who could get it: honest subscribers connected to the publisher through honest nodes right now (the live
    // connection graph, so that a partition or a sparse overlay is measured as what it is).
    const reachable = this.#reachableFrom(sim)
    const expected = new Set<number>()
    const cutOff = new Set<number>()
    for (const other of this.#cluster.nodes) {
      if (other === sim || !other.honest || !other.online) continue
      const pubsub = (other.started.libp2p.services as { pubsub: InstrumentedPubSub }).pubsub
      if (!pubsub.getTopics().includes(topicName)) continue
      if (reachable.has(other.index)) expected.add(other.index)
      else cutOff.add(other.index)
    }
    const publisherPubsub = (sim.started.libp2p.services as { pubsub: InstrumentedPubSub }).pubsub
    this.#messages.set(key, {
      meshAtPublish: publisherPubsub.getMeshPeers(topicName).length,
      key,
      topic: parsed.topic,
      publisher: sim.index,
      honest: sim.honest,
      t0: performance.now(),
      expected,
      cutOff,
      arrivals: new Map(),
      receipts: 0,
    })
  }

  #delivered(sim: SimNode, delivery: GossipDelivery): void {
    const key = delivery.record.id.toString()
    const tracked = this.#messages.get(key)
    if (tracked == null || tracked.arrivals.has(sim.index)) return
    const latency = performance.now() - tracked.t0
    tracked.arrivals.set(sim.index, latency)
    if (!tracked.honest) {
      this.#onCount('gossip.junkAccepted')
      log.error('honest node %s accepted an adversary message %s on %s', sim.name, key, tracked.topic)
      return
    }
    this.#onCount('gossip.delivered')
    if (tracked.expected.has(sim.index)) {
      this.#latency.record(latency)
      let byTopic = this.#latencyByTopic.get(tracked.topic)
      if (byTopic == null) {
        byTopic = new Distribution()
        this.#latencyByTopic.set(tracked.topic, byTopic)
      }
      byTopic.record(latency)
    }
  }

  /** Honest nodes reachable from `from` over open connections through honest nodes (breadth first). */
  #reachableFrom(from: SimNode): Set<number> {
    const byPeer = new Map(this.#cluster.nodes.map((n) => [n.peerId, n]))
    const seen = new Set<number>([from.index])
    const queue = [from]
    while (queue.length > 0) {
      const current = queue.shift()!
      if (current.node == null || !current.online) continue
      for (const connection of current.node.libp2p.getConnections()) {
        const peer = byPeer.get(connection.remotePeer.toString())
        if (peer == null || !peer.honest || seen.has(peer.index) || connection.status !== 'open') continue
        seen.add(peer.index)
        queue.push(peer)
      }
    }
    return seen
  }

  /** Records this honest node accepted (for invariants over what reached it). */
  arrivalsAt(index: number): string[] {
    return [...this.#messages.values()].filter((m) => m.arrivals.has(index)).map((m) => m.key)
  }

  /** (honest message, expected node) pairs not delivered yet whose node is still up: gossip still in flight. */
  outstanding(): number {
    let n = 0
    for (const m of this.#messages.values()) {
      if (!m.honest) continue
      for (const index of m.expected) if (!m.arrivals.has(index) && this.#cluster.nodes[index]!.online) n++
    }
    return n
  }

  /** Summarise; `graceMs` is how long a message gets to reach a node before that node's later departure excuses it. */
  report(graceMs: number): GossipReport {
    let expectedPairs = 0
    let deliveredPairs = 0
    let excused = 0
    let cutOff = 0
    let fully = 0
    let minReach = 1
    let duplicates = 0
    let deliveries = 0
    let withoutMesh = 0
    const reach: Array<[number, number]> = []
    let cutInFlight = 0
    const transition = { messages: 0, expected: 0, delivered: 0 }
    const byTopic = new Map<TopicName, { expected: number; delivered: number; messages: number }>()
    const adversarial = { published: 0, acceptedByHonest: 0, messagesAccepted: 0, acceptedKeys: [] as string[] }
    const catchUpByTopic = new Map<TopicName, { pairs: number; delivered: number; delays: Distribution }>()
    const catchUpDelays = new Distribution()
    for (const m of this.#messages.values()) {
      if (!m.honest) {
        adversarial.published++
        if (m.arrivals.size > 0) {
          adversarial.messagesAccepted++
          adversarial.acceptedByHonest += m.arrivals.size
          if (adversarial.acceptedKeys.length < 20) adversarial.acceptedKeys.push(m.key)
        }
        continue
      }
      if (m.meshAtPublish === 0) withoutMesh++
      let expected = 0
      let delivered = 0
      for (const index of m.expected) {
        const got = m.arrivals.has(index)
        const node = this.#cluster.nodes[index]!
        if (!got && !node.upThroughout(m.t0, m.t0 + graceMs)) {
          excused++
          continue
        }
        if (!got && this.#cutBetween(this.#cluster.nodes[m.publisher]!, node, m.t0, m.t0 + graceMs)) {
          cutInFlight++
          continue
        }
        expected++
        if (got) delivered++
      }
      cutOff += m.cutOff.size
      // Catch-up: each cut-off node that got the message after the first heal that followed its publication.
      const heal = this.#heals.find((t) => t >= m.t0)
      for (const index of m.cutOff) {
        const t = catchUpByTopic.get(m.topic) ?? { pairs: 0, delivered: 0, delays: new Distribution() }
        catchUpByTopic.set(m.topic, t)
        t.pairs++
        const latency = m.arrivals.get(index)
        if (latency == null || heal == null) continue
        const delay = Math.max(0, m.t0 + latency - heal)
        t.delivered++
        t.delays.record(delay)
        catchUpDelays.record(delay)
      }
      const share = expected === 0 ? 1 : delivered / expected
      reach.push([Math.round((m.t0 - this.#origin()) / 100) / 10, Math.round(share * 1e4) / 1e4])
      if (this.#inTransition(m.t0)) {
        transition.messages++
        transition.expected += expected
        transition.delivered += delivered
        continue
      }
      expectedPairs += expected
      deliveredPairs += delivered
      minReach = Math.min(minReach, share)
      if (delivered === expected) fully++
      duplicates += Math.max(0, m.receipts - m.arrivals.size)
      deliveries += m.arrivals.size
      const t = byTopic.get(m.topic) ?? { expected: 0, delivered: 0, messages: 0 }
      t.expected += expected
      t.delivered += delivered
      t.messages++
      byTopic.set(m.topic, t)
    }
    const honestMessages = reach.length - transition.messages
    const refusals: Record<string, number> = {}
    for (const sim of this.#cluster.nodes) {
      if (!sim.honest || sim.node == null) continue
      try {
        for (const [code, n] of sim.node.topics.refusals) refusals[code] = (refusals[code] ?? 0) + n
      } catch {
        // a node that is down has no bus; its refusals went with it
      }
    }
    return {
      messages: honestMessages,
      reliability: expectedPairs === 0 ? 1 : Math.round((deliveredPairs / expectedPairs) * 1e6) / 1e6,
      minReach: Math.round(minReach * 1e4) / 1e4,
      fullyDelivered: fully,
      untracked: this.#untracked,
      excusedByChurn: excused,
      cutOffByPartition: cutOff,
      cutInFlight,
      transition: {
        messages: transition.messages,
        reliability:
          transition.expected === 0 ? 1 : Math.round((transition.delivered / transition.expected) * 1e6) / 1e6,
      },
      catchUp: {
        pairs: [...catchUpByTopic.values()].reduce((n, t) => n + t.pairs, 0),
        delivered: [...catchUpByTopic.values()].reduce((n, t) => n + t.delivered, 0),
        afterHealMs: catchUpDelays.summary(),
        byTopic: Object.fromEntries(
          [...catchUpByTopic].map(([topic, t]) => [
            topic,
            {
              pairs: t.pairs,
              delivered: t.delivered,
              p50: t.delays.percentile(50),
              p99: t.delays.percentile(99),
              max: t.delays.percentile(100),
            },
          ]),
        ),
      },
      latencyMs: this.#latency.summary(),
      duplicatesPerMessage: honestMessages === 0 ? 0 : Math.round((duplicates / honestMessages) * 100) / 100,
      duplicatesPerDelivery: deliveries === 0 ? 0 : Math.round((duplicates / deliveries) * 100) / 100,
      byTopic: Object.fromEntries(
        [...byTopic].map(([topic, t]) => [
          topic,
          {
            messages: t.messages,
            reliability: t.expected === 0 ? 1 : Math.round((t.delivered / t.expected) * 1e6) / 1e6,
            p50: this.#latencyByTopic.get(topic)?.percentile(50) ?? 0,
            p99: this.#latencyByTopic.get(topic)?.percentile(99) ?? 0,
          },
        ]),
      ),
      reach,
      adversarial,
      publishedWithoutMesh: withoutMesh,
      refusals,
    }
  }

  /** The topic string of a topic in this run's network. */
  topicString(topic: TopicName): string {
    return topicString(this.#cluster.network.name, topic)
  }
}

/** The lead record's id of a gossip message, or null for bytes that are no gossip message. */
function leadKey(data: Uint8Array): string | null {
  try {
    const [lead] = decodeGossipMessage(data)
    return lead == null ? null : recordId(lead).toString()
  } catch {
    return null
  }
}
