import { z } from 'zod'
import { recordBytes } from '../messages.ts'
import { contentId, money, recordCid, territory, text, timestamp } from '../records/fields.ts'

/**
 * `/consort/<net>/reference/1` — served by reference services.
 *
 * - `certify`: a retailer submits an offer (and its certificate); the answer is a `consort/certification` or
 *   the list of every clause the offer breaks.
 * - `query`: the certified, unrevoked, unexpired offers for one content id in one territory, cheapest first,
 *   with the retailer's name.
 * - `contract`: the current version of a contract by id, or a contract record by CID.
 */
export const REFERENCE_PROTOCOL = 'reference'
export const REFERENCE_OPS = { certify: 'certify', query: 'query', contract: 'contract' } as const
/**
 * The refusals of `/reference/1` that are its own, the protocol's one list of wire codes (decision 0014); each has
 * its class in `errors.ts`. A certification refused on its merits is no error: `certify` answers `refused` with
 * every clause that failed. A malformed request is the shared `ERR_BAD_REQUEST`; an offer or attachment that does not
 * decode is refused with the records layer's code (`ERR_MALFORMED_RECORD`, `ERR_BAD_SIGNATURE`…, docs/protocol.md §2).
 */
export const REFERENCE_CODES = {
  /** The service is starting or stopping: ask another reference service, or again later. */
  notRunning: 'ERR_REFERENCE_NOT_RUNNING',
} as const

/** Offers one query answers with (a page). */
export const MAX_QUERY_RESULTS = 200

export const certifyRequest = z.object({ offer: recordBytes, attachments: z.array(recordBytes).max(4) }).strict()

/** The clauses a reference service checks; a refusal names each that failed. */
export const CERTIFICATION_CLAUSES = [
  'retailer-certificate',
  'contract-exists',
  'contract-current',
  'contract-party',
  'content',
  'use-type',
  'territory',
  'window',
  'price',
  'promotion',
  'rules',
  'revoked',
] as const
export type CertificationClause = (typeof CERTIFICATION_CLAUSES)[number]

export const clauseFailure = z.object({ clause: z.enum(CERTIFICATION_CLAUSES), message: text(1024) }).strict()
export type ClauseFailure = z.infer<typeof clauseFailure>

export const certifyResponse = z.discriminatedUnion('status', [
  z.object({ status: z.literal('certified'), certification: recordBytes }).strict(),
  z.object({ status: z.literal('refused'), failures: z.array(clauseFailure).min(1) }).strict(),
])
export type CertifyResponse = z.infer<typeof certifyResponse>

export const queryRequest = z
  .object({
    content: contentId,
    territory,
    at: timestamp.nullable(),
    limit: z.number().int().min(1).max(MAX_QUERY_RESULTS),
  })
  .strict()
export const certifiedOffer = z
  .object({ offer: recordBytes, certification: recordBytes, retailerName: text(128), price: money })
  .strict()
export type CertifiedOfferMessage = z.infer<typeof certifiedOffer>
export const queryResponse = z.object({ offers: z.array(certifiedOffer).max(MAX_QUERY_RESULTS) }).strict()

export const contractRequest = z
  .object({ contractId: text(128).nullable(), cid: recordCid.nullable() })
  .strict()
  .refine((r) => (r.contractId == null) !== (r.cid == null), 'give exactly one of contractId and cid')
export const contractResponse = z.object({ contract: recordBytes.nullable() }).strict()
