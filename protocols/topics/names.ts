import type { RecordType } from '../records/registry.ts'

/** The network's gossip topics (each one a spec in `registry.ts`). */
export const TOPIC_NAMES = ['catalog', 'contracts', 'offers', 'revocations', 'usage'] as const
export type TopicName = (typeof TOPIC_NAMES)[number]

/** `/consort/<network>/<topic>`, one codec for both directions. */
export function topicString(network: string, topic: TopicName): string {
  return `/consort/${network}/${topic}`
}

export function parseTopicString(value: string): { network: string; topic: TopicName } | null {
  const match = /^\/consort\/([a-z0-9][a-z0-9-]*)\/([a-z]+)$/.exec(value)
  if (match == null) return null
  const topic = match[2] as TopicName
  if (!(TOPIC_NAMES as readonly string[]).includes(topic)) return null
  return { network: match[1]!, topic }
}

/** Records a message may carry besides its lead: the signer's certificate, a device registration, a certification. */
export const ATTACHMENT_TYPES: readonly RecordType[] = ['consort/cert', 'consort/device', 'consort/certification']
