import { z } from 'zod'
import { canonicalIcpn } from '../../identifiers/index.ts'
import { blockCid, grid, icpn, isrc, recordCid, sequence, text } from '../fields.ts'
import { commonFields } from './common.ts'

/** Most tracks on one release (box sets run to a few hundred). */
export const MAX_RELEASE_TRACKS = 1000

/** `consort/release`: a product (album, single, EP) listing its track manifests in order. */
export const releaseBody = z
  .object({
    ...commonFields,
    seq: sequence,
    icpn: icpn.nullable(),
    grid: grid.nullable(),
    title: text(),
    artists: z.array(text()).min(1).max(64),
    type: text(64),
    label: text().nullable(),
    genre: text(128).nullable(),
    releaseDate: z
      .string()
      .regex(/^\d{4}(-\d{2}(-\d{2})?)?$/, 'an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)')
      .nullable(),
    tracks: z
      .array(z.object({ isrc, manifest: recordCid }).strict())
      .min(1)
      .max(MAX_RELEASE_TRACKS),
    artwork: blockCid.nullable(),
  })
  .strict()
  .refine((b) => b.icpn != null || b.grid != null, {
    path: ['icpn'],
    message: 'a release needs an ICPN (UPC/EAN) or a GRid',
  })
export type ReleaseBody = z.infer<typeof releaseBody>

/**
 * The stable content id of a release, in its canonical form (the record keeps the code as the label's message gave
 * it, 12, 13 or 14 digits): its ICPN if it has one, else its GRid.
 */
export function releaseContentId(body: Pick<ReleaseBody, 'icpn' | 'grid'>): string {
  if (body.icpn != null) return `icpn:${canonicalIcpn(body.icpn)}`
  return `grid:${body.grid}`
}
