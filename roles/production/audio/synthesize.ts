import { SynthesisError } from './errors.ts'
import { pcmFormatChunk, wavFile } from './wav.ts'

/**
 * Audio made up where a delivery names a file that is not there (`--synthesize-missing`, for tests and demos): a
 * real WAV file of the stated duration holding a sine tone with short fades, which any player plays. Low rate and
 * mono by default, so a whole album of stand-ins stays small.
 */
export interface SynthesizeOptions {
  sampleRate?: number
  channels?: 1 | 2
  /** Tone frequency; callers vary it per track so stand-ins are told apart by ear. */
  frequencyHz?: number
}

export const SYNTH_DEFAULTS = { sampleRate: 8000, channels: 1, frequencyHz: 440 } as const
/** Longest stand-in: two hours, past any real recording, short of a runaway allocation (115 MB at the defaults). */
export const MAX_SYNTH_MS = 2 * 3600_000
const FADE_MS = 10
const AMPLITUDE = 0.3 * 32767

export function synthesizeWav(durationMs: number, options: SynthesizeOptions = {}): Uint8Array {
  if (!Number.isSafeInteger(durationMs) || durationMs <= 0 || durationMs > MAX_SYNTH_MS) {
    throw new SynthesisError(`cannot synthesize ${durationMs} ms of audio (1 to ${MAX_SYNTH_MS})`)
  }
  const rate = options.sampleRate ?? SYNTH_DEFAULTS.sampleRate
  const channels = options.channels ?? SYNTH_DEFAULTS.channels
  const frequency = options.frequencyHz ?? SYNTH_DEFAULTS.frequencyHz
  const frames = Math.round((durationMs * rate) / 1000)
  const frameBytes = channels * 2
  const pcm = new Uint8Array(frames * frameBytes)
  const view = new DataView(pcm.buffer)
  const step = (2 * Math.PI * frequency) / rate
  const sample = (i: number, gain: number) => {
    const value = Math.round(Math.sin(step * i) * AMPLITUDE * gain)
    for (let c = 0; c < channels; c++) view.setInt16((i * channels + c) * 2, value, true)
  }
  // A whole number of hertz repeats every second: compute one second, then copy it along.
  const period = Number.isInteger(frequency) ? Math.min(frames, rate) : frames
  for (let i = 0; i < period; i++) sample(i, 1)
  for (let filled = period; filled < frames; ) {
    const take = Math.min(filled, frames - filled)
    pcm.copyWithin(filled * frameBytes, 0, take * frameBytes)
    filled += take
  }
  const fade = Math.max(1, Math.min(Math.floor(frames / 2), Math.round((FADE_MS * rate) / 1000)))
  for (let i = 0; i < fade; i++) {
    sample(i, i / fade)
    sample(frames - 1 - i, i / fade)
  }
  return wavFile(pcmFormatChunk(channels, rate, 16), pcm)
}
