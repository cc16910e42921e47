import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { Clock } from '../clock.ts'
import { formatMinorUnits } from '../identifiers/currencies.ts'
import { territoryCovers } from '../identifiers/territories.ts'
import { parseMessage } from '../messages.ts'
import type { NetworkContext } from '../network.ts'
import { referencePeers } from '../peers.ts'
import { decodeRecordAs, type SignedRecord } from '../records/envelope.ts'
import type { Money } from '../records/fields.ts'
import { type RpcDialer, rpcCall } from '../rpc/client.ts'
import { REFERENCE_ERRORS } from './errors.ts'
import {
  type CertifiedOfferMessage,
  MAX_QUERY_RESULTS,
  queryResponse,
  REFERENCE_OPS,
  REFERENCE_PROTOCOL,
} from './index.ts'

/**
 * What every node that follows offers needs, whatever its role: whether an offer's certification is valid for
 * exactly that offer (`verifyCertification`, which the `offers` topic's rule in `protocols/topics/offers.ts` runs),
 * and the client side of the reference service's `query` that re-validates every answer (`queryCertifiedOffers`).
 * Pure protocol code: no role state.
 */

/** Why an offer is refused; the offers topic maps each to gossipsub's reject or ignore. */
export const OFFER_CHECK_CODES = {
  noCertification: 'ERR_NO_CERTIFICATION',
  certificationMismatch: 'ERR_CERTIFICATION_MISMATCH',
  untrustedCertifier: 'ERR_UNTRUSTED_CERTIFIER',
  certificationExpired: 'ERR_CERTIFICATION_EXPIRED',
  certificationRevoked: 'ERR_CERTIFICATION_REVOKED',
  offerRevoked: 'ERR_OFFER_REVOKED',
  offerExpired: 'ERR_OFFER_EXPIRED',
} as const
export type OfferCheckCode = (typeof OFFER_CHECK_CODES)[keyof typeof OFFER_CHECK_CODES]

/** The parts of `CertificateTrust` offer checks use. */
export interface OfferTrust {
  isReferenceService(key: Uint8Array): boolean
  isRevoked(id: CID): boolean
}

export type CertificationVerdict =
  | { ok: true }
  | { ok: false; result: 'reject' | 'ignore'; code: OfferCheckCode; reason: string }

/** The certification among `attachments` that names this offer record, if any. */
export function certificationFor(
  offer: SignedRecord<'consort/offer'>,
  attachments: readonly SignedRecord[],
): SignedRecord<'consort/certification'> | undefined {
  return attachments.find(
    (a): a is SignedRecord<'consort/certification'> =>
      a.type === 'consort/certification' && (a as SignedRecord<'consort/certification'>).body.offer.equals(offer.id),
  )
}

/**
 * Is `certification` a valid certification of exactly this offer record at `now`: signed by a reference service
 * the network record lists, naming this offer's id and record, unexpired and unrevoked? Both records must already
 * be decoded (signatures verified). Forgery is `reject`; expiry and a revocation are `ignore` (a peer may have
 * forwarded the offer before it expired, or before the revocation reached it).
 */
export function verifyCertification(
  offer: SignedRecord<'consort/offer'>,
  certification: SignedRecord<'consort/certification'>,
  trust: OfferTrust,
  now: number,
): CertificationVerdict {
  const c = certification.body
  if (!c.offer.equals(offer.id) || c.offerId !== offer.body.offerId) {
    return {
      ok: false,
      result: 'reject',
      code: OFFER_CHECK_CODES.certificationMismatch,
      reason: `certification ${certification.id} is for offer ${c.offer} (${c.offerId}), not ${offer.id} (${offer.body.offerId})`,
    }
  }
  if (!trust.isReferenceService(certification.signer)) {
    return {
      ok: false,
      result: 'reject',
      code: OFFER_CHECK_CODES.untrustedCertifier,
      reason: `certification ${certification.id} is signed by ${toHex(certification.signer)}, not a reference service of the network`,
    }
  }
  if (c.validUntil <= now) {
    // Certifications live hours to days and are renewed: a message in flight crosses its expiry often, and an honest
    // peer that forwarded it a moment before must not be punished for it (decision 0308).
    return {
      ok: false,
      result: 'ignore',
      code: OFFER_CHECK_CODES.certificationExpired,
      reason: `certification ${certification.id} expired at ${c.validUntil}, now ${now}`,
    }
  }
  if (trust.isRevoked(certification.id)) {
    return {
      ok: false,
      result: 'ignore',
      code: OFFER_CHECK_CODES.certificationRevoked,
      reason: `certification ${certification.id} is revoked`,
    }
  }
  return { ok: true }
}

/** Is `now` inside the offer's validity window? */
export function offerInWindow(offer: SignedRecord<'consort/offer'>, now: number): boolean {
  return offer.body.validFrom <= now && (offer.body.validUntil == null || now < offer.body.validUntil)
}

/** The key an offer's versions share: its signer and its stable id. */
export function offerKey(offer: SignedRecord<'consort/offer'>): string {
  return `${toHex(offer.signer)}!${offer.body.offerId}`
}

/** One certified offer as a market query answers it, checked locally. */
export interface VerifiedOffer {
  offer: SignedRecord<'consort/offer'>
  certification: SignedRecord<'consort/certification'>
  retailerName: string
  price: Money
  /** The name the network record gives the reference service that certified it. */
  certifier: string
}

export interface MarketQuery {
  content: string
  territory: string
  /** When the offers must be valid; default now. */
  at?: number | null
  limit?: number
}

export interface MarketQueryDeps {
  libp2p: RpcDialer
  network: NetworkContext
  trust: OfferTrust
  clock: Clock
  /** A caller's own knowledge of revoked offers (its role's store). */
  isOfferRevoked?: (offer: SignedRecord<'consort/offer'>) => boolean
}

export interface MarketAnswer {
  offers: VerifiedOffer[]
  /** Answers that were dropped on local re-validation, and reference services that could not be asked. */
  dropped: Array<{ offer: string | null; reason: string }>
  unreachable: Array<{ reference: string; reason: string }>
}

/** Compare two prices for "cheapest first": by currency code, then amount. */
export function comparePrices(a: Money, b: Money): number {
  if (a.currency !== b.currency) return a.currency < b.currency ? -1 : 1
  return a.amount < b.amount ? -1 : a.amount > b.amount ? 1 : 0
}

/**
 * Ask every reference service of the network which certified offers exist for one content id in one territory,
 * and keep only what checks out here: both records decode and verify, the certification is for exactly that
 * offer from a trusted reference service, unexpired and unrevoked, and the offer covers the content, the
 * territory and the time asked about. Answers from several references are merged by offer record, cheapest first.
 */
export async function queryCertifiedOffers(
  deps: MarketQueryDeps,
  query: MarketQuery,
  options: AbortOptions & { deadlineMs?: number } = {},
): Promise<MarketAnswer> {
  const now = deps.clock.now()
  const at = query.at ?? now
  const limit = Math.min(query.limit ?? MAX_QUERY_RESULTS, MAX_QUERY_RESULTS)
  const decodeOptions = { network: deps.network.name, now, caps: deps.network.caps }
  const protocol = deps.network.protocol(REFERENCE_PROTOCOL)
  const byOffer = new Map<string, VerifiedOffer>()
  const dropped: MarketAnswer['dropped'] = []
  const unreachable: MarketAnswer['unreachable'] = []
  const anchors = deps.network.body.references
  const peers = referencePeers(deps.network)
  await Promise.all(
    peers.map(async (peer, i) => {
      const name = anchors[i]?.name ?? peer.toString()
      let answer: { offers: CertifiedOfferMessage[] }
      const request = { content: query.content, territory: query.territory, at: query.at ?? null, limit }
      try {
        const body = await rpcCall(deps.libp2p, peer, protocol, REFERENCE_OPS.query, request, {
          ...options,
          errors: REFERENCE_ERRORS,
        })
        answer = parseMessage(queryResponse, body, 'response')
      } catch (err) {
        unreachable.push({ reference: name, reason: (err as Error).message })
        return
      }
      for (const item of answer.offers) {
        let offer: SignedRecord<'consort/offer'>
        let certification: SignedRecord<'consort/certification'>
        try {
          offer = decodeRecordAs('consort/offer', item.offer, decodeOptions)
          certification = decodeRecordAs('consort/certification', item.certification, decodeOptions)
        } catch (err) {
          dropped.push({ offer: null, reason: `from ${name}: ${(err as Error).message}` })
          continue
        }
        const verdict = verifyCertification(offer, certification, deps.trust, now)
        const problem = !verdict.ok
          ? verdict.reason
          : deps.isOfferRevoked?.(offer) === true
            ? `offer ${offer.id} is revoked`
            : !offer.body.content.includes(query.content)
              ? `offer does not cover ${query.content}`
              : !territoryCovers(offer.body.territories, offer.body.excludedTerritories, query.territory)
                ? `offer does not cover territory ${query.territory}`
                : !offerInWindow(offer, at)
                  ? `offer is not valid at ${at}`
                  : item.price.amount !== offer.body.price.amount || item.price.currency !== offer.body.price.currency
                    ? 'the listed price is not the offer price'
                    : null
        if (problem != null) {
          dropped.push({ offer: offer.id.toString(), reason: `from ${name}: ${problem}` })
          continue
        }
        const known = byOffer.get(offer.id.toString())
        if (known == null || known.certification.body.validUntil < certification.body.validUntil) {
          const certifier =
            anchors.find((a) => toHex(a.key) === toHex(certification.signer))?.name ?? toHex(certification.signer)
          byOffer.set(offer.id.toString(), {
            offer,
            certification,
            retailerName: item.retailerName,
            price: offer.body.price,
            certifier,
          })
        }
      }
    }),
  )
  const offers = [...byOffer.values()]
    .sort((a, b) => comparePrices(a.price, b.price) || a.offer.id.toString().localeCompare(b.offer.id.toString()))
    .slice(0, limit)
  return { offers, dropped, unreachable }
}

/** A verified offer as JSON-friendly data for the CLI and the control API (money stays bigint). */
export function describeVerifiedOffer(v: VerifiedOffer) {
  const o = v.offer.body
  return {
    offerId: o.offerId,
    offer: v.offer.id,
    seq: o.seq,
    retailer: toHex(v.offer.signer),
    retailerName: v.retailerName,
    content: o.content,
    price: o.price,
    priceText: `${formatMinorUnits(o.price.amount, o.price.currency)} ${o.price.currency}`,
    useType: o.useType,
    rules: o.rules,
    territories: o.territories,
    excludedTerritories: o.excludedTerritories,
    validFrom: o.validFrom,
    validUntil: o.validUntil,
    promotion: o.promotion,
    contract: o.contract,
    certification: v.certification.id,
    certifier: v.certifier,
    certifiedUntil: v.certification.body.validUntil,
  }
}
export type OfferSummary = ReturnType<typeof describeVerifiedOffer>
