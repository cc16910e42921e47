import { z } from 'zod'
import { blockCid, bytes, count, grid, icpn, isrc, keyId, sequence, text } from '../fields.ts'
import { commonFields } from './common.ts'

/** Audio codecs a manifest may name (detected from the file's content at packaging). */
export const CODECS = ['flac', 'mp3', 'wav', 'aac', 'vorbis', 'opus'] as const
export type Codec = (typeof CODECS)[number]

/** At the default 256 KiB segment size this is 4 GiB of audio: beyond any real recording. */
export const MAX_SEGMENTS = 16_384
/** Segment sizes a producer may choose: at least 16 KiB (per-block overhead), at most 1 MiB (bitswap's block limit is 2 MiB). */
export const MIN_SEGMENT_BYTES = 16 * 1024
export const MAX_SEGMENT_BYTES = 1024 * 1024

/**
 * The preview clip is packaged apart from the track: its own segments, sealed under a key that the manifest
 * publishes, so anyone may play it and it reveals nothing of the rest of the recording.
 */
export const previewFields = z
  .object({
    startMs: count,
    durationMs: count.min(1),
    codec: z.enum(CODECS),
    mime: text(64),
    byteSize: count.min(1),
    keyId,
    key: bytes(32),
    segments: z.array(blockCid).min(1).max(MAX_SEGMENTS),
  })
  .strict()

/** `consort/manifest`: one recording, encrypted, as a list of segment blocks. */
export const manifestBody = z
  .object({
    ...commonFields,
    seq: sequence,
    isrc,
    title: text(),
    version: text().nullable(),
    artists: z.array(text()).min(1).max(64),
    release: z.object({ icpn: icpn.nullable(), grid: grid.nullable(), title: text() }).strict().nullable(),
    genre: text(128).nullable(),
    label: text().nullable(),
    year: z.number().int().min(1800).max(9999).nullable(),
    durationMs: count.min(1),
    codec: z.enum(CODECS),
    mime: text(64),
    byteSize: count.min(1),
    segmentSize: count.min(MIN_SEGMENT_BYTES).max(MAX_SEGMENT_BYTES),
    segments: z.array(blockCid).min(1).max(MAX_SEGMENTS),
    keyId,
    preview: previewFields.nullable(),
  })
  .strict()
  .refine((b) => b.segments.length === Math.ceil(b.byteSize / b.segmentSize), {
    path: ['segments'],
    message: 'the number of segments does not match byteSize / segmentSize',
  })
export type ManifestBody = z.infer<typeof manifestBody>
