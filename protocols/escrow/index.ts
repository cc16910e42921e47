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
/**
 * The refusals of `/escrow/1`, the protocol's one list of wire codes (decision 0014); each has its class in
 * `errors.ts`. A malformed deposit is the shared `ERR_BAD_REQUEST`.
 */
export const ESCROW_CODES = {
  /**
   * A record of the deposit does not decode or is not signed by a certified producer, a key is sealed to another
   * registration manager or does not open, an escrow differs from its manifest, or its key id is another producer's.
   */
  escrowInvalid: 'ERR_ESCROW_INVALID',
} as const
/** Tracks one deposit may carry (a box set). */
export const MAX_ESCROWS_PER_DEPOSIT = 1000
/** The seal context of a content key in a `consort/escrow` record (`keys/seal.ts`; see `keys/README.md`). */
export const ESCROW_SEAL_CONTEXT = 'consort/escrow/content-key'

export const depositRequest = z
  .object({
    escrows: z.array(recordBytes).min(1).max(MAX_ESCROWS_PER_DEPOSIT),
    manifests: z.array(recordBytes).max(MAX_ESCROWS_PER_DEPOSIT),
    release: recordBytes.nullable(),
    /** The producer's certificate, so the registrar need not have seen it yet. Optional: older senders omit it. */
    attachments: z.array(recordBytes).max(4).optional(),
  })
  .strict()
export const depositResponse = z.object({ stored: z.number().int().nonnegative() }).strict()
