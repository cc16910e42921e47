import { concatBytes, startsWithAscii, u32be } from './bytes.ts'
import { CorruptAudioError, PreviewCutError, TruncatedAudioError, UnsupportedAudioError } from './errors.ts'
import { skipId3v2, trailingTagsStart } from './tags.ts'
import type { ScannedAudio } from './types.ts'

const BITRATES_V1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
const BITRATES_V2_L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
const RATES = { 1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 25: [11025, 12000, 8000] } as const
/** How far past the tags the first frame may be looked for, and the most junk tolerated between frames. */
const MAX_SYNC_SEARCH_BYTES = 64 * 1024
/**
 * Frames the clip starts early: Layer III frames borrow up to 511 bytes from earlier ones (the bit reservoir), so
 * the clip's first frame may not decode; one frame (26 ms at 44.1 kHz) of pre-roll keeps the asked range intact.
 */
const PREROLL_FRAMES = 1

export interface Mp3Header {
  version: 1 | 2 | 25
  sampleRate: number
  channels: number
  length: number
  samples: number
  sideInfoBytes: number
  crc: boolean
}

/** An MPEG audio Layer III frame header at `at`, or null. */
export function readMp3Header(b: Uint8Array, at: number): Mp3Header | null {
  if (at + 4 > b.length) return null
  const h = u32be(b, at)
  if (h >>> 21 !== 0x7ff) return null
  const versionBits = (h >>> 19) & 3
  if (versionBits === 1 || ((h >>> 17) & 3) !== 1) return null
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 25
  const bitrateIndex = (h >>> 12) & 0xf
  const rateIndex = (h >>> 10) & 3
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null
  const bitrate = (version === 1 ? BITRATES_V1_L3 : BITRATES_V2_L3)[bitrateIndex]! * 1000
  const sampleRate = RATES[version][rateIndex]!
  const padding = (h >>> 9) & 1
  const mono = ((h >>> 6) & 3) === 3
  const samples = version === 1 ? 1152 : 576
  return {
    version,
    sampleRate,
    channels: mono ? 1 : 2,
    length: Math.floor(((samples / 8) * bitrate) / sampleRate) + padding,
    samples,
    sideInfoBytes: version === 1 ? (mono ? 17 : 32) : mono ? 9 : 17,
    crc: ((h >>> 16) & 1) === 0,
  }
}

function sameStream(a: Mp3Header, b: Mp3Header): boolean {
  return a.version === b.version && a.sampleRate === b.sampleRate
}

/**
 * A Xing/Info or VBRI frame: an MP3 header frame that carries no audio. Returns null when the frame is audio, else
 * the number of audio frames it announces (null count when it gives none).
 */
function infoFrame(b: Uint8Array, at: number, h: Mp3Header): { frames: number | null } | null {
  const side = at + 4 + (h.crc ? 2 : 0) + h.sideInfoBytes
  if (startsWithAscii(b, 'Xing', side) || startsWithAscii(b, 'Info', side)) {
    const hasFrames = side + 12 <= b.length && (u32be(b, side + 4) & 1) !== 0
    return { frames: hasFrames ? u32be(b, side + 8) : null }
  }
  if (startsWithAscii(b, 'VBRI', at + 36)) return { frames: at + 36 + 18 <= b.length ? u32be(b, at + 36 + 14) : null }
  return null
}

/**
 * MP3 (MPEG-1/2/2.5 Layer III): frames walked from the first one after the ID3v2 tags to the trailing tags; a frame
 * that runs past the end means the file is cut off. A clip is whole frames (one of pre-roll) without the tags or the
 * Xing/Info frame, so it holds nothing but the audio of its range.
 */
export function scanMp3(bytes: Uint8Array, name: string): ScannedAudio {
  const start = skipId3v2(bytes, name)
  const end = trailingTagsStart(bytes, start)
  let pos = start
  let first = readMp3Header(bytes, pos)
  while (first == null || !followedByFrame(bytes, pos, first, end)) {
    pos = bytes.indexOf(0xff, pos + 1)
    if (pos < 0 || pos - start > MAX_SYNC_SEARCH_BYTES) throw new UnsupportedAudioError(`${name}: no MP3 frames found`)
    first = readMp3Header(bytes, pos)
  }
  const offsets: number[] = []
  const lengths: number[] = []
  let skipped = 0
  let header: Mp3Header | null = first
  const info = infoFrame(bytes, pos, first)
  if (info != null) pos += first.length
  while (pos < end) {
    header = readMp3Header(bytes, pos)
    if (header == null || !sameStream(header, first)) {
      // Resynchronise over a little junk, as players do; a lot of it is not an MP3 stream.
      const resumed = resync(bytes, pos, end, first)
      if (resumed < 0) throw new CorruptAudioError(`${name}: no valid MP3 frame at ${pos} and none after it`)
      skipped += resumed - pos
      if (skipped > MAX_SYNC_SEARCH_BYTES) throw new CorruptAudioError(`${name}: too much junk between MP3 frames`)
      pos = resumed
      continue
    }
    if (pos + header.length > end) {
      throw new TruncatedAudioError(`${name}: the last MP3 frame (at ${pos}) runs past the end: the file is cut off`)
    }
    offsets.push(pos)
    lengths.push(header.length)
    pos += header.length
  }
  if (offsets.length === 0) throw new CorruptAudioError(`${name}: no MP3 audio frames`)
  if (info?.frames != null && offsets.length < info.frames) {
    throw new TruncatedAudioError(
      `${name}: the Info header announces ${info.frames} frames, the file holds ${offsets.length}: it is cut off`,
    )
  }
  const samplesPerFrame = first.samples
  return {
    format: 'mp3',
    codec: 'mp3',
    mime: 'audio/mpeg',
    sampleRate: first.sampleRate,
    channels: first.channels,
    totalSamples: offsets.length * samplesPerFrame,
    cut(startSample, endSample) {
      const from = Math.max(0, Math.floor(startSample / samplesPerFrame) - PREROLL_FRAMES)
      const to = Math.min(offsets.length, Math.ceil(endSample / samplesPerFrame))
      if (to <= from) throw new PreviewCutError(`${name}: no MP3 frame in samples ${startSample}-${endSample}`)
      const parts: Uint8Array[] = []
      for (let i = from; i < to; i++) parts.push(bytes.subarray(offsets[i]!, offsets[i]! + lengths[i]!))
      return {
        bytes: concatBytes(parts),
        codec: 'mp3',
        mime: 'audio/mpeg',
        startSample: from * samplesPerFrame,
        samples: (to - from) * samplesPerFrame,
      }
    },
  }
}

function followedByFrame(b: Uint8Array, at: number, h: Mp3Header, end: number): boolean {
  const next = at + h.length
  if (next >= end) return true
  const following = readMp3Header(b, next)
  return following != null && sameStream(following, h)
}

function resync(b: Uint8Array, from: number, end: number, first: Mp3Header): number {
  for (let at = b.indexOf(0xff, from + 1); at >= 0 && at < end; at = b.indexOf(0xff, at + 1)) {
    if (at - from > MAX_SYNC_SEARCH_BYTES) return -1
    const h = readMp3Header(b, at)
    if (h != null && sameStream(h, first) && followedByFrame(b, at, h, end)) return at
  }
  return -1
}
