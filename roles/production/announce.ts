import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { withDeadline } from '../../protocols/deadline.ts'
import { latestRecordKey, stableIdOfRecord } from '../../protocols/dht.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { TopicBus } from '../../protocols/topics/bus.ts'
import type { TopicName } from '../../protocols/topics/names.ts'
import type { Credentials } from '../role.ts'
import { DHT_PUT_DEADLINE_MS } from './constants.ts'

const log = logger('consort:production:announce')

/** DHT puts run this many at a time: each is a network-wide query. */
const DHT_PUT_CONCURRENCY = 4

interface Dht {
  put(key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }): AsyncIterable<unknown>
}

export interface AnnounceCounts {
  gossiped: number
  gossipFailed: number
  dhtStored: number
  dhtFailed: number
}

export const noAnnouncements = (): AnnounceCounts => ({ gossiped: 0, gossipFailed: 0, dhtStored: 0, dhtFailed: 0 })

/**
 * Telling the network: records gossiped on their topic with this node's certificate attached (so every validator
 * can check the signer without a lookup), and versioned records put under their latest-record key in the DHT.
 * Both are best effort: a failure is counted and logged, and the periodic re-announcement tries again.
 */
export class Announcer {
  readonly #topics: TopicBus
  readonly #credentials: Credentials
  readonly #libp2p: Libp2p

  constructor(init: { topics: TopicBus; credentials: Credentials; libp2p: Libp2p }) {
    this.#topics = init.topics
    this.#credentials = init.credentials
    this.#libp2p = init.libp2p
  }

  async gossip(topic: TopicName, records: readonly SignedRecord[], counts: AnnounceCounts): Promise<void> {
    const attachments = this.#credentials.attachments()
    for (const record of records) {
      try {
        await this.#topics.publish(topic, record, attachments)
        counts.gossiped++
      } catch (err) {
        counts.gossipFailed++
        log.error('publishing %s %c on %s failed: %e', record.type, record.id, topic, err)
      }
    }
  }

  /** Put each record under `/consort/latest/<signer>/<type>/<stable id>`. */
  async putLatest(records: readonly SignedRecord[], counts: AnnounceCounts, signal?: AbortSignal): Promise<void> {
    const dht = (this.#libp2p.services as { dht?: Dht }).dht
    if (dht == null || records.length === 0) return
    const queue = [...records]
    const worker = async () => {
      for (let record = queue.shift(); record != null; record = queue.shift()) {
        const stableId = stableIdOfRecord(record)
        if (stableId == null) continue
        try {
          const key = latestRecordKey(record.signer, record.type, stableId)
          for await (const _event of dht.put(key, record.bytes, {
            signal: withDeadline(DHT_PUT_DEADLINE_MS, signal).signal,
          })) {
            // drain the query
          }
          counts.dhtStored++
        } catch (err) {
          counts.dhtFailed++
          log('DHT put of %s %s failed: %e', record.type, stableId, err)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(DHT_PUT_CONCURRENCY, records.length) }, worker))
  }
}
