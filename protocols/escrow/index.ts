import { z } from 'zod'
import { recordBytes } from '../messages.ts'

/**
 * `/consort/<net>/escrow/1` — a producer deposits content keys with a registration manager, sealed to it.
 *
 * - `deposit`: `escrows` are `consort/escrow` records addressed to this registrar; `release` is the release
 *   record (so the registrar can expand a release id into its tracks when licensing an album offer) and
 *   `manifests` the tracks' manifests. Idempotent by record id. Escrows are never gossiped.
 */
export const ESCROW_PROTOCOL = 'escrow'
export const ESCROW_OPS = { deposit: 'deposit' } as const
/** Tracks one deposit may carry (a box set). */
export const MAX_ESCROWS_PER_DEPOSIT = 1000

export const depositRequest = z
  .object({
    escrows: z.array(recordBytes).min(1).max(MAX_ESCROWS_PER_DEPOSIT),
    manifests: z.array(recordBytes).max(MAX_ESCROWS_PER_DEPOSIT),
    release: recordBytes.nullable(),
  })
  .strict()
export const depositResponse = z.object({ stored: z.number().int().nonnegative() }).strict()
