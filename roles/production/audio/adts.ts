import { concatBytes } from './bytes.ts'
import { CorruptAudioError, PreviewCutError, TruncatedAudioError, UnsupportedAudioError } from './errors.ts'
import { skipId3v2, trailingTagsStart } from './tags.ts'
import type { ScannedAudio } from './types.ts'

/** The sampling frequencies ADTS headers index (ISO/IEC 14496-3, table 1.18). */
export const AAC_SAMPLE_RATES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
]
/** Samples in one AAC raw data block. */
export const AAC_FRAME_SAMPLES = 1024
const ADTS_HEADER_BYTES = 7

interface AdtsHeader {
  length: number
  sampleRate: number
  channels: number
  blocks: number
}

function readAdtsHeader(b: Uint8Array, at: number): AdtsHeader | null {
  if (at + ADTS_HEADER_BYTES > b.length || b[at] !== 0xff || (b[at + 1]! & 0xf6) !== 0xf0) return null
  const rateIndex = (b[at + 2]! >> 2) & 0x0f
  const channels = ((b[at + 2]! & 1) << 2) | (b[at + 3]! >> 6)
  const length = ((b[at + 3]! & 3) << 11) | (b[at + 4]! << 3) | (b[at + 5]! >> 5)
  if (rateIndex >= AAC_SAMPLE_RATES.length || length < ADTS_HEADER_BYTES) return null
  return { length, sampleRate: AAC_SAMPLE_RATES[rateIndex]!, channels, blocks: (b[at + 6]! & 3) + 1 }
}

/** Does the stream start with an ADTS frame header (after any ID3v2 tag)? */
export function looksLikeAdts(bytes: Uint8Array, at: number): boolean {
  const h = readAdtsHeader(bytes, at)
  return h != null && (at + h.length >= bytes.length || readAdtsHeader(bytes, at + h.length) != null)
}

/** An ADTS header for one raw AAC frame (MPEG-4, no CRC). */
export function adtsHeader(profile: number, rateIndex: number, channels: number, payloadBytes: number): Uint8Array {
  const length = ADTS_HEADER_BYTES + payloadBytes
  return Uint8Array.of(
    0xff,
    0xf1,
    (profile << 6) | (rateIndex << 2) | (channels >> 2),
    ((channels & 3) << 6) | (length >> 11),
    (length >> 3) & 0xff,
    ((length & 7) << 5) | 0x1f,
    0xfc,
  )
}

/**
 * Raw AAC in ADTS frames (`.aac`): each header gives its frame's length, so the walk sees a cut-off last frame. A
 * clip is whole frames without the tags.
 */
export function scanAdts(bytes: Uint8Array, name: string): ScannedAudio {
  const start = skipId3v2(bytes, name)
  const end = trailingTagsStart(bytes, start)
  const first = readAdtsHeader(bytes, start)
  if (first == null) throw new UnsupportedAudioError(`${name}: not an ADTS AAC stream`)
  const frames: Array<{ offset: number; length: number; firstSample: number; samples: number }> = []
  let pos = start
  let sample = 0
  while (pos < end) {
    const h = readAdtsHeader(bytes, pos)
    if (h == null || h.sampleRate !== first.sampleRate) {
      throw new CorruptAudioError(`${name}: no valid ADTS frame header at ${pos}`)
    }
    if (pos + h.length > end) {
      throw new TruncatedAudioError(`${name}: the last ADTS frame (at ${pos}) runs past the end: the file is cut off`)
    }
    frames.push({ offset: pos, length: h.length, firstSample: sample, samples: h.blocks * AAC_FRAME_SAMPLES })
    sample += h.blocks * AAC_FRAME_SAMPLES
    pos += h.length
  }
  return {
    format: 'adts',
    codec: 'aac',
    mime: 'audio/aac',
    sampleRate: first.sampleRate,
    channels: first.channels,
    totalSamples: sample,
    cut(startSample, endSample) {
      const chosen = frames.filter((f) => f.firstSample + f.samples > startSample && f.firstSample < endSample)
      if (chosen.length === 0)
        throw new PreviewCutError(`${name}: no ADTS frame in samples ${startSample}-${endSample}`)
      return {
        bytes: concatBytes(chosen.map((f) => bytes.subarray(f.offset, f.offset + f.length))),
        codec: 'aac',
        mime: 'audio/aac',
        startSample: chosen[0]!.firstSample,
        samples: chosen.reduce((sum, f) => sum + f.samples, 0),
      }
    },
  }
}
