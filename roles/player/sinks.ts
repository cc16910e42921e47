import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { constants } from 'node:fs'
import { access, type FileHandle, open, rm } from 'node:fs/promises'
import path from 'node:path'
import { PlayerError } from './errors.ts'

/**
 * Where decrypted audio goes as it is played: a file, or an audio device through a player program found on the
 * PATH. Plaintext never touches the disk except where the listener asked for it (`--out FILE`).
 */
export interface AudioSink {
  /** A human description (`file /tmp/x.flac`, `ffplay`). */
  readonly description: string
  write(chunk: Uint8Array): Promise<void>
  /** Flush and close; called once, also after an error. */
  close(): Promise<void>
  /** Close and remove what was written, when playback failed before any audio (no empty file is left behind). */
  discard?(): Promise<void>
}

/** There is no program on this machine that could play to an audio device. */
export class NoAudioDeviceError extends PlayerError {
  static override name = 'NoAudioDeviceError'
  override name = NoAudioDeviceError.name

  override readonly code = 'ERR_NO_AUDIO_DEVICE'
}

/** Writes audio to a file as it arrives (a listener may start another player on the growing file). */
export class FileSink implements AudioSink {
  readonly description: string
  readonly #file: string
  #handle: FileHandle | null = null
  #discarded = false

  constructor(file: string) {
    this.#file = file
    this.description = `file ${file}`
  }

  /** A sink on `file`, created (or emptied) at once, so that an unwritable path fails before playback starts. */
  static async open(file: string): Promise<FileSink> {
    const sink = new FileSink(file)
    sink.#handle = await open(file, 'w', 0o600)
    return sink
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#handle ??= await open(this.#file, 'w', 0o600)
    await this.#handle.write(chunk)
  }

  async close(): Promise<void> {
    if (this.#discarded) return
    if (this.#handle === null) this.#handle = await open(this.#file, 'w', 0o600)
    await this.#handle.sync()
    await this.#handle.close()
  }

  async discard(): Promise<void> {
    this.#discarded = true
    await this.#handle?.close().catch(() => {})
    this.#handle = null
    await rm(this.#file, { force: true })
  }
}

/** Programs that play audio from standard input, in order of preference, and the codecs each can read. */
const AUDIO_PLAYERS: ReadonlyArray<{ program: string; args: string[]; codecs: readonly string[] | null }> = [
  { program: 'ffplay', args: ['-nodisp', '-autoexit', '-loglevel', 'error', '-i', 'pipe:0'], codecs: null },
  { program: 'mpv', args: ['--no-video', '--really-quiet', '-'], codecs: null },
  { program: 'paplay', args: [], codecs: ['wav', 'flac', 'vorbis', 'opus'] },
  { program: 'aplay', args: ['-q'], codecs: ['wav'] },
]

async function onPath(program: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const candidate = path.join(dir, program)
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

/** The first audio player on the PATH that reads `codec`, or null. */
export async function findAudioPlayer(codec: string): Promise<{ path: string; args: string[] } | null> {
  for (const player of AUDIO_PLAYERS) {
    if (player.codecs !== null && !player.codecs.includes(codec)) continue
    const found = await onPath(player.program)
    if (found !== null) return { path: found, args: player.args }
  }
  return null
}

/** Pipes audio into a player program (ffplay, mpv, paplay or aplay), which plays it on the audio device. */
export class AudioDeviceSink implements AudioSink {
  readonly description: string
  readonly #child: ChildProcess

  private constructor(program: { path: string; args: string[] }) {
    this.description = path.basename(program.path)
    this.#child = spawn(program.path, program.args, { stdio: ['pipe', 'ignore', 'ignore'] })
    this.#child.stdin?.on('error', () => {})
  }

  /** A sink on the audio device, or `NoAudioDeviceError` naming what was looked for. */
  static async open(codec: string): Promise<AudioDeviceSink> {
    const program = await findAudioPlayer(codec)
    if (program === null) {
      throw new NoAudioDeviceError(
        `no audio player for ${codec} on this machine (looked for ${AUDIO_PLAYERS.map((p) => p.program).join(', ')}); ` +
          'play to a file with --out FILE',
      )
    }
    return new AudioDeviceSink(program)
  }

  async write(chunk: Uint8Array): Promise<void> {
    const stdin = this.#child.stdin
    if (stdin === null || stdin.destroyed) return
    if (!stdin.write(chunk)) await once(stdin, 'drain')
  }

  async close(): Promise<void> {
    this.#child.stdin?.end()
    if (this.#child.exitCode === null) await once(this.#child, 'exit')
  }
}

/** Keeps nothing: counts bytes (benchmarks, and tests that only measure). */
export class NullSink implements AudioSink {
  readonly description = 'nowhere'
  bytes = 0
  firstChunkAt: number | null = null
  readonly #timer: () => number

  constructor(timer: () => number = () => performance.now()) {
    this.#timer = timer
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.firstChunkAt ??= this.#timer()
    this.bytes += chunk.length
  }

  async close(): Promise<void> {}
}

/** Collects the audio in memory (tests, and the HTTP stream of a range). */
export class MemorySink implements AudioSink {
  readonly description = 'memory'
  readonly chunks: Uint8Array[] = []

  async write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(chunk)
  }

  async close(): Promise<void> {}

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks))
  }
}
