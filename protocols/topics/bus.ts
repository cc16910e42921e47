import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Clock } from '../clock.ts'
import type { Metrics } from '../metrics.ts'
import type { RecordCaps, SignedRecord } from '../records/envelope.ts'
import { RecordError } from '../records/errors.ts'
import { TopicMemory } from './knowledge.ts'
import { encodeGossipMessage } from './message.ts'
import { TOPIC_NAMES, type TopicName, topicString } from './names.ts'
import { TOPIC_SPECS } from './registry.ts'
import type { TopicSpec, TopicTrust, ValidationResult, Verdict } from './spec.ts'
import { Topic, type TopicSubscriber } from './topic.ts'

const log = logger('consort:topics')

/** The part of a gossipsub router the bus uses; `node/pubsub.ts` supplies the real one. */
export interface PubSubRouter {
  topicValidators: Map<
    string,
    (peer: PeerId, message: { topic: string; data: Uint8Array }) => Promise<ValidationResult> | ValidationResult
  >
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<{ recipients: PeerId[] }>
  getSubscribers(topic: string): PeerId[]
}

/**
 * A message this node accepted (it passed every check) or published itself: what a catch-up log keeps so that peers
 * that were away can ask for it later (`protocols/sync`).
 */
export interface Acceptance {
  topic: TopicName
  /** The gossip message's bytes, exactly as they travel. */
  data: Uint8Array
  record: SignedRecord
  /** `gossip` from a peer's gossip, `sync` from a catch-up answer, `local` published by this node. */
  via: 'gossip' | 'sync' | 'local'
}

/** A refusal, reported so that operators (and tests) can see why a message went no further. */
export interface Refusal {
  topic: TopicName
  result: 'ignore' | 'reject'
  code: string
  reason: string
  from: PeerId
}

export interface TopicBusInit {
  router: PubSubRouter
  network: string
  clock: Clock
  trust: TopicTrust
  caps?: RecordCaps
  /** The network record's cap on any gossip message, in bytes; each topic's own cap is never larger. */
  messageBytes?: number
  /** Counts every verdict by topic and code (`consort_gossip_messages_total`), drops and queue depths. */
  metrics?: Metrics
  /** Specs to use instead of the network's own for some topics (a test's topic with a tiny queue). */
  specs?: Partial<Record<TopicName, TopicSpec>>
}

/** How long a publish waits for a first peer on the topic (a few gossipsub heartbeats after connecting). */
export const DEFAULT_PUBLISH_WAIT_MS = 2_000
const PUBLISH_WAIT_POLL_MS = 50

/**
 * The node's gossip front door: one `Topic` per topic of the network (`registry.ts`), each running its spec's
 * checks as gossipsub's validator, so that a message gets the same verdict on every node whatever roles it plays, and
 * its bounded queue in front of the subscribers. Anything refused is reported as a `Refusal` and answers `reject` (or
 * `ignore` for what only some nodes can know), so that gossipsub's peer scoring punishes senders of bad data and no
 * one else. Events: `refused` (a `Refusal`), `accepted` (an `Acceptance`).
 */
export class TopicBus extends EventTarget {
  readonly #init: TopicBusInit
  readonly #memory = new TopicMemory()
  readonly #topics = new Map<TopicName, Topic>()
  readonly #refusalCounts = new Map<string, number>()
  readonly #stopCollecting: () => void

  constructor(init: TopicBusInit) {
    super()
    this.#init = init
    for (const name of TOPIC_NAMES) {
      const spec = init.specs?.[name] ?? TOPIC_SPECS[name]
      this.#topics.set(
        name,
        new Topic(spec, {
          network: init.network,
          clock: init.clock,
          trust: init.trust,
          memory: this.#memory,
          ...(init.caps != null ? { caps: init.caps } : {}),
          ...(init.messageBytes != null ? { networkMessageBytes: init.messageBytes } : {}),
          onDrop: (delivery) => {
            log('%s: dropped %s from the full delivery queue', name, delivery.record.id)
            init.metrics?.increment('consort_gossip_dropped_total', { topic: name })
          },
        }),
      )
    }
    this.#stopCollecting =
      init.metrics?.collect('consort_queue_depth_items', () =>
        [...this.#topics.values()].map((topic) => ({
          labels: { queue: `gossip-${topic.name}` },
          value: topic.queueDepth,
        })),
      ) ?? (() => {})
  }

  /** Refusals seen so far, by code. */
  get refusals(): ReadonlyMap<string, number> {
    return this.#refusalCounts
  }

  /** What this node knows of its topics' records (newest versions, signers, revocations), whatever its roles. */
  get memory(): TopicMemory {
    return this.#memory
  }

  /** One topic of the network, as this node runs it. */
  topic(name: TopicName): Topic {
    return this.#topics.get(name)!
  }

  /** The topics this node follows (some subscriber of its roles or of the node itself). */
  subscribedTopics(): TopicName[] {
    return [...this.#topics.values()].filter((t) => t.subscriberCount > 0).map((t) => t.name)
  }

  subscribe(name: TopicName, subscriber: TopicSubscriber): () => void {
    const topic = this.topic(name)
    if (topic.subscriberCount === 0) {
      const wire = topicString(this.#init.network, name)
      this.#init.router.topicValidators.set(wire, (peer, message) => this.#validate(topic, peer, message.data))
      this.#init.router.subscribe(wire)
    }
    topic.add(subscriber)
    return () => {
      if (!topic.remove(subscriber) || topic.subscriberCount > 0) return
      const wire = topicString(this.#init.network, name)
      this.#init.router.unsubscribe(wire)
      this.#init.router.topicValidators.delete(wire)
    }
  }

  /**
   * Publish a record with its attachments; answers how many peers it was sent to. A node that has just started
   * may not yet know who follows the topic (subscriptions arrive a moment after a connection opens), and
   * gossipsub would send the message to nobody — and, since its id is its content, refuse the same message again
   * as a duplicate for minutes. So when no peer is known to follow the topic, publishing waits a little
   * (`waitForPeersMs`) for one to appear. Publishing to a topic nobody follows is not an error.
   */
  async publish(
    name: TopicName,
    record: SignedRecord,
    attachments: readonly SignedRecord[] = [],
    options: { waitForPeersMs?: number } = {},
  ): Promise<number> {
    const topic = this.topic(name)
    if (!topic.spec.leads.includes(record.type)) {
      throw new RecordError('type', `${record.type} cannot be published on ${name}`)
    }
    const wire = topicString(this.#init.network, name)
    const deadline = performance.now() + (options.waitForPeersMs ?? DEFAULT_PUBLISH_WAIT_MS)
    while (this.#init.router.getSubscribers(wire).length === 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, PUBLISH_WAIT_POLL_MS))
    }
    const data = encodeGossipMessage([record.bytes, ...attachments.map((a) => a.bytes)])
    const result = await this.#init.router.publish(wire, data)
    // This node's own versions and revocations count for what it accepts next, as a peer's would.
    topic.remember(record)
    this.#accepted({ topic: name, data, record, via: 'local' })
    return result.recipients.length
  }

  /**
   * Take in a message that arrived another way than gossip (a catch-up answer from a peer): the same checks as a
   * gossip message, then the same queue — waiting for room rather than refusing, since the puller can wait — and
   * the delivery awaited, so that messages taken in one after another reach the roles in that order (a contract
   * before the offers under it). Answers the verdict.
   */
  async ingest(name: TopicName, data: Uint8Array, from: PeerId): Promise<ValidationResult> {
    const topic = this.topic(name)
    if (topic.subscriberCount === 0) return 'ignore'
    const { verdict, delivery } = await topic.judge(data, from)
    if (verdict.result !== 'accept' || delivery == null) return this.#refuse(topic, verdict, from)
    const admitted = await topic.admitWhenRoom(delivery, data.length)
    if (admitted.verdict.result !== 'accept') return this.#refuse(topic, admitted.verdict, from)
    this.#count(topic, 'accept', '')
    this.#accepted({ topic: name, data, record: delivery.record, via: 'sync' })
    await admitted.outcome
    return 'accept'
  }

  /** Resolves once every message accepted so far has reached the subscribers. */
  async idle(): Promise<void> {
    await Promise.all([...this.#topics.values()].map((topic) => topic.idle()))
  }

  stop(): void {
    this.#stopCollecting()
    for (const topic of this.#topics.values()) {
      const followed = topic.subscriberCount > 0
      topic.close()
      if (!followed) continue
      const wire = topicString(this.#init.network, topic.name)
      this.#init.router.unsubscribe(wire)
      this.#init.router.topicValidators.delete(wire)
    }
  }

  /** gossipsub's validator for one topic: judge, then admit into the queue now or never. */
  async #validate(topic: Topic, from: PeerId, data: Uint8Array): Promise<ValidationResult> {
    const { verdict, delivery } = await topic.judge(data, from)
    if (verdict.result !== 'accept' || delivery == null) return this.#refuse(topic, verdict, from)
    const admitted = topic.admit(delivery, data.length)
    if (admitted.verdict.result !== 'accept') return this.#refuse(topic, admitted.verdict, from)
    this.#count(topic, 'accept', '')
    this.#accepted({ topic: topic.name, data, record: delivery.record, via: 'gossip' })
    return 'accept'
  }

  #refuse(topic: Topic, verdict: Verdict, from: PeerId): ValidationResult {
    if (verdict.result === 'accept') return 'accept'
    const refusal: Refusal = {
      topic: topic.name,
      result: verdict.result,
      code: verdict.code,
      reason: verdict.reason,
      from,
    }
    this.#refusalCounts.set(refusal.code, (this.#refusalCounts.get(refusal.code) ?? 0) + 1)
    this.#count(topic, refusal.result, refusal.code)
    log('%s %s from %p: %s %s', refusal.result, refusal.topic, refusal.from, refusal.code, refusal.reason)
    this.dispatchEvent(new CustomEvent<Refusal>('refused', { detail: refusal }))
    return refusal.result
  }

  #count(topic: Topic, verdict: ValidationResult, code: string): void {
    this.#init.metrics?.increment('consort_gossip_messages_total', { topic: topic.name, verdict, code })
  }

  #accepted(acceptance: Acceptance): void {
    this.dispatchEvent(new CustomEvent<Acceptance>('accepted', { detail: acceptance }))
  }
}

// What subscribers import from the bus: one module for the front door's types.
export type { GossipDelivery, ValidationResult, Verdict } from './spec.ts'
export type { TopicSubscriber } from './topic.ts'
