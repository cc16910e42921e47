import type { Codec } from '../../../protocols/records/types/manifest.ts'

/** Containers the reader knows; `mp4` is AAC in MP4/M4A, `adts` raw AAC with ADTS headers. */
export type AudioFormat = 'flac' | 'wav' | 'mp3' | 'mp4' | 'adts' | 'ogg'

/** A stretch of the recording cut out as a playable file of its own. */
export interface CutAudio {
  bytes: Uint8Array
  codec: Codec
  mime: string
  /** First sample of the clip in the recording (per channel, at `sampleRate`). */
  startSample: number
  /** Samples the clip holds (per channel). */
  samples: number
}

/**
 * What the structural scan of one format found: enough to refuse a truncated or broken file and to cut a clip at
 * the format's own boundaries (frames, pages, blocks).
 */
export interface ScannedAudio {
  format: AudioFormat
  codec: Codec
  mime: string
  /** The rate `startSample`/`samples` count in (Opus: always 48 kHz). */
  sampleRate: number
  channels: number
  /** Samples per channel the structure accounts for. */
  totalSamples: number
  /**
   * A playable file holding at least samples [startSample, endSample) of the recording and as little more as the
   * format's boundaries allow. Throws `PreviewCutError` when the stream cannot be cut.
   */
  cut(startSample: number, endSample: number): CutAudio
}
