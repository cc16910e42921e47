import { z } from 'zod'
import { contentId, id, publicKey, recordCid, timestamp } from '../fields.ts'
import { commonFields } from './common.ts'

/** Longest a share may run, from `created` to `expires`: a year bounds how long a leaked link can be replayed. */
export const MAX_SHARE_LIFETIME_MS = 366 * 24 * 3600_000

/** Who may refer: a consumer (its account key) or a retailer (its node's key, certified for the `retailer` role). */
export const REFERRER_KINDS = ['account', 'retailer'] as const
export type ReferrerKind = (typeof REFERRER_KINDS)[number]
export const referrerKind = z.enum(REFERRER_KINDS)

/**
 * What a share points at: the track (`isrc:…`) and/or the release (`icpn:…` or `grid:…`) — a purchase matches the
 * share when its offer sells either — and the `consort/manifest` of a recording to preview from the swarm at once.
 */
export const sharedContent = z
  .object({
    track: contentId.refine((c) => c.startsWith('isrc:'), 'a track is named by its ISRC (isrc:…)').nullable(),
    release: contentId
      .refine((c) => !c.startsWith('isrc:'), 'a release is named by its UPC/EAN (icpn:…) or GRid (grid:…)')
      .nullable(),
    manifest: recordCid,
  })
  .strict()
  .refine((c) => c.track !== null || c.release !== null, { message: 'names neither a track nor a release' })
export type SharedContent = z.infer<typeof sharedContent>

/**
 * `consort/share`: a signed content reference, made by a referrer for anyone it passes it to (a URL, a QR code).
 * Signed by `referrer.key` itself — an account key for a consumer, the retailer node's key for a retailer — and by
 * nothing else (`protocols/trust`: signer rule `referrer`). `id` is the referrer's random choice, unique per share;
 * with the buyer's account it keys the one referral credit a share can earn for that buyer. `offer` optionally
 * names the offer id the referrer recommends. A purchase whose order carries it credits the referrer as the
 * contract's `referral` clause says (docs/decisions/0512-referral-credits.md), if the clearinghouse's own time of
 * the purchase is before `expires`.
 */
export const shareBody = z
  .object({
    ...commonFields,
    id,
    content: sharedContent,
    referrer: z.object({ kind: referrerKind, key: publicKey }).strict(),
    offer: id.nullable(),
    expires: timestamp,
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.expires <= b.created) ctx.addIssue({ code: 'custom', path: ['expires'], message: 'must come after created' })
    else if (b.expires - b.created > MAX_SHARE_LIFETIME_MS)
      ctx.addIssue({ code: 'custom', path: ['expires'], message: `at most ${MAX_SHARE_LIFETIME_MS} ms after created` })
  })
export type ShareBody = z.infer<typeof shareBody>
