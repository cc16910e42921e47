/**
 * What paid delivery must pay (decision 0511), written from the decision's rules rather than imported from the
 * clearinghouse (`roles/clearinghouse/delivery.ts`), so that an error there shows up as a difference:
 *
 * - A track of `n` segments and `p` plaintext bytes is `S = p + 16·n` bytes on the wire (each segment carries its
 *   AES-256-GCM tag).
 * - A peer that delivered `b` verified bytes of a licensed fetch is owed, under a contract whose delivery fee is
 *   `perGB` (minor units per 10⁹ bytes) and `saleBps`, for a sale at price `P`:
 *   `D = ⌊b·perGB / 10⁹⌋ + ⌊P·saleBps·b / (10⁴·S)⌋`, paid by the contract's distributor. `D = 0` pays nothing.
 * - Per licence and track, the bytes paid over every receipt never exceed `S` (a re-download pays no second delivery):
 *   a peer's bytes are cut to what is left of `S`, in the order the receipts are settled.
 * - Who is paid: a certified delivery node; a player (a registered device) of another account when the network's
 *   policy pays seeding listeners, into that account's wallet; nobody else (an uncertified listener, the fetching
 *   device, another device of its account).
 */

/** Bytes in the decimal gigabyte a per-GB fee is priced in. */
export const BYTES_PER_GB = 1_000_000_000n
/** The AES-256-GCM tag each encrypted segment carries beyond its plaintext. */
export const SEGMENT_TAG_BYTES = 16

/** A contract's delivery fee, as far as the ground truth needs it (EUR). */
export interface DeliveryTerms {
  /** Minor units per decimal GB (10⁹ bytes of encrypted segments). */
  perGB: bigint
  /** Basis points of the sale's price, paid pro rata to the bytes of the track delivered. */
  saleBps: number
}

/** A track's size on the wire: its plaintext and a tag per segment. */
export function encryptedTrackBytes(manifest: { byteSize: number; segments: readonly unknown[] }): number {
  return manifest.byteSize + SEGMENT_TAG_BYTES * manifest.segments.length
}

/** `⌊b·perGB / 10⁹⌋ + ⌊P·saleBps·b / (10⁴·S)⌋`: what `bytes` of a track of `trackBytes` earn its deliverer. */
export function deliveryDue(terms: DeliveryTerms, price: bigint, bytes: number, trackBytes: number): bigint {
  if (bytes <= 0 || trackBytes <= 0) return 0n
  const b = BigInt(bytes)
  return (b * terms.perGB) / BYTES_PER_GB + (price * BigInt(terms.saleBps) * b) / (10_000n * BigInt(trackBytes))
}

/** The bytes of each licence and track paid so far: nothing beyond the track's size is paid. */
export class DeliveryCaps {
  readonly #paid = new Map<string, number>()

  /** How many of `bytes` may still be paid under `licence` for a track of `trackBytes` (and count them). */
  take(licence: string, track: string, bytes: number, trackBytes: number): number {
    const key = `${licence} ${track}`
    const before = this.#paid.get(key) ?? 0
    const granted = Math.max(0, Math.min(bytes, trackBytes - before))
    this.#paid.set(key, before + granted)
    return granted
  }
}
