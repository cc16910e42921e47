import { z } from 'zod'
import { defineRole } from '../role.ts'
import { DeliveryRole } from './delivery.ts'
import { DELIVERY_LAYOUT } from './seeds.ts'

export {
  DEFAULT_SEED_CONCURRENCY,
  type DeliveryComponents,
  type DeliveryInit,
  DeliveryRole,
  type FetchJobState,
  type FetchJobStatus,
  MAX_ACTIVE_FETCHES,
} from './delivery.ts'
export * from './errors.ts'
export type { SeedEntry, SeedKind, SeedState } from './seeds.ts'

const count = z.number().int().positive()

/** The Delivery role (`--roles delivery`): seeds releases, serves `/segments/1` and fetches. See README.md. */
export const delivery = defineRole({
  name: 'delivery',
  options: z.strictObject({
    /** Announce carried and fetched roots in the DHT and re-announce them (default true). */
    reprovide: z.boolean().optional(),
    /** How often to re-announce, ms (default 6 h). */
    reprovideIntervalMs: count.optional(),
    /** Seeds fetched at once (default 2, `DEFAULT_SEED_CONCURRENCY`). */
    seedConcurrency: count.optional(),
    /** A seed fails when no peer serves a missing block for this long, ms (default 60 s). */
    seedStallTimeoutMs: count.optional(),
    /** Limits of the segments server (defaults in `protocols/segments/constants.ts`). */
    server: z
      .strictObject({
        /** Requests waiting for a serving slot (default 1024). */
        maxQueued: count.optional(),
        /** Of those, from one peer (default 96). */
        maxQueuedPerPeer: count.optional(),
        /** Requests served at once (default 32). */
        maxActive: count.optional(),
        /** Of those, for one peer (default 2). */
        maxActivePerPeer: count.optional(),
      })
      .optional(),
    /** FAULT INJECTION for tests and simulations: serve corrupt blocks (default off). */
    faultInjection: z.strictObject({ corruptBlocks: z.boolean().optional() }).optional(),
    /** Monotonic time source for rate measurement, a function (simulations; default `performance.now`). */
    timer: z.custom<() => number>((value) => typeof value === 'function', 'expected a function').optional(),
  }),
  components: ['libp2p', 'helia', 'clock', 'network', 'records', 'metrics', 'keys', 'credentials'],
  layout: DELIVERY_LAYOUT,
  create: (components, options) => new DeliveryRole(components, options),
})
