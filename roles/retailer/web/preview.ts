import { logger } from '@libp2p/logger'
import { decryptSegment } from '../../../keys/segments.ts'
import { isError } from '../../../protocols/errors.ts'
import { type BlockStore, collectBlock } from '../../../protocols/records/store.ts'
import type { ManifestRecord } from './catalog.ts'
import {
  MAX_PREVIEW_BYTES,
  MAX_PREVIEW_FETCHES,
  PREVIEW_CACHE_BYTES,
  PREVIEW_FETCH_DEADLINE_MS,
  PREVIEW_SEGMENTS_IN_FLIGHT,
} from './constants.ts'
import { NoPreviewError, PreviewUnavailableError } from './errors.ts'

const log = logger('consort:retailer:storefront:preview')

/** A decrypted preview clip, ready to serve. */
export interface PreviewClip {
  /** The manifest record the clip belongs to. */
  manifest: string
  mime: string
  durationMs: number
  bytes: Uint8Array
}

export interface PreviewComponents {
  /** The node's Helia blockstore: local blocks first, then bitswap from the peers that have them. */
  blockstore: BlockStore
}

export interface PreviewInit {
  cacheBytes?: number
  maxClipBytes?: number
  fetchDeadlineMs?: number
}

/**
 * Preview clips for the storefront: the clip's segments come from this node's blockstore, which asks the swarm
 * (bitswap) for what it lacks and verifies every block against its CID; they are decrypted with the key the
 * manifest publishes. Clips are kept in a byte-bounded LRU; concurrent
 * requests for one clip share one fetch, and at most `MAX_PREVIEW_FETCHES` fetches run at once.
 */
export class PreviewClips {
  readonly #c: PreviewComponents
  readonly #cacheBytes: number
  readonly #maxClipBytes: number
  readonly #deadlineMs: number
  readonly #cache = new Map<string, PreviewClip>()
  readonly #inflight = new Map<string, Promise<PreviewClip>>()
  readonly #waiting: Array<() => void> = []
  #cachedBytes = 0
  #running = 0

  constructor(components: PreviewComponents, init: PreviewInit = {}) {
    this.#c = components
    this.#cacheBytes = init.cacheBytes ?? PREVIEW_CACHE_BYTES
    this.#maxClipBytes = init.maxClipBytes ?? MAX_PREVIEW_BYTES
    this.#deadlineMs = init.fetchDeadlineMs ?? PREVIEW_FETCH_DEADLINE_MS
  }

  /** Bytes of decrypted clips held in memory. */
  get cachedBytes(): number {
    return this.#cachedBytes
  }

  async clip(manifest: ManifestRecord, signal?: AbortSignal): Promise<PreviewClip> {
    const key = manifest.id.toString()
    const cached = this.#cache.get(key)
    if (cached != null) {
      this.#cache.delete(key)
      this.#cache.set(key, cached)
      return cached
    }
    const preview = manifest.body.preview
    if (preview == null) throw new NoPreviewError(`isrc:${manifest.body.isrc} has no preview clip`)
    if (preview.byteSize > this.#maxClipBytes) {
      throw new NoPreviewError(
        `the preview of isrc:${manifest.body.isrc} is ${preview.byteSize} bytes, more than the ${this.#maxClipBytes} this storefront serves`,
      )
    }
    let pending = this.#inflight.get(key)
    if (pending == null) {
      pending = this.#fetch(manifest).finally(() => this.#inflight.delete(key))
      this.#inflight.set(key, pending)
    }
    if (signal == null) return pending
    // The caller may leave (the browser closed the request); the fetch goes on for whoever else waits.
    return Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason)
        signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      }),
    ])
  }

  async #slot(): Promise<void> {
    if (this.#running < MAX_PREVIEW_FETCHES) {
      this.#running++
      return
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve))
    this.#running++
  }

  #release(): void {
    this.#running--
    this.#waiting.shift()?.()
  }

  async #fetch(manifest: ManifestRecord): Promise<PreviewClip> {
    const preview = manifest.body.preview!
    await this.#slot()
    try {
      const signal = AbortSignal.timeout(this.#deadlineMs)
      const parts: Uint8Array[] = new Array(preview.segments.length)
      let length = 0
      let next = 0
      const worker = async () => {
        while (next < preview.segments.length) {
          const index = next++
          const block = await collectBlock(this.#c.blockstore.get(preview.segments[index]!, { signal }))
          const plain = decryptSegment(preview.key, preview.keyId, index, block)
          length += plain.length
          if (length > this.#maxClipBytes) {
            throw new NoPreviewError(`the preview of isrc:${manifest.body.isrc} is larger than its manifest says`)
          }
          parts[index] = plain
        }
      }
      try {
        await Promise.all(Array.from({ length: Math.min(PREVIEW_SEGMENTS_IN_FLIGHT, preview.segments.length) }, worker))
      } catch (err) {
        if (isError(err, NoPreviewError)) throw err
        log('preview of %c unavailable: %e', manifest.id, err)
        throw new PreviewUnavailableError(
          `the preview of isrc:${manifest.body.isrc} could not be fetched: ${(err as Error).message}`,
        )
      }
      const bytes = Buffer.concat(parts, length)
      const clip: PreviewClip = {
        manifest: manifest.id.toString(),
        mime: preview.mime,
        durationMs: preview.durationMs,
        bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      }
      this.#remember(clip)
      return clip
    } finally {
      this.#release()
    }
  }

  #remember(clip: PreviewClip): void {
    if (clip.bytes.length > this.#cacheBytes) return
    this.#cache.set(clip.manifest, clip)
    this.#cachedBytes += clip.bytes.length
    while (this.#cachedBytes > this.#cacheBytes) {
      const oldest = this.#cache.keys().next()
      if (oldest.done === true) break
      const evicted = this.#cache.get(oldest.value)!
      this.#cache.delete(oldest.value)
      this.#cachedBytes -= evicted.bytes.length
    }
  }
}
