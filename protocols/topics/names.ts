import type { RecordType } from '../records/registry.ts'

/** The network's gossip topics (each one a spec in `registry.ts`). */
export const TOPIC_NAMES = ['catalog', 'contracts', 'offers', 'revocations', 'usage'] as const
export type TopicName = (typeof TOPIC_NAMES)[number]

/**
 * The wire version of the topics, the last part of every topic string. Version 2 (decision 0016): gossipsub carries
 * messages unsigned (`StrictNoSign`), since every record in them signs itself. Version 1 (the topic string without a
 * version) was signed by gossipsub too; a node of either version never shares a topic with the other, so neither
 * punishes the other's messages as invalid (catch-up, `protocols/sync`, still carries records between them).
 */
export const TOPIC_WIRE_VERSION = 2

/** `/consort/<network>/<topic>/<wire version>`, one codec for both directions. */
export function topicString(network: string, topic: TopicName): string {
  return `/consort/${network}/${topic}/${TOPIC_WIRE_VERSION}`
}

export function parseTopicString(value: string): { network: string; topic: TopicName } | null {
  const match = /^\/consort\/([a-z0-9][a-z0-9-]*)\/([a-z]+)\/([0-9]+)$/.exec(value)
  if (match == null || Number(match[3]) !== TOPIC_WIRE_VERSION) return null
  const topic = match[2] as TopicName
  if (!(TOPIC_NAMES as readonly string[]).includes(topic)) return null
  return { network: match[1]!, topic }
}

/** Records a message may carry besides its lead: the signer's certificate, a device registration, a certification. */
export const ATTACHMENT_TYPES: readonly RecordType[] = ['consort/cert', 'consort/device', 'consort/certification']
