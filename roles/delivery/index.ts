import type { RoleFactory } from '../role.ts'
import { type DeliveryInit, DeliveryRole } from './delivery.ts'

export {
  DEFAULT_SEED_CONCURRENCY,
  type DeliveryInit,
  DeliveryRole,
  type FetchJobState,
  type FetchJobStatus,
  MAX_ACTIVE_FETCHES,
} from './delivery.ts'
export * from './errors.ts'
export type { SeedEntry, SeedKind, SeedState } from './seeds.ts'

export const delivery: RoleFactory = (components, init) => new DeliveryRole(components, init as DeliveryInit)
