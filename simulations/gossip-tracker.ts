import * as dagCbor from '@ipld/dag-cbor'
import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { recordId } from '../protocols/records/envelope.ts'
import type { GossipDelivery } from '../protocols/topics/bus.ts'
import { decodeGossipMessage } from '../protocols/topics/message.ts'
import { parseTopicString, type TopicName, topicString } from '../protocols/topics/names.ts'
import { type Cluster, HOSTILE_BUYER_KINDS, type SimNode } from './cluster.ts'
import { Distribution, type DistributionSummary } from './metrics.ts'
import { mapRows, millis, seconds, type Table } from './report/tables.ts'
import { percentile } from './statistics.ts'

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
  /** The lead record's type (`consort/offer`…): catch-up is measured per record type. */
  type: string
  publisher: number
  honest: boolean
  t0: number
  /** Honest nodes that follow the topic and are up at publish time: every one should receive it. */
  expected: Set<number>
  /** Those of them the publisher could not reach at publish time (a partition, no path over open connections). */
  unreachable: Set<number>
  arrivals: Map<number, number>
  receipts: number
  /** The publisher's gossip mesh peers on the topic when it published. */
  meshAtPublish: number
}

export interface GossipReport {
  /** Messages published by honest nodes (and followed). */
  messages: number
  /**
   * Delivered (message, node) pairs over expected pairs, over the honest messages: every honest node up and
   * following the topic when the message was published, reachable from its publisher or not (only a node that went
   * down before it could receive the message is left out, as `excusedByChurn`).
   */
  reliability: number
  /** The same over the pairs whose node the publisher could reach when it published (open connections, no cut). */
  reachable: { pairs: number; delivered: number; reliability: number }
  /** Pairs whose node the publisher could not reach at publish time, and how many of them got it later anyway. */
  unreachable: { pairs: number; deliveredLater: number }
  /** The smallest share of expected nodes one honest message reached. */
  minReach: number
  /** Honest messages that reached every expected node. */
  fullyDelivered: number
  /** Messages published after the tracker was full (MAX_TRACKED_MESSAGES): counted, not followed. */
  untracked: number
  /** Expected pairs whose node left (churn, a kill) before the message reached it: not counted. */
  excusedByChurn: number
  latencyMs: DistributionSummary
  /** Copies beyond the first that honest nodes received, per message and per receiving node. */
  duplicatesPerMessage: number
  duplicatesPerDelivery: number
  byTopic: Record<string, { messages: number; reliability: number; p50: number; p99: number }>
  /** By the receiving node's group: its pairs, their reliability and latency percentiles (ms). */
  byGroup: Record<string, { pairs: number; reliability: number; p50: number; p99: number }>
  /** Each honest message's publish time (s since the workload started) and reach (share of expected nodes). */
  reach: Array<[number, number]>
  /** Expected pairs a partition separated while the message was spreading (counted; reported apart). */
  cutInFlight: number
  /** Messages published within TRANSITION_MS of a heal or a rejoin (counted; their own figure reported apart). */
  transition: { messages: number; reliability: number }
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

/** A record a node missed while it was away (cut off or down), and when it had it after coming back. */
export interface CatchUpPair {
  key: string
  type: string
  topic: TopicName
  node: SimNode
  cause: 'partition' | 'down'
  publishedAt: number
  /** performance.now() when the node could get it again (the heal, its restart or rejoin). */
  returnedAt: number
  /** From its return to holding the record; null when it never did. */
  caughtUpMs: number | null
}

export interface CatchUpReport {
  pairs: number
  caughtUp: number
  byType: Record<
    string,
    { pairs: number; caughtUp: number; p50: number | null; p99: number | null; max: number | null }
  >
}

/** One (honest message, expected node) pair and what became of it. */
export interface DeliveryPair {
  key: string
  topic: TopicName
  publisher: SimNode
  receiver: SimNode
  /** performance.now() at the publish call. */
  publishedAt: number
  /** Publish call to acceptance by the receiver's validators; null when it never arrived. */
  latencyMs: number | null
  /** Whether the publisher could reach the receiver when it published. */
  reachable: boolean
  /** It never arrived, and the receiver went down before it could have (not counted). */
  excused: boolean
  /** It never arrived, and a partition separated the two while it spread. */
  cutInFlight: boolean
  /** Published within TRANSITION_MS of a heal or a rejoin. */
  transition: boolean
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
  /**
   * Records hostile buyers published (valid usage reports): not measured, and not junk when an adversary publishes
   * the same record again (a replayer capturing a store wiper's report off the topic).
   */
  readonly #unmeasured = new Set<string>()
  readonly #latency = new Distribution()
  readonly #latencyByTopic = new Map<TopicName, Distribution>()
  readonly #onCount: (name: string, n?: number) => void
  #untracked = 0
  #junk = 0

  readonly #origin: () => number
  readonly #partitions: Array<{ at: number; sides: ReadonlyMap<string, number> }> = []

  readonly #blocked: (a: string, b: string) => boolean

  /** `blocked(a, b)`: whether a partition separates two peers now (the fabric's answer). */
  constructor(
    cluster: Cluster,
    measureTopics: readonly TopicName[],
    onCount: (name: string, n?: number) => void,
    origin: () => number,
    blocked: (a: string, b: string) => boolean = () => false,
  ) {
    this.#cluster = cluster
    this.#topics = measureTopics
    this.#onCount = onCount
    this.#origin = origin
    this.#blocked = blocked
  }

  readonly #transitions: number[] = []

  /** The runner tells of each change that rebuilds meshes (a heal, a restart, a rejoin) as it happens. */
  noteTransition(): void {
    this.#transitions.push(performance.now())
  }

  #inTransition(t0: number): boolean {
    return this.#transitions.some((t) => t0 >= t && t0 <= t + TRANSITION_MS)
  }

  /** The runner tells of each partition (sides by peer id) as it cuts. */
  notePartition(sides: ReadonlyMap<string, number>): void {
    this.#partitions.push({ at: performance.now(), sides })
  }

  readonly #heals: number[] = []

  /** The runner tells of each heal as it happens. */
  noteHeal(): void {
    this.#heals.push(performance.now())
  }

  /**
   * Catch-up: every (honest message, honest node) pair where the node could not get the message when it was
   * published — cut off by a partition, or down — and came back before the end (the heal, its restart or rejoin),
   * and is up at the end. A node that catches up holds the record by the end; how long it took is counted from its
   * return. Measured whatever brings the record (gossip, a re-announcement, a sync protocol).
   */
  *catchUpPairs(): Generator<CatchUpPair> {
    const following = new Map<number, string[]>()
    for (const node of this.#cluster.nodes)
      if (node.honest && node.online)
        following.set(node.index, (node.started.libp2p.services as { pubsub: InstrumentedPubSub }).pubsub.getTopics())
    for (const m of this.#messages.values()) {
      // The measured topics: the records every node should hold (usage reports reach clearinghouses by request).
      if (!m.honest || !this.#topics.includes(m.topic)) continue
      const topic = this.topicString(m.topic)
      for (const node of this.#cluster.nodes) {
        if (!node.honest || node.index === m.publisher || !node.online) continue
        if (following.get(node.index)?.includes(topic) !== true) continue
        let returnedAt: number | null = null
        let cause: CatchUpPair['cause'] = 'partition'
        if (m.unreachable.has(node.index)) {
          returnedAt = this.#heals.find((h) => h >= m.t0) ?? null
        } else if (!m.expected.has(node.index)) {
          const away = node.downtime.find((d) => d.from <= m.t0 && d.to != null && d.to >= m.t0)
          if (away == null) continue
          returnedAt = away.to
          cause = 'down'
        }
        if (returnedAt == null) continue
        const latency = m.arrivals.get(node.index)
        const arrivedAt = latency === undefined ? null : m.t0 + latency
        yield {
          key: m.key,
          type: m.type,
          topic: m.topic,
          node,
          cause,
          publishedAt: m.t0,
          returnedAt,
          caughtUpMs: arrivedAt === null ? null : Math.max(0, arrivedAt - returnedAt),
        }
      }
    }
  }

  /** Catch-up by record type: pairs, caught up, and the delay from the node's return (p50/p99/max, ms). */
  catchUp(): CatchUpReport {
    const byType = new Map<string, { pairs: number; caughtUp: number; delays: number[] }>()
    for (const pair of this.catchUpPairs()) {
      const t = byType.get(pair.type) ?? { pairs: 0, caughtUp: 0, delays: [] }
      t.pairs++
      if (pair.caughtUpMs !== null) {
        t.caughtUp++
        t.delays.push(pair.caughtUpMs)
      }
      byType.set(pair.type, t)
    }
    const round = (x: number) => Math.round(x * 100) / 100
    const types = [...byType].sort((a, b) => (a[0] < b[0] ? -1 : 1))
    return {
      pairs: types.reduce((n, [, t]) => n + t.pairs, 0),
      caughtUp: types.reduce((n, [, t]) => n + t.caughtUp, 0),
      byType: Object.fromEntries(
        types.map(([type, t]) => [
          type,
          {
            pairs: t.pairs,
            caughtUp: t.caughtUp,
            p50: t.delays.length === 0 ? null : round(percentile(t.delays, 50)),
            p99: t.delays.length === 0 ? null : round(percentile(t.delays, 99)),
            max: t.delays.length === 0 ? null : round(Math.max(...t.delays)),
          },
        ]),
      ),
    }
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
      if (HOSTILE_BUYER_KINDS.has(sim.spec.kind)) this.#leaveOut(data)
      else this.#published(sim, topic, data)
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
    // Every topic's own rule checks what arrives (offers: certified, fresh, unrevoked), whoever subscribes.
    for (const topic of this.#topics) {
      node.topics.subscribe(topic, { onMessage: (delivery) => this.#delivered(sim, delivery) })
    }
    // Topics the node's roles follow: listen to them too (adding a subscriber changes no subscription).
    for (const name of pubsub.getTopics()) {
      const parsed = parseTopicString(name)
      if (parsed == null || this.#topics.includes(parsed.topic)) continue
      node.topics.subscribe(parsed.topic, { onMessage: (delivery) => this.#delivered(sim, delivery) })
    }
  }

  #leaveOut(data: Uint8Array): void {
    const key = leadKey(data)
    if (key != null && !this.#messages.has(key)) this.#unmeasured.add(key)
  }

  #published(sim: SimNode, topicName: string, data: Uint8Array): void {
    const parsed = parseTopicString(topicName)
    if (parsed == null) return
    this.#onCount(sim.honest ? 'gossip.published' : 'gossip.publishedByAdversaries')
    const key = leadKey(data) ?? `junk:${++this.#junk}`
    if (this.#messages.has(key) || this.#unmeasured.has(key)) return
    if (this.#messages.size >= MAX_TRACKED_MESSAGES) {
      this.#untracked++
      return
    }
    // Who should get it: every honest node up and following the topic. Who could get it now: those connected to
    // the publisher through honest nodes over open connections not across a cut (reported apart).
    const reachable = this.#reachableFrom(sim)
    const expected = new Set<number>()
    const unreachable = new Set<number>()
    for (const other of this.#cluster.nodes) {
      if (other === sim || !other.honest || !other.online) continue
      const pubsub = (other.started.libp2p.services as { pubsub: InstrumentedPubSub }).pubsub
      if (!pubsub.getTopics().includes(topicName)) continue
      expected.add(other.index)
      if (!reachable.has(other.index)) unreachable.add(other.index)
    }
    const publisherPubsub = (sim.started.libp2p.services as { pubsub: InstrumentedPubSub }).pubsub
    this.#messages.set(key, {
      meshAtPublish: publisherPubsub.getMeshPeers(topicName).length,
      key,
      topic: parsed.topic,
      type: leadType(data),
      publisher: sim.index,
      honest: sim.honest,
      t0: performance.now(),
      expected,
      unreachable,
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
        if (this.#blocked(current.peerId, peer.peerId)) continue
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

  /**
   * Every (honest message, expected node) pair with what became of it, for the delivery table and the summary.
   * `graceMs`: how long a message has to reach a node before that node's going down excuses the miss.
   */
  *pairs(graceMs: number): Generator<DeliveryPair> {
    for (const m of this.#messages.values()) {
      if (!m.honest) continue
      const publisher = this.#cluster.nodes[m.publisher]!
      const transition = this.#inTransition(m.t0)
      for (const index of [...m.expected].sort((a, b) => a - b)) {
        const node = this.#cluster.nodes[index]!
        const latency = m.arrivals.get(index)
        const got = latency !== undefined
        yield {
          key: m.key,
          topic: m.topic,
          publisher,
          receiver: node,
          publishedAt: m.t0,
          latencyMs: got ? latency : null,
          reachable: !m.unreachable.has(index),
          excused: !got && !node.upThroughout(m.t0, m.t0 + graceMs),
          cutInFlight: !got && this.#cutBetween(publisher, node, m.t0, m.t0 + graceMs),
          transition,
        }
      }
    }
  }

  /** Summarise; `graceMs` is how long a message has to reach a node before that node's departure excuses it. */
  report(graceMs: number): GossipReport {
    let counted = 0
    let delivered = 0
    const reachable = { pairs: 0, delivered: 0 }
    const unreachable = { pairs: 0, deliveredLater: 0 }
    let excused = 0
    let cutInFlight = 0
    let fully = 0
    let minReach = 1
    let duplicates = 0
    let deliveries = 0
    let withoutMesh = 0
    const reach: Array<[number, number]> = []
    const transition = { messages: 0, expected: 0, delivered: 0 }
    const byTopic = new Map<TopicName, { expected: number; delivered: number; messages: number }>()
    const adversarial = { published: 0, acceptedByHonest: 0, messagesAccepted: 0, acceptedKeys: [] as string[] }
    const perMessage = new Map<string, { expected: number; delivered: number }>()
    const groups = new Map<string, { pairs: number; delivered: number; latencies: number[] }>()
    for (const pair of this.pairs(graceMs)) {
      if (pair.excused) {
        excused++
        continue
      }
      const got = pair.latencyMs !== null
      counted++
      if (got) delivered++
      const g = groups.get(pair.receiver.spec.group) ?? { pairs: 0, delivered: 0, latencies: [] }
      g.pairs++
      if (got) {
        g.delivered++
        g.latencies.push(pair.latencyMs!)
      }
      groups.set(pair.receiver.spec.group, g)
      if (pair.reachable) {
        reachable.pairs++
        if (got) reachable.delivered++
      } else {
        unreachable.pairs++
        if (got) unreachable.deliveredLater++
      }
      if (pair.cutInFlight) cutInFlight++
      const m = perMessage.get(pair.key) ?? { expected: 0, delivered: 0 }
      m.expected++
      if (got) m.delivered++
      perMessage.set(pair.key, m)
    }
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
      const counts = perMessage.get(m.key) ?? { expected: 0, delivered: 0 }
      const share = counts.expected === 0 ? 1 : counts.delivered / counts.expected
      reach.push([Math.round((m.t0 - this.#origin()) / 100) / 10, Math.round(share * 1e4) / 1e4])
      minReach = Math.min(minReach, share)
      if (counts.delivered === counts.expected) fully++
      duplicates += Math.max(0, m.receipts - m.arrivals.size)
      deliveries += m.arrivals.size
      if (this.#inTransition(m.t0)) {
        transition.messages++
        transition.expected += counts.expected
        transition.delivered += counts.delivered
      }
      const t = byTopic.get(m.topic) ?? { expected: 0, delivered: 0, messages: 0 }
      t.expected += counts.expected
      t.delivered += counts.delivered
      t.messages++
      byTopic.set(m.topic, t)
    }
    const honestMessages = reach.length
    const refusals: Record<string, number> = {}
    for (const sim of this.#cluster.nodes) {
      if (!sim.honest || sim.node == null) continue
      try {
        for (const [code, n] of sim.node.topics.refusals) refusals[code] = (refusals[code] ?? 0) + n
      } catch {
        // a node that is down has no bus; its refusals went with it
      }
    }
    const ratio = (x: number, of: number) => (of === 0 ? 1 : Math.round((x / of) * 1e6) / 1e6)
    return {
      messages: honestMessages,
      reliability: ratio(delivered, counted),
      reachable: { ...reachable, reliability: ratio(reachable.delivered, reachable.pairs) },
      unreachable,
      minReach: Math.round(minReach * 1e4) / 1e4,
      fullyDelivered: fully,
      untracked: this.#untracked,
      excusedByChurn: excused,
      cutInFlight,
      transition: { messages: transition.messages, reliability: ratio(transition.delivered, transition.expected) },
      latencyMs: this.#latency.summary(),
      duplicatesPerMessage: honestMessages === 0 ? 0 : Math.round((duplicates / honestMessages) * 100) / 100,
      duplicatesPerDelivery: deliveries === 0 ? 0 : Math.round((duplicates / deliveries) * 100) / 100,
      byTopic: Object.fromEntries(
        [...byTopic]
          .sort((a, b) => (a[0] < b[0] ? -1 : 1))
          .map(([topic, t]) => [
            topic,
            {
              messages: t.messages,
              reliability: ratio(t.delivered, t.expected),
              p50: this.#latencyByTopic.get(topic)?.percentile(50) ?? 0,
              p99: this.#latencyByTopic.get(topic)?.percentile(99) ?? 0,
            },
          ]),
      ),
      byGroup: Object.fromEntries(
        [...groups]
          .sort((a, b) => (a[0] < b[0] ? -1 : 1))
          .map(([group, g]) => [
            group,
            {
              pairs: g.pairs,
              reliability: ratio(g.delivered, g.pairs),
              p50: Math.round(percentile(g.latencies, 50) * 100) / 100 || 0,
              p99: Math.round(percentile(g.latencies, 99) * 100) / 100 || 0,
            },
          ]),
      ),
      reach,
      adversarial,
      publishedWithoutMesh: withoutMesh,
      refusals: Object.fromEntries(Object.entries(refusals).sort((a, b) => (a[0] < b[0] ? -1 : 1))),
    }
  }

  /** The delivery and message tables (`deliveries.csv`, `messages.csv`); `origin`: the workload's start. */
  tables(origin: number, graceMs: number): Table[] {
    return [
      {
        name: 'deliveries',
        row: 'one (honest message, honest node that should receive it) pair: every node up and following the topic at publish time',
        columns: [
          'message',
          'topic',
          'publisher',
          'publisher_group',
          'receiver',
          'receiver_group',
          'published_s',
          'delivered',
          'latency_ms',
          'reachable_at_publish',
          'excused_down',
          'cut_in_flight',
          'after_change',
        ],
        rows: () =>
          mapRows(this.pairs(graceMs), (p) => [
            p.key,
            p.topic,
            p.publisher.name,
            p.publisher.spec.group,
            p.receiver.name,
            p.receiver.spec.group,
            seconds(p.publishedAt, origin),
            p.latencyMs !== null,
            millis(p.latencyMs),
            p.reachable,
            p.excused,
            p.cutInFlight,
            p.transition,
          ]),
      },
      {
        name: 'catchup',
        row: 'one record a node missed while it was away (cut off by a partition, or down) and came back before the end',
        columns: [
          'message',
          'record_type',
          'topic',
          'node',
          'group',
          'cause',
          'published_s',
          'returned_s',
          'caught_up',
          'catch_up_ms',
        ],
        rows: () =>
          mapRows(this.catchUpPairs(), (p) => [
            p.key,
            p.type,
            p.topic,
            p.node.name,
            p.node.spec.group,
            p.cause,
            seconds(p.publishedAt, origin),
            seconds(p.returnedAt, origin),
            p.caughtUpMs !== null,
            millis(p.caughtUpMs),
          ]),
      },
      {
        name: 'messages',
        row: 'one message published on a measured topic, honest or adversarial',
        columns: [
          'message',
          'topic',
          'publisher',
          'publisher_group',
          'honest',
          'published_s',
          'expected',
          'accepted',
          'unreachable_at_publish',
          'copies_received',
          'mesh_peers_at_publish',
        ],
        rows: () =>
          mapRows(this.#messages.values(), (m) => {
            const publisher = this.#cluster.nodes[m.publisher]!
            return [
              m.key,
              m.topic,
              publisher.name,
              publisher.spec.group,
              m.honest,
              seconds(m.t0, origin),
              m.expected.size,
              m.arrivals.size,
              m.unreachable.size,
              m.receipts,
              m.meshAtPublish,
            ]
          }),
      },
    ]
  }

  /** The topic string of a topic in this run's network. */
  topicString(topic: TopicName): string {
    return topicString(this.#cluster.network.name, topic)
  }
}

/** The lead record's type (`consort/offer`…) of a gossip message, or `junk` for bytes that are none. */
function leadType(data: Uint8Array): string {
  try {
    const [lead] = decodeGossipMessage(data)
    const type = lead == null ? null : (dagCbor.decode(lead) as { type?: unknown }).type
    return typeof type === 'string' ? type : 'junk'
  } catch {
    return 'junk'
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
