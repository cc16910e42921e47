import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Clock } from '../clock.ts'
import type { Metrics } from '../metrics.ts'
import { DEFAULT_RECORD_CAPS, decodeRecord, type RecordCaps, type SignedRecord } from '../records/envelope.ts'
import { RecordError } from '../records/errors.ts'
import type { SignerTrust } from '../trust/trust.ts'
import { decodeGossipMessage, encodeGossipMessage } from './message.ts'
import { ATTACHMENT_TYPES, TOPIC_RECORD_TYPES, type TopicName, topicString } from './names.ts'

const log = logger('consort:topics')

/** gossipsub's verdicts (its `TopicValidatorResult` values). */
export type ValidationResult = 'accept' | 'ignore' | 'reject'

/** The part of a gossipsub router the bus uses; `node/pubsub.ts` supplies the real one. */
export interface PubSubRouter {
  topicValidators: Map<
    string,
    (peer: PeerId, message: { topic: string; data: Uint8Array }) => Promise<ValidationResult> | ValidationResult
  >
  subscribe(topic: string): void
  unsubscribe(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<{ recipients: PeerId[] }>
  addEventListener(type: 'message', listener: (event: CustomEvent<{ topic: string; data: Uint8Array }>) => void): void
  removeEventListener(
    type: 'message',
    listener: (event: CustomEvent<{ topic: string; data: Uint8Array }>) => void,
  ): void
  getSubscribers(topic: string): PeerId[]
}

/** A message that passed every check: its lead record and attachments, decoded and verified. */
export interface GossipDelivery {
  topic: TopicName
  record: SignedRecord
  attachments: SignedRecord[]
  /** The peer that forwarded it to us (not necessarily its author). */
  from: PeerId
}

/** A subscriber's own verdict on a message that passed the generic checks (certified? stale sequence?). */
export type TopicCheck = (delivery: GossipDelivery) => CheckResult | Promise<CheckResult>
export type CheckResult = { result: 'accept' } | { result: 'ignore' | 'reject'; code: string; reason: string }

export interface TopicSubscriber {
  /** Runs inside the gossip validator: reject what is invalid, ignore what is merely stale. */
  check?: TopicCheck
  /** Runs for every accepted message. */
  onMessage(delivery: GossipDelivery): void | Promise<void>
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
  trust: SignerTrust
  caps?: RecordCaps
  /** Largest gossip message in bytes. */
  messageBytes?: number
  /** Counts every verdict by topic and code (`consort_gossip_messages_total`). */
  metrics?: Metrics
}

/** A message larger than this is refused before decoding. */
export const DEFAULT_MESSAGE_BYTES = 1024 * 1024
/** How long a publish waits for a first peer on the topic (a few gossipsub heartbeats after connecting). */
export const DEFAULT_PUBLISH_WAIT_MS = 2_000
const PUBLISH_WAIT_POLL_MS = 50

/**
 * The node's gossip front door. One validator per topic runs every generic check — size, structure, network,
 * schema, freshness, signature, signer trust, record type for the topic — and then each subscriber's own
 * check. Only then does a message reach the roles; anything refused is reported as a `Refusal` and returns
 * `reject` (or `ignore` for the merely stale), so that gossipsub's peer scoring punishes senders of bad data.
 */
export class TopicBus extends EventTarget {
  readonly #init: TopicBusInit
  readonly #subscribers = new Map<TopicName, Set<TopicSubscriber>>()
  readonly #validated = new WeakMap<object, GossipDelivery>()
  readonly #refusalCounts = new Map<string, number>()
  readonly #onMessage = (event: CustomEvent<{ topic: string; data: Uint8Array }>) => {
    void this.#deliver(event.detail, 'gossip')
  }

  constructor(init: TopicBusInit) {
    super()
    this.#init = init
    init.router.addEventListener('message', this.#onMessage)
  }

  /** Refusals seen so far, by code. */
  get refusals(): ReadonlyMap<string, number> {
    return this.#refusalCounts
  }

  /** The topics this node follows (some subscriber of its roles or of the node itself). */
  subscribedTopics(): TopicName[] {
    return [...this.#subscribers.keys()]
  }

  subscribe(topic: TopicName, subscriber: TopicSubscriber): () => void {
    let set = this.#subscribers.get(topic)
    if (set == null) {
      set = new Set()
      this.#subscribers.set(topic, set)
      const name = topicString(this.#init.network, topic)
      this.#init.router.topicValidators.set(name, (peer, message) => this.#validate(topic, peer, message))
      this.#init.router.subscribe(name)
    }
    set.add(subscriber)
    return () => {
      set.delete(subscriber)
      if (set.size === 0) {
        this.#subscribers.delete(topic)
        const name = topicString(this.#init.network, topic)
        this.#init.router.unsubscribe(name)
        this.#init.router.topicValidators.delete(name)
      }
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
    topic: TopicName,
    record: SignedRecord,
    attachments: readonly SignedRecord[] = [],
    options: { waitForPeersMs?: number } = {},
  ): Promise<number> {
    if (!TOPIC_RECORD_TYPES[topic].includes(record.type)) {
      throw new RecordError('type', `${record.type} cannot be published on ${topic}`)
    }
    const name = topicString(this.#init.network, topic)
    const deadline = performance.now() + (options.waitForPeersMs ?? DEFAULT_PUBLISH_WAIT_MS)
    while (this.#init.router.getSubscribers(name).length === 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, PUBLISH_WAIT_POLL_MS))
    }
    const data = encodeGossipMessage([record.bytes, ...attachments.map((a) => a.bytes)])
    const result = await this.#init.router.publish(name, data)
    this.#accepted({ topic, data, record, via: 'local' })
    return result.recipients.length
  }

  /**
   * Take in a message that arrived another way than gossip (a catch-up answer from a peer): the same checks as a
   * gossip message, then the same delivery to subscribers, awaited, so that messages taken in one after another
   * reach the roles in that order (a contract before the offers under it). Answers the verdict.
   */
  async ingest(topic: TopicName, data: Uint8Array, from: PeerId): Promise<ValidationResult> {
    const message = { topic: topicString(this.#init.network, topic), data }
    if (!this.#subscribers.has(topic)) return 'ignore'
    const verdict = await this.#validate(topic, from, message)
    if (verdict === 'accept') await this.#deliver(message, 'sync')
    return verdict
  }

  stop(): void {
    this.#init.router.removeEventListener('message', this.#onMessage)
    for (const topic of this.#subscribers.keys()) {
      const name = topicString(this.#init.network, topic)
      this.#init.router.unsubscribe(name)
      this.#init.router.topicValidators.delete(name)
    }
    this.#subscribers.clear()
  }

  /** Decode and verify a gossip message's records; throws a RecordError naming the fault. */
  decode(topic: TopicName, data: Uint8Array, from: PeerId): GossipDelivery {
    const maxBytes = this.#init.messageBytes ?? DEFAULT_MESSAGE_BYTES
    if (data.length > maxBytes)
      throw new RecordError('message', `${data.length} bytes exceeds the message cap of ${maxBytes}`)
    const [leadBytes, ...attachmentBytes] = decodeGossipMessage(data)
    const options = {
      network: this.#init.network,
      now: this.#init.clock.now(),
      caps: this.#init.caps ?? DEFAULT_RECORD_CAPS,
    }
    const record = decodeRecord(leadBytes!, options)
    if (!TOPIC_RECORD_TYPES[topic].includes(record.type)) {
      throw new RecordError('type', `${record.type} does not belong on topic ${topic}`)
    }
    const attachments = attachmentBytes.map((bytes, i) => {
      const attachment = decodeRecord(bytes, options)
      if (!ATTACHMENT_TYPES.includes(attachment.type)) {
        throw new RecordError(`message.records.${i + 1}`, `${attachment.type} cannot be attached`)
      }
      return attachment
    })
    return { topic, record, attachments, from }
  }

  async #validate(topic: TopicName, from: PeerId, message: { data: Uint8Array }): Promise<ValidationResult> {
    let delivery: GossipDelivery
    try {
      delivery = this.decode(topic, message.data, from)
    } catch (err) {
      const code = err instanceof RecordError ? err.code : 'ERR_MALFORMED_MESSAGE'
      return this.#refuse({ topic, result: 'reject', code, reason: (err as Error).message, from })
    }
    const trust = this.#init.trust.check(delivery.record, delivery.attachments)
    if (!trust.ok) return this.#refuse({ topic, result: 'reject', code: trust.code, reason: trust.reason, from })

    let verdict: ValidationResult = 'accept'
    for (const subscriber of this.#subscribers.get(topic) ?? []) {
      if (subscriber.check == null) continue
      let check: CheckResult
      try {
        check = await subscriber.check(delivery)
      } catch (err) {
        log.error('check on %s threw: %e', topic, err)
        check = { result: 'ignore', code: 'ERR_CHECK_FAILED', reason: (err as Error).message }
      }
      if (check.result !== 'accept') {
        this.#refuse({ topic, result: check.result, code: check.code, reason: check.reason, from })
        if (check.result === 'reject') return 'reject'
        verdict = 'ignore'
      }
    }
    if (verdict === 'accept') {
      this.#validated.set(message, delivery)
      this.#init.metrics?.increment('consort_gossip_messages_total', { topic, verdict, code: '' })
    }
    return verdict
  }

  #refuse(refusal: Refusal): ValidationResult {
    this.#refusalCounts.set(refusal.code, (this.#refusalCounts.get(refusal.code) ?? 0) + 1)
    this.#init.metrics?.increment('consort_gossip_messages_total', {
      topic: refusal.topic,
      verdict: refusal.result,
      code: refusal.code,
    })
    log('%s %s from %p: %s %s', refusal.result, refusal.topic, refusal.from, refusal.code, refusal.reason)
    this.dispatchEvent(new CustomEvent<Refusal>('refused', { detail: refusal }))
    return refusal.result
  }

  async #deliver(message: { topic: string; data: Uint8Array }, via: 'gossip' | 'sync'): Promise<void> {
    const delivery = this.#validated.get(message)
    if (delivery == null) return
    this.#validated.delete(message)
    this.#accepted({ topic: delivery.topic, data: message.data, record: delivery.record, via })
    await Promise.all(
      [...(this.#subscribers.get(delivery.topic) ?? [])].map((subscriber) =>
        Promise.resolve()
          .then(() => subscriber.onMessage(delivery))
          .catch((err) => log.error('subscriber of %s failed: %e', delivery.topic, err)),
      ),
    )
  }

  #accepted(acceptance: Acceptance): void {
    this.dispatchEvent(new CustomEvent<Acceptance>('accepted', { detail: acceptance }))
  }
}
