import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'

/**
 * What a delivery node has been told to carry, one entry per seeded root (a manifest or a release) under
 * `seed/<cid>` in the role's sublevel, as DAG-CBOR. `pending` seeds are resumed at start.
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

const seedEntry = z
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

export const SEED_PREFIX = 'seed/'
export const seedKey = (cid: string): string => `${SEED_PREFIX}${cid}`

export function encodeSeed(entry: SeedEntry): Uint8Array {
  return dagCbor.encode(entry)
}

export function decodeSeed(bytes: Uint8Array): SeedEntry {
  return seedEntry.parse(dagCbor.decode(bytes))
}
