import { catalogTopic } from './catalog.ts'
import { contractsTopic } from './contracts.ts'
import type { TopicName } from './names.ts'
import { offersTopic } from './offers.ts'
import { revocationsTopic } from './revocations.ts'
import type { TopicSpec } from './spec.ts'
import { usageTopic } from './usage.ts'

/** Every gossip topic of the network, one spec each: a new topic is one line here and one file beside it. */
export const TOPIC_SPECS: Readonly<Record<TopicName, TopicSpec>> = {
  catalog: catalogTopic,
  contracts: contractsTopic,
  offers: offersTopic,
  revocations: revocationsTopic,
  usage: usageTopic,
}
