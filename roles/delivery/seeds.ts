import { z } from 'zod'
import { codecs, defineLayout, repository } from '../store.ts'

/**
 * What a delivery node has been told to carry, one entry per seeded root (a manifest or a release) under
 * `seed/<cid>` in the role's store (`DELIVERY_LAYOUT`). `pending` seeds are resumed at start.
 */
export const SEED_STATES = ['pending', 'complete', 'failed'] as const
export type SeedState = (typeof SEED_STATES)[number]
export type SeedKind = 'manifest' | 'release'

export interface SeedEntry {
  cid: string
  kind: SeedKind | null
  state: SeedState
  /** Clock time the seed was asked for. */
  added: number
  completed: number | null
  /** The manifests carried (the root itself for a manifest seed). */
  manifests: string[]
  /** Blocks held for this seed once complete (records and segments). */
  blocks: number
  error: string | null
}

const seedEntry: z.ZodType<SeedEntry> = z
  .object({
    cid: z.string().min(1).max(128),
    kind: z.enum(['manifest', 'release']).nullable(),
    state: z.enum(SEED_STATES),
    added: z.number().int().nonnegative(),
    completed: z.number().int().nonnegative().nullable(),
    manifests: z.array(z.string().min(1).max(128)).max(1000),
    blocks: z.number().int().nonnegative(),
    error: z.string().max(1024).nullable(),
  })
  .strict()

/**
 * The delivery role's store (the layout it has had since it began; version 1 recorded from now on).
 *
 * | key | value |
 * | --- | --- |
 * | `seed/<root cid>` | a `SeedEntry`, DAG-CBOR |
 * | sublevel `roots` | the roots the segments service announces (`protocols/segments/announcer.ts`) |
 */
export const DELIVERY_LAYOUT = defineLayout({
  role: 'delivery',
  version: 1,
  versionKey: 'meta/layout-version',
  repositories: { seeds: repository('seed/', codecs.cbor(seedEntry)) },
  sublevels: ['roots'],
})
