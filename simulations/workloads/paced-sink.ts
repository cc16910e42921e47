import type { AudioSink } from '../../roles/player/index.ts'

/** Bytes per second of the production role's synthesized stand-in audio (WAV, 8 kHz, mono, 16 bit). */
export const SYNTH_BYTES_PER_SECOND = 16_000
/** Audio an output device buffers ahead of what it is playing (a write returns once the rest fits in it). */
export const PLAYBACK_BUFFER_MS = 500

/**
 * Where a simulated listener's decrypted audio goes: nowhere (there are no speakers), but at the speed it plays,
 * as to a sound card: a write returns at once while the device's buffer has room, and waits while more than
 * PLAYBACK_BUFFER_MS of audio is queued ahead of playback; `close()` returns when the last sample has played. A
 * play of 30 s therefore lasts 30 s of virtual time, usage events end when the audio ends, and the first audio is
 * heard as soon as the first segment is decrypted.
 */
export class PacedSink implements AudioSink {
  readonly description = 'paced discard (simulation)'
  readonly #bytesPerSecond: number
  readonly #onFirstAudio: (() => void) | undefined
  /** Virtual time (performance.now()) at which the audio written so far will have played. */
  #playedUntil = 0
  bytes = 0

  /** `onFirstAudio` is called when the first audio reaches the device (the moment a listener hears it). */
  constructor(bytesPerSecond = SYNTH_BYTES_PER_SECOND, onFirstAudio?: () => void) {
    this.#bytesPerSecond = bytesPerSecond
    this.#onFirstAudio = onFirstAudio
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.bytes === 0 && chunk.byteLength > 0) this.#onFirstAudio?.()
    this.bytes += chunk.byteLength
    const now = performance.now()
    this.#playedUntil = Math.max(now, this.#playedUntil) + (chunk.byteLength / this.#bytesPerSecond) * 1000
    await until(this.#playedUntil - PLAYBACK_BUFFER_MS)
  }

  async close(): Promise<void> {
    await until(this.#playedUntil)
  }
}

function until(t: number): Promise<void> | undefined {
  const wait = t - performance.now()
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : undefined
}
