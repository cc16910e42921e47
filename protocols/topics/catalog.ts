import type { SignedRecord } from '../records/envelope.ts'
import { releaseContentId } from '../records/types/release.ts'
import { keyHex } from './knowledge.ts'
import { ATTACHMENT_TYPES } from './names.ts'
import { isWithdrawn } from './revocations.ts'
import { ACCEPT, ignore, type TopicSpec } from './spec.ts'

/**
 * A manifest of the most segments a record may list comes close to the record cap (1 MiB by default): the catalog
 * takes the largest message the network allows.
 */
export const CATALOG_MESSAGE_BYTES = 1024 * 1024

export const CATALOG_CODES = {
  withdrawn: 'ERR_WITHDRAWN',
} as const

/** The content id a release or manifest describes: `icpn:`/`grid:` for a release, `isrc:` for a track. */
export function catalogContentId(record: SignedRecord<'consort/release'> | SignedRecord<'consort/manifest'>): string {
  return record.type === 'consort/release'
    ? releaseContentId((record as SignedRecord<'consort/release'>).body)
    : `isrc:${(record as SignedRecord<'consort/manifest'>).body.isrc}`
}

/**
 * `/catalog`: `consort/release` and `consort/manifest`, signed by a holder of a `production` certificate. Ignored: a
 * record its signer took down, and a stale or conflicting version (keyed by signer and content id).
 */
export const catalogTopic: TopicSpec = {
  name: 'catalog',
  leads: ['consort/release', 'consort/manifest'],
  attachments: ATTACHMENT_TYPES,
  maxMessageBytes: CATALOG_MESSAGE_BYTES,
  // A label importing a catalogue announces every release and track at once, and the messages can be large: bounded
  // in bytes as much as in count; every record must reach the catalogs, so the newest waits at the door when full.
  queue: { maxItems: 4096, maxBytes: 64 * 1024 * 1024, concurrency: 8, whenFull: 'refuse-newest' },
  async judge(delivery, { trust, knows }) {
    if (isWithdrawn(delivery.record, await knows.revokers(delivery.record.id), trust)) {
      return ignore(CATALOG_CODES.withdrawn, `${delivery.record.id} was taken down by its signer`)
    }
    return ACCEPT
  },
  version: (record) => {
    const entry = record as SignedRecord<'consort/release'> | SignedRecord<'consort/manifest'>
    return { key: `${keyHex(record.signer)}/${catalogContentId(entry)}`, seq: entry.body.seq }
  },
}
