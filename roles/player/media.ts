import type { CID } from 'multiformats/cid'
import { decryptSegment, KEY_ID_BYTES } from '../../keys/segments.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { DecryptionError } from './errors.ts'

/**
 * A track as the player plays it: the full recording (under the licence's content key) or its preview clip
 * (under the key the manifest publishes). Positions in the audio are mapped to bytes in proportion to the
 * track's duration: exact for constant-bitrate codecs and close for the others, which is all that counting
 * seconds and serving byte ranges need.
 */
export interface Track {
  readonly manifest: SignedRecord<'consort/manifest'>
  readonly isrc: string
  readonly kind: 'full' | 'preview'
  readonly segments: readonly CID[]
  readonly keyId: Uint8Array
  readonly byteSize: number
  readonly durationMs: number
  /** Plaintext bytes per segment (the last one may be shorter). */
  readonly segmentSize: number
  readonly codec: string
  readonly mime: string
}

export function fullTrack(manifest: SignedRecord<'consort/manifest'>): Track {
  const b = manifest.body
  return {
    manifest,
    isrc: b.isrc,
    kind: 'full',
    segments: b.segments,
    keyId: b.keyId,
    byteSize: b.byteSize,
    durationMs: b.durationMs,
    segmentSize: b.segmentSize,
    codec: b.codec,
    mime: b.mime,
  }
}

/** The preview clip of a manifest, with its published key; null when it has none. */
export function previewTrack(manifest: SignedRecord<'consort/manifest'>): { track: Track; key: Uint8Array } | null {
  const p = manifest.body.preview
  if (p == null) return null
  // The clip is cut like the track; when its segment count says otherwise, fall back to one even split.
  const segmentSize =
    Math.ceil(p.byteSize / manifest.body.segmentSize) === p.segments.length
      ? manifest.body.segmentSize
      : Math.ceil(p.byteSize / p.segments.length)
  return {
    track: {
      manifest,
      isrc: manifest.body.isrc,
      kind: 'preview',
      segments: p.segments,
      keyId: p.keyId,
      byteSize: p.byteSize,
      durationMs: p.durationMs,
      segmentSize,
      codec: p.codec,
      mime: p.mime,
    },
    key: p.key,
  }
}

/** Milliseconds of audio before byte `offset` of the track. */
export function msAtByte(track: Pick<Track, 'byteSize' | 'durationMs'>, offset: number): number {
  if (offset >= track.byteSize) return track.durationMs
  return Math.floor((offset * track.durationMs) / track.byteSize)
}

/** The byte where millisecond `ms` of the track begins. */
export function byteAtMs(track: Pick<Track, 'byteSize' | 'durationMs'>, ms: number): number {
  if (ms >= track.durationMs) return track.byteSize
  return Math.floor((ms * track.byteSize) / track.durationMs)
}

/** The segment holding byte `offset`. */
export function segmentOfByte(track: Pick<Track, 'segmentSize'>, offset: number): number {
  return Math.floor(offset / track.segmentSize)
}

/**
 * Decrypt segment `index` of a track. A tag that does not verify means a wrong key (a licence for another device
 * opens nothing, so this is only reached with a key that opened but is not this track's) or a corrupt block.
 */
export function decryptTrackSegment(track: Track, key: Uint8Array, index: number, block: Uint8Array): Uint8Array {
  if (track.keyId.length !== KEY_ID_BYTES) throw new DecryptionError(`key id of ${track.isrc} is malformed`)
  try {
    return decryptSegment(key, track.keyId, index, block)
  } catch (err) {
    throw new DecryptionError(
      `segment ${index} of ${track.isrc} (${track.kind}) does not decrypt: ${(err as Error).message}`,
    )
  }
}
