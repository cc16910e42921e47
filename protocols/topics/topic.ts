import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import type { Clock } from '../clock.ts'
import { isError } from '../errors.ts'
import { DEFAULT_RECORD_CAPS, decodeRecord, type RecordCaps, type SignedRecord } from '../records/envelope.ts'
import { isRecordError, RecordError } from '../records/errors.ts'
import { VerifiedRecords } from '../records/verified.ts'
import { MESSAGE_TOO_LARGE, MessageTooLargeError } from './errors.ts'
import { type Head, type Knowledge, sequenceVerdict, type TopicLookups, type TopicMemory } from './knowledge.ts'
import { decodeGossipMessage } from './message.ts'
import { DeliveryQueue, type QueueOutcome } from './queue.ts'
import {
  ACCEPT,
  type GossipDelivery,
  ignore,
  type JudgeContext,
  reject,
  type TopicSpec,
  type TopicTrust,
  type Verdict,
} from './spec.ts'

/** Attachments a topic remembers as verified (certificates: a few hundred bytes each). */
const ATTACHMENTS_REMEMBERED = 1024
const log = logger('consort:topics')

/** Refusal codes of the checks every topic shares (each topic's own rule has its own codes). */
export const TOPIC_CODES = {
  tooLarge: MESSAGE_TOO_LARGE,
  malformed: 'ERR_MALFORMED_MESSAGE',
  /** The topic's delivery queue is full and refuses the newest message (see `QueuePolicy.whenFull`). */
  queueFull: 'ERR_QUEUE_FULL',
  /** A check could not run to its end (a subscriber's lookup failed): nothing is known against the message. */
  checkFailed: 'ERR_CHECK_FAILED',
} as const

/** One follower of a topic on this node: a role, the node itself, a tool. */
export interface TopicSubscriber {
  /** What this subscriber's store knows, for the topic's rule to consult (state, never rules). */
  lookups?: TopicLookups
  /** Runs for every message the topic accepted, from its delivery queue. */
  onMessage(delivery: GossipDelivery): void | Promise<void>
}

export interface TopicInit {
  network: string
  clock: Clock
  trust: TopicTrust
  memory: TopicMemory
  caps?: RecordCaps
  /** The network record's cap on any gossip message; a topic's own cap is never larger. */
  networkMessageBytes?: number
  /** Told of each message dropped from the queue unseen (`drop-oldest`, or waiting when the topic stopped). */
  onDrop?: (delivery: GossipDelivery) => void
}

/** A message judged by a topic: its verdict, and the decoded message when it passed the checks. */
export interface Judgement {
  verdict: Verdict
  delivery?: GossipDelivery
}

/**
 * One gossip topic on one node: its spec, the subscribers of this node's roles, and the bounded queue between them.
 * `judge` is the one check every node runs for every message of the topic, whether it came by gossip or by catch-up
 * and whatever roles the node plays; subscribers only add what their stores know (`TopicSubscriber.lookups`).
 */
export class Topic {
  readonly spec: TopicSpec
  readonly #init: TopicInit
  readonly #subscribers = new Set<TopicSubscriber>()
  readonly #queue: DeliveryQueue<GossipDelivery>
  readonly #knowledge: Knowledge
  /**
   * Attachments this node verified before (a retailer's certificate comes with each of its offers, a reference
   * service's with each revocation): checked once, then only for what depends on the time (`VerifiedRecords`).
   */
  readonly #attachments = new VerifiedRecords(ATTACHMENTS_REMEMBERED)

  constructor(spec: TopicSpec, init: TopicInit) {
    this.spec = spec
    this.#init = init
    this.#queue = new DeliveryQueue(spec.queue, (delivery) => this.#deliver(delivery), init.onDrop)
    this.#knowledge = {
      head: (record, version) => this.#head(record, version.key),
      revokers: (id) => this.#revokers(id),
      signerOf: (id) => this.#signerOf(id),
    }
  }

  get name() {
    return this.spec.name
  }

  /** The largest message this topic takes: its own cap, never more than the network's. */
  get maxMessageBytes(): number {
    return Math.min(this.spec.maxMessageBytes, this.#init.networkMessageBytes ?? this.spec.maxMessageBytes)
  }

  /** Messages held in the delivery queue (waiting or being delivered). */
  get queueDepth(): number {
    return this.#queue.depth
  }

  get subscriberCount(): number {
    return this.#subscribers.size
  }

  add(subscriber: TopicSubscriber): void {
    this.#subscribers.add(subscriber)
  }

  /** Answers whether it was a subscriber. */
  remove(subscriber: TopicSubscriber): boolean {
    return this.#subscribers.delete(subscriber)
  }

  /** Decode and verify a message's records; throws a RecordError naming the fault. */
  decode(data: Uint8Array, from: PeerId): GossipDelivery {
    const max = this.maxMessageBytes
    if (data.length > max) {
      throw new MessageTooLargeError('message', `${data.length} bytes exceeds the ${this.name} topic's cap of ${max}`)
    }
    const [leadBytes, ...attachmentBytes] = decodeGossipMessage(data)
    const options = {
      network: this.#init.network,
      now: this.#init.clock.now(),
      caps: this.#init.caps ?? DEFAULT_RECORD_CAPS,
    }
    const record = decodeRecord(leadBytes!, options)
    if (!this.spec.leads.includes(record.type)) {
      throw new RecordError('type', `${record.type} does not belong on topic ${this.name}`)
    }
    const attachments = attachmentBytes.map((bytes, i) => {
      const attachment = this.#attachments.decode(bytes, options)
      if (!this.spec.attachments.includes(attachment.type)) {
        throw new RecordError(`message.records.${i + 1}`, `${attachment.type} cannot be attached on ${this.name}`)
      }
      return attachment
    })
    return { topic: this.name, record, attachments, from }
  }

  /**
   * Every check but the room in the queue, in order, cheapest and most certain first: size, decoding, signer trust,
   * the topic's rule over the message (`validate`), then what this node knows (`judge`, the sequence rule).
   */
  async judge(data: Uint8Array, from: PeerId): Promise<Judgement> {
    let delivery: GossipDelivery
    try {
      delivery = this.decode(data, from)
    } catch (err) {
      const code = isRecordError(err) || isError(err, MessageTooLargeError) ? err.code : TOPIC_CODES.malformed
      return { verdict: reject(code, (err as Error).message) }
    }
    const trust = this.#init.trust.check(delivery.record, delivery.attachments)
    if (!trust.ok) return { verdict: reject(trust.code, trust.reason) }
    const context: JudgeContext = { trust: this.#init.trust, now: this.#init.clock.now(), knows: this.#knowledge }
    try {
      const valid = this.spec.validate?.(delivery, context) ?? ACCEPT
      if (valid.result !== 'accept') return { verdict: valid }
      const judged = (await this.spec.judge?.(delivery, context)) ?? ACCEPT
      // Only `validate` may reject: a rule that depends on what a node knows must never punish a sender.
      if ((judged.result as string) === 'reject') throw new Error(`the ${this.name} topic's judge rejected`)
      if (judged.result !== 'accept') return { verdict: judged }
      const version = this.spec.version?.(delivery.record)
      if (version != null) {
        const head = await this.#head(delivery.record, version.key)
        const sequence = sequenceVerdict(version, delivery.record.id.toString(), head)
        if (sequence.result !== 'accept') return { verdict: sequence }
      }
    } catch (err) {
      log.error('a check on %s failed: %e', this.name, err)
      return { verdict: ignore(TOPIC_CODES.checkFailed, (err as Error).message) }
    }
    return { verdict: ACCEPT, delivery }
  }

  /**
   * Take a judged message into the queue, now or never: the sequence rule once more against memory (another message
   * may have become the newest version while this one was judged), then room in the queue. Synchronous, so that
   * what it remembers and what it queues cannot come apart. Answers the verdict and, when accepted, the delivery's
   * outcome.
   */
  admit(delivery: GossipDelivery, bytes: number): { verdict: Verdict; outcome?: Promise<QueueOutcome> } {
    if (!this.#queue.admits(bytes)) {
      const reason = this.#queue.closed
        ? 'the topic is stopping'
        : `the delivery queue holds ${this.#queue.depth} messages`
      return { verdict: ignore(TOPIC_CODES.queueFull, reason) }
    }
    const remembered = this.remember(delivery.record)
    if (remembered.result !== 'accept') return { verdict: remembered }
    const outcome = this.#queue.push(delivery, bytes)!
    return { verdict: ACCEPT, outcome }
  }

  /** Like `admit`, but waits for room in the queue instead of refusing (a catch-up pull can wait; gossip cannot). */
  async admitWhenRoom(
    delivery: GossipDelivery,
    bytes: number,
  ): Promise<{ verdict: Verdict; outcome?: Promise<QueueOutcome> }> {
    while (!this.#queue.closed && !this.#queue.hasRoom(bytes)) await this.#queue.roomFreed()
    return this.admit(delivery, bytes)
  }

  /**
   * Remember a record this node accepted or published: the newest version of its key (unless the sequence rule
   * refuses it) and what it teaches (a revocation's targets).
   */
  remember(record: SignedRecord): Verdict {
    const version = this.spec.version?.(record)
    if (version != null) {
      const verdict = this.#init.memory.admit(`${this.name}:${version.key}`, version, record)
      if (verdict.result !== 'accept') return verdict
    }
    this.spec.learn?.(record, this.#init.memory)
    return ACCEPT
  }

  /** Resolves once every accepted message has been delivered. */
  async idle(): Promise<void> {
    await this.#queue.idle()
  }

  /** Stop: forget the subscribers, drop what still waits (deliveries running finish) and refuse what comes. */
  close(): void {
    this.#subscribers.clear()
    this.#queue.close()
  }

  async #deliver(delivery: GossipDelivery): Promise<void> {
    await Promise.all(
      [...this.#subscribers].map(async (subscriber) => {
        try {
          await subscriber.onMessage(delivery)
        } catch (err) {
          log.error('subscriber of %s failed: %e', this.name, err)
        }
      }),
    )
  }

  /** The newest version known under `key`: this node's memory, or a subscriber's store if it knows a newer one. */
  async #head(record: SignedRecord, key: string): Promise<Head | undefined> {
    let best = this.#init.memory.head(`${this.name}:${key}`)
    for (const subscriber of this.#subscribers) {
      const found = await subscriber.lookups?.latest?.(record)
      if (found != null && (best == null || found.seq > best.seq)) best = found
    }
    return best
  }

  async #revokers(id: CID): Promise<ReadonlySet<string>> {
    const all = new Set(this.#init.memory.revokers(id))
    for (const subscriber of this.#subscribers) {
      for (const by of (await subscriber.lookups?.revokers?.(id)) ?? []) all.add(by)
    }
    return all
  }

  async #signerOf(id: CID): Promise<string | undefined> {
    const known = this.#init.memory.signerOf(id)
    if (known != null) return known
    for (const subscriber of this.#subscribers) {
      const found = await subscriber.lookups?.signerOf?.(id)
      if (found != null) return found
    }
    return undefined
  }
}
