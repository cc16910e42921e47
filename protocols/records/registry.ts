import type { z } from 'zod'
import { certBody, quickCertBody } from './types/cert.ts'
import { certificationBody, quickCertificationBody } from './types/certification.ts'
import { consumptionBody } from './types/consumption.ts'
import { contractBody } from './types/contract.ts'
import { deliveryBody } from './types/delivery.ts'
import { deviceBody, quickDeviceBody } from './types/device.ts'
import { escrowBody } from './types/escrow.ts'
import { licenceBody, quickLicenceBody } from './types/licence.ts'
import { manifestBody } from './types/manifest.ts'
import { networkBody } from './types/network.ts'
import { offerBody, quickOfferBody } from './types/offer.ts'
import { paymentBody } from './types/payment.ts'
import { receiptBody } from './types/receipt.ts'
import { releaseBody } from './types/release.ts'
import { revocationBody } from './types/revocation.ts'
import { shareBody } from './types/share.ts'
import { statementBody } from './types/statement.ts'
import { transferBody } from './types/transfer.ts'
import { quickUsageBody, usageBody } from './types/usage.ts'

/**
 * Every record type of the network, its body schema, which size cap applies, and for the types a node decodes most a
 * hand-written check that vouches for a valid body faster than the schema (`quick.ts`; the schema decides otherwise). A type not listed here is
 * refused by every decoder; a breaking change to a body is a new type name (`consort/offer2`), never an edit.
 */
export const RECORD_TYPES = {
  'consort/network': { body: networkBody, size: 'small' },
  'consort/cert': { body: certBody, quick: quickCertBody, size: 'small' },
  'consort/device': { body: deviceBody, quick: quickDeviceBody, size: 'small' },
  'consort/manifest': { body: manifestBody, size: 'large' },
  'consort/release': { body: releaseBody, size: 'large' },
  'consort/escrow': { body: escrowBody, size: 'small' },
  'consort/contract': { body: contractBody, size: 'large' },
  'consort/offer': { body: offerBody, quick: quickOfferBody, size: 'large' },
  'consort/certification': { body: certificationBody, quick: quickCertificationBody, size: 'small' },
  'consort/revocation': { body: revocationBody, size: 'large' },
  'consort/receipt': { body: receiptBody, size: 'small' },
  'consort/payment': { body: paymentBody, size: 'small' },
  'consort/consumption': { body: consumptionBody, size: 'small' },
  'consort/licence': { body: licenceBody, quick: quickLicenceBody, size: 'large' },
  'consort/usage': { body: usageBody, quick: quickUsageBody, size: 'large' },
  'consort/statement': { body: statementBody, size: 'large' },
  'consort/delivery': { body: deliveryBody, size: 'small' },
  'consort/transfer': { body: transferBody, size: 'small' },
  'consort/share': { body: shareBody, size: 'small' },
} as const

export type RecordType = keyof typeof RECORD_TYPES
/** The validated body of a record type, as the application sees it (money as bigint). */
export type BodyOf<T extends RecordType> = z.output<(typeof RECORD_TYPES)[T]['body']>
/** What a signer passes in (money may be given as bigint or safe integer). */
export type BodyInput<T extends RecordType> = z.input<(typeof RECORD_TYPES)[T]['body']>

export function isRecordType(type: unknown): type is RecordType {
  return typeof type === 'string' && Object.hasOwn(RECORD_TYPES, type)
}
