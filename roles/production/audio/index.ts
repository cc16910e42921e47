import { parseBuffer } from 'music-metadata'
import type { Codec } from '../../../protocols/records/types/manifest.ts'
import { scanAdts } from './adts.ts'
import { detectAudioFormat } from './detect.ts'
import { AudioTooLargeError, CorruptAudioError, PreviewCutError, UnsupportedAudioError } from './errors.ts'
import { scanFlac } from './flac.ts'
import { scanMp3 } from './mp3.ts'
import { scanMp4 } from './mp4.ts'
import { scanOgg } from './ogg.ts'
import type { AudioFormat, CutAudio, ScannedAudio } from './types.ts'
import { scanWav } from './wav.ts'

/**
 * Audio in: what a file is (by its content), how long it plays, whether it is whole, and a playable clip of it.
 * `probeAudio` is the check an import runs on every file before writing anything; `cutClip` makes the preview.
 */

export * from './errors.ts'
export { MAX_SYNTH_MS, SYNTH_DEFAULTS, type SynthesizeOptions, synthesizeWav } from './synthesize.ts'
export type { AudioFormat, CutAudio, ScannedAudio } from './types.ts'
export { detectAudioFormat }

/**
 * Largest audio file accepted. A track is read whole into memory while it is checked and packaged: 1 GiB is about
 * an hour of 24-bit/96 kHz stereo, beyond any single recording a label delivers.
 */
export const MAX_AUDIO_BYTES = 1024 * 1024 * 1024

/** What an import needs to know about one audio file. */
export interface AudioProbe {
  format: AudioFormat
  codec: Codec
  mime: string
  /** The codec as music-metadata names it (`FLAC`, `MPEG 1 Layer 3`, `PCM`...). */
  codecName: string
  durationMs: number
  sampleRate: number
  channels: number
  byteSize: number
}

const SCANNERS: Record<AudioFormat, (bytes: Uint8Array, name: string) => ScannedAudio> = {
  flac: scanFlac,
  wav: scanWav,
  mp3: scanMp3,
  mp4: scanMp4,
  adts: scanAdts,
  ogg: scanOgg,
}

/**
 * Detect the format from the content and walk its structure. Throws `UnsupportedAudioError`, `TruncatedAudioError`,
 * `CorruptAudioError`, `AudioTooLargeError`, each naming `name` (the file) and what is wrong.
 */
export function scanAudio(bytes: Uint8Array, name = 'audio'): ScannedAudio {
  if (bytes.length > MAX_AUDIO_BYTES) {
    throw new AudioTooLargeError(`${name}: ${bytes.length} bytes, more than ${MAX_AUDIO_BYTES} (MAX_AUDIO_BYTES)`)
  }
  if (bytes.length === 0) throw new UnsupportedAudioError(`${name}: the file is empty`)
  const format = detectAudioFormat(bytes)
  if (format == null) {
    throw new UnsupportedAudioError(`${name}: not FLAC, WAV, MP3, AAC (ADTS or MP4/M4A) or Ogg Vorbis/Opus audio`)
  }
  return SCANNERS[format](bytes, name)
}

/**
 * Check a file and read its duration and codec with music-metadata. The structural scan refuses what
 * music-metadata would accept with a guess (a file cut off mid-stream still has a readable header).
 */
export async function probeAudio(bytes: Uint8Array, name = 'audio'): Promise<AudioProbe> {
  const scanned = scanAudio(bytes, name)
  let metadata: Awaited<ReturnType<typeof parseBuffer>>
  try {
    metadata = await parseBuffer(
      bytes,
      { mimeType: scanned.mime, size: bytes.length },
      { duration: true, skipCovers: true, skipPostHeaders: true },
    )
  } catch (err) {
    throw new CorruptAudioError(`${name}: unreadable as ${scanned.format}: ${(err as Error).message}`, { cause: err })
  }
  const seconds = metadata.format.duration
  const fromStructure = scanned.totalSamples / scanned.sampleRate
  const durationMs = Math.round(
    (seconds != null && Number.isFinite(seconds) && seconds > 0 ? seconds : fromStructure) * 1000,
  )
  if (durationMs <= 0) throw new CorruptAudioError(`${name}: holds no audio (duration 0)`)
  return {
    format: scanned.format,
    codec: scanned.codec,
    mime: scanned.mime,
    codecName: metadata.format.codec ?? scanned.codec,
    durationMs,
    sampleRate: scanned.sampleRate,
    channels: scanned.channels,
    byteSize: bytes.length,
  }
}

/** A clip as a playable file, with its place in the recording in milliseconds. */
export interface Clip extends CutAudio {
  startMs: number
  durationMs: number
}

/**
 * Cut [startMs, startMs + durationMs) out of the recording as a file of its own, on the format's boundaries (so it
 * may start a little earlier and end a little later than asked). Throws `PreviewCutError` when the range lies outside
 * the recording or the stream cannot be cut.
 */
export function cutClip(scanned: ScannedAudio, startMs: number, durationMs: number): Clip {
  const total = scanned.totalSamples
  const from = Math.floor((startMs * scanned.sampleRate) / 1000)
  const to = Math.min(total, Math.ceil(((startMs + durationMs) * scanned.sampleRate) / 1000))
  if (durationMs <= 0 || from >= total || to <= from) {
    throw new PreviewCutError(`clip ${startMs}+${durationMs} ms lies outside the recording`)
  }
  const cut = scanned.cut(from, to)
  const clipStart = Math.floor((cut.startSample * 1000) / scanned.sampleRate)
  return {
    ...cut,
    startMs: clipStart,
    durationMs: Math.max(1, Math.round((cut.samples * 1000) / scanned.sampleRate)),
  }
}
