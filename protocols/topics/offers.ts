import type { SignedRecord } from '../records/envelope.ts'
import { certificationFor, OFFER_CHECK_CODES, offerKey, verifyCertification } from '../reference/offers.ts'
import type { TopicMemory } from './knowledge.ts'
import { ATTACHMENT_TYPES } from './names.ts'
import { isWithdrawn } from './revocations.ts'
import { ACCEPT, ignore, reject, type TopicSpec, type TopicTrust } from './spec.ts'

/**
 * The largest valid offer (1 000 content ids, every territory named, every usage rule, a promotion label) with its
 * certification and the retailer's certificate and device is about 27 KiB: 48 KiB leaves room for a field or two
 * more (`test/unit/topics/specs.test.ts` builds it and keeps this honest).
 */
export const OFFERS_MESSAGE_BYTES = 48 * 1024

/** Is this offer revoked, as far as this node's memory of the revocations topic goes, by its retailer or a reference service? */
export function offerRevokedHere(
  offer: SignedRecord<'consort/offer'>,
  memory: TopicMemory,
  trust: TopicTrust,
): boolean {
  return isWithdrawn(offer, new Set(memory.revokers(offer.id)), trust)
}

/**
 * `/offers`: `consort/offer`, signed by a retailer, with a certification of exactly that offer record attached.
 * Rejected: no certification for it, one for another offer, one not signed by a reference service the network record
 * lists, or one expired (`verifyCertification`). Ignored: a revoked certification, an offer past its window, an offer
 * revoked by its retailer or a reference service, and a stale or conflicting version (keyed by retailer and offer id).
 */
export const offersTopic: TopicSpec = {
  name: 'offers',
  leads: ['consort/offer'],
  attachments: ATTACHMENT_TYPES,
  maxMessageBytes: OFFERS_MESSAGE_BYTES,
  // The busiest market topic (every retailer's offers, renewed before their certifications expire) and its messages
  // are small; every offer must reach the reference services' markets, so the newest waits at the door when full.
  queue: { maxItems: 4096, maxBytes: 32 * 1024 * 1024, concurrency: 8, whenFull: 'refuse-newest' },
  validate(delivery, { trust, now }) {
    const offer = delivery.record as SignedRecord<'consort/offer'>
    const certification = certificationFor(offer, delivery.attachments)
    if (certification == null) {
      return reject(
        OFFER_CHECK_CODES.noCertification,
        `offer ${offer.id} (${offer.body.offerId}) carries no certification for itself`,
      )
    }
    const verdict = verifyCertification(offer, certification, trust, now)
    if (!verdict.ok) return { result: verdict.result, code: verdict.code, reason: verdict.reason }
    if (offer.body.validUntil != null && offer.body.validUntil <= now) {
      return ignore(OFFER_CHECK_CODES.offerExpired, `offer ${offer.id} ended at ${offer.body.validUntil}`)
    }
    return ACCEPT
  },
  async judge(delivery, { trust, knows }) {
    const offer = delivery.record as SignedRecord<'consort/offer'>
    if (isWithdrawn(offer, await knows.revokers(offer.id), trust)) {
      return ignore(OFFER_CHECK_CODES.offerRevoked, `offer ${offer.id} is revoked`)
    }
    return ACCEPT
  },
  version: (record) => {
    const offer = record as SignedRecord<'consort/offer'>
    return { key: offerKey(offer), seq: offer.body.seq }
  },
}
