import { z } from 'zod'
import { id, timestamp } from '../fields.ts'

/** The network name: lower-case letters, digits and hyphens, as it appears in topic and protocol ids. */
export const networkName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and hyphens, starting with a letter or digit')

/** Fields every record body starts with: which network it belongs to and when it was made. */
export const commonFields = {
  network: networkName,
  created: timestamp,
}

export const ROLE_NAMES = [
  'production',
  'catalog',
  'retailer',
  'reference',
  'delivery',
  'registration',
  'player',
  'clearinghouse',
] as const
export type RoleName = (typeof ROLE_NAMES)[number]
export const roleName = z.enum(ROLE_NAMES)

/**
 * DDEX commercial models, in our own short vocabulary (the production role maps DDEX's
 * `PayAsYouGoModel`, `SubscriptionModel`, `AdvertisementSupportedModel`, `FreeOfChargeModel`).
 */
export const COMMERCIAL_MODELS = ['pay-as-you-go', 'subscription', 'ad-supported', 'free'] as const
export type CommercialModel = (typeof COMMERCIAL_MODELS)[number]

/** DDEX use types that Consort sells. */
export const USE_TYPES = [
  'PermanentDownload',
  'ConditionalDownload',
  'TetheredDownload',
  'OnDemandStream',
  'NonInteractiveStream',
  'Preview',
] as const
export type UseType = (typeof USE_TYPES)[number]
export const useType = z.enum(USE_TYPES)

export const offerIdField = id
