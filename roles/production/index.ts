import { defineRole } from '../role.ts'
import { ProductionRole, productionInit } from './production.ts'
import { PRODUCTION_LAYOUT } from './state.ts'

export {
  ErnFormatError,
  type ErnInspection,
  type ErnIssue,
  ErnValidationError,
  inspectErn,
  MAX_ERN_MESSAGE_BYTES,
  readErn,
} from './ddex/index.ts'
export * from './errors.ts'
export { DEFAULT_SEGMENT_BYTES, MAX_SEAL_WORKERS, packageAudio, SealPool } from './packaging/index.ts'
export {
  type DescriptionImport,
  type ErnImport,
  normaliseReleaseKey,
  type ProductionComponents,
  type ProductionInit,
  ProductionRole,
  productionInit,
} from './production.ts'
export type { ContractResult, PublishProgress, PublishResult, ReleaseResult, TrackResult } from './publisher.ts'
export { type ReleaseDescription, releaseDescriptionSchema } from './release-json.ts'
export { SAMPLE_ISRC, SAMPLE_UPC, sampleDescription } from './sample.ts'
export { PRODUCTION_LAYOUT, type ProductionRoleStore } from './state.ts'

/** The production role (`--roles production`): see `production.ts` and README.md. */
export const production = defineRole({
  name: 'production',
  options: productionInit,
  components: ['libp2p', 'helia', 'keys', 'clock', 'random', 'network', 'topics', 'records', 'credentials'],
  layout: PRODUCTION_LAYOUT,
  create: (components, options) => new ProductionRole(components, options),
})
