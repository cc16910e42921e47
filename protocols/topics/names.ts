import type { RecordType } from '../records/registry.ts'

/** The network's gossip topics. */
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

/** Which record types may lead a message on each topic; anything else is rejected. */
export const TOPIC_RECORD_TYPES: Record<TopicName, readonly RecordType[]> = {
  catalog: ['consort/release', 'consort/manifest'],
  contracts: ['consort/contract'],
  offers: ['consort/offer'],
  revocations: ['consort/revocation'],
  usage: ['consort/usage'],
}

/** Records a message may carry besides its lead: the signer's certificate, a device registration, a certification. */
export const ATTACHMENT_TYPES: readonly RecordType[] = ['consort/cert', 'consort/device', 'consort/certification']
