import { randomUUID } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { SegmentsService } from '../../protocols/segments/service.ts'
import type { PlayerCore } from './core.ts'
import type { ContentDirectory } from './directory.ts'
import { BadPlayerRequestError } from './errors.ts'
import type { HeldLicence } from './library.ts'
import { decryptTrackSegment, fullTrack, type Track } from './media.ts'
import { openContentKey } from './purchase.ts'
import type { CountedUseResult } from './types.ts'
import type { Uses } from './uses.ts'

/**
 * Counted copies of a track: `export` writes the decrypted recording to a file; `burn` simulates a CD burner
 * honestly, as a counted export to a disc image (the recording in its own codec plus a cue sheet), since these
 * machines have no burner. The rules are asked before anything is fetched; the use is counted once the copy is
 * complete and before it is put in place, so a failed copy costs nothing and a refused one is never written.
 */

export class Copies {
  readonly #core: PlayerCore
  readonly #directory: ContentDirectory
  readonly #segments: SegmentsService
  readonly #uses: Uses

  constructor(core: PlayerCore, directory: ContentDirectory, segments: SegmentsService, uses: Uses) {
    this.#core = core
    this.#directory = directory
    this.#segments = segments
    this.#uses = uses
  }

  async copy(
    kind: 'export' | 'burn',
    content: string,
    options: { out?: string; signal?: AbortSignal } = {},
  ): Promise<CountedUseResult> {
    const core = this.#core
    await core.checkStore()
    const manifest = await this.#directory.resolve(content, options.signal)
    const isrc = manifest.body.isrc
    const uses = this.#uses
    const probe = await uses.start(isrc, { kind }, () => uses.newEvent(kind, isrc, null), { dryRun: true })
    const track = fullTrack(manifest)
    const out = options.out ?? this.#defaultPath(kind, track)
    await mkdir(path.dirname(out), { recursive: true })
    const partial = `${out}.partial-${randomUUID()}`
    const key = openContentKey(probe.record, isrc, core.components.keys.sealing)
    const files = [out]
    let bytes: number
    let held: HeldLicence
    let eventId = ''
    try {
      const chunks: Uint8Array[] = []
      bytes = await this.#decryptAll(
        track,
        key,
        async (chunk) => {
          chunks.push(chunk)
        },
        options.signal,
      )
      await writeFile(partial, Buffer.concat(chunks), { mode: 0o600 })
      held = await uses.start(isrc, { kind }, (h) => {
        const e = uses.newEvent(kind, isrc, h)
        eventId = e.eventId
        return e
      })
      await rename(partial, out)
      if (kind === 'burn') {
        const cue = `${out.replace(/\.[^./]+$/, '')}.cue`
        await writeFile(cue, cueSheet(track, path.basename(out)), { mode: 0o600 })
        files.push(cue)
      }
    } catch (err) {
      await rm(partial, { force: true })
      throw err
    } finally {
      key.fill(0)
    }
    uses.copied()
    return {
      content: `isrc:${isrc}`,
      isrc,
      kind,
      purchaseId: held.purchaseId,
      eventId,
      files,
      bytes,
      remaining: uses.remainingOf(held.purchaseId)!,
      note:
        kind === 'burn'
          ? 'simulated burn: no disc burner here, so the burn is a counted export to a disc image (audio file + cue sheet)'
          : 'exported the decrypted recording in its own codec',
    }
  }

  /** Decrypt the whole track into memory-bounded chunks, handing each to `write`. */
  async #decryptAll(track: Track, key: Uint8Array, write: (chunk: Uint8Array) => Promise<void>, signal?: AbortSignal) {
    const fetch = this.#segments.fetch([...track.segments], {
      root: track.manifest.id,
      priority: 'prefetch',
      ...(signal !== undefined ? { signal } : {}),
    })
    let bytes = 0
    try {
      for await (const block of fetch.blocks()) {
        const plain = decryptTrackSegment(track, key, block.index, block.bytes)
        await write(plain)
        bytes += plain.length
      }
    } finally {
      if (fetch.present < fetch.total) fetch.abort()
    }
    return bytes
  }

  /** `<data dir>/exports/` or `<data dir>/burns/`, named by ISRC and time, in the recording's own codec. */
  #defaultPath(kind: 'export' | 'burn', track: Track): string {
    const dataDir = this.#core.components.dataDir
    if (dataDir === null) throw new BadPlayerRequestError('out: give a file to write to (this node keeps no data dir)')
    const extension = track.codec === 'vorbis' ? 'ogg' : track.codec === 'aac' ? 'm4a' : track.codec
    const stamp = new Date(this.#core.now()).toISOString().replace(/[:.]/g, '-')
    return path.join(dataDir, kind === 'burn' ? 'burns' : 'exports', `${track.isrc}-${stamp}.${extension}`)
  }
}

/** A cue sheet for a simulated burn: says plainly that it is a counted disc image, not a physical disc. */
function cueSheet(track: Track, file: string): string {
  const b = track.manifest.body
  const quote = (s: string) => `"${s.replace(/"/g, "'")}"`
  return [
    'REM COMMENT "Consort simulated burn: a counted disc image, not a physical disc"',
    `PERFORMER ${quote(b.artists.join(', '))}`,
    `TITLE ${quote(b.release?.title ?? b.title)}`,
    `FILE ${quote(file)} WAVE`,
    '  TRACK 01 AUDIO',
    `    TITLE ${quote(b.title)}`,
    `    PERFORMER ${quote(b.artists.join(', '))}`,
    `    ISRC ${b.isrc}`,
    '    INDEX 01 00:00:00',
    '',
  ].join('\n')
}
