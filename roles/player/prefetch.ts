import { logger } from '@libp2p/logger'
import type { FetchSummary } from '../../protocols/segments/fetcher.ts'
import type { SegmentsService } from '../../protocols/segments/service.ts'
import { MAX_PREFETCH_SOURCES, PREFETCH_SEGMENTS, PREFETCH_TRACKS } from './constants.ts'
import type { ContentDirectory } from './directory.ts'

/**
 * While a purchase is under way, the first segments of what it covers are fetched (priority `prefetch`): they are
 * encrypted and useless without the licence, and having them when the licence arrives means the first audio follows
 * the purchase without another round trip to the swarm. Where each prefetch got its blocks is remembered (bounded),
 * so that the play that uses them can say where its audio came from.
 */

const log = logger('consort:player:prefetch')

export class Prefetcher {
  readonly #directory: ContentDirectory
  readonly #segments: SegmentsService
  /** Where the latest prefetch of each track got its blocks (by ISRC; the newest `MAX_PREFETCH_SOURCES`). */
  readonly #from = new Map<string, FetchSummary>()

  constructor(directory: ContentDirectory, segments: SegmentsService) {
    this.#directory = directory
    this.#segments = segments
  }

  /** Start fetching the first segments of each track `content` covers; abort the controller to stop. */
  start(content: readonly string[]): AbortController {
    const controller = new AbortController()
    const isrcs = content.flatMap((c) =>
      c.startsWith('isrc:') ? [c.slice(5)] : (this.#directory.release(c)?.body.tracks.map((t) => t.isrc) ?? []),
    )
    for (const isrc of isrcs.slice(0, PREFETCH_TRACKS)) {
      const manifest = this.#directory.manifestFor(isrc)
      if (manifest === undefined) continue
      try {
        const fetch = this.#segments.fetch(manifest.body.segments.slice(0, PREFETCH_SEGMENTS), {
          root: manifest.id,
          priority: 'prefetch',
          announce: false,
          signal: controller.signal,
        })
        fetch.done.then(
          () => this.#note(isrc, fetch.summary()),
          () => {},
        )
      } catch (err) {
        log('prefetch of %s: %s', isrc, (err as Error).message)
      }
    }
    return controller
  }

  /** Where the latest prefetch of a track got its blocks, if one completed. */
  sourcesOf(isrc: string): FetchSummary | undefined {
    return this.#from.get(isrc)
  }

  #note(isrc: string, summary: FetchSummary): void {
    this.#from.delete(isrc)
    this.#from.set(isrc, summary)
    while (this.#from.size > MAX_PREFETCH_SOURCES) this.#from.delete(this.#from.keys().next().value as string)
  }
}
