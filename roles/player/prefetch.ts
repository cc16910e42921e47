import { logger } from '@libp2p/logger'
import type { DeliveryRecorder } from '../../protocols/delivery/recorder.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { FetchSummary } from '../../protocols/segments/fetcher.ts'
import type { SegmentsService } from '../../protocols/segments/service.ts'
import { MAX_PREFETCH_SOURCES, PREFETCH_SEGMENTS, PREFETCH_TRACKS } from './constants.ts'
import type { DeliveryReceipts } from './deliveries.ts'
import type { ContentDirectory } from './directory.ts'

/**
 * While a purchase is under way, the first segments of what it covers are fetched (priority `prefetch`): they are
 * encrypted and useless without the licence, and having them when the licence arrives means the first audio follows
 * the purchase without another round trip to the swarm. Where each prefetch got its blocks is remembered (bounded),
 * so that the play that uses them can say where its audio came from.
 *
 * The peers that served a prefetch delivered bytes of a track that was then bought: once the licence is here, the
 * prefetch is receipted under it like any licensed fetch (decision 0511), so that its blocks are paid for whether or
 * not the listener plays (the play that follows fetches only what the prefetch did not bring).
 */

const log = logger('consort:player:prefetch')

export class Prefetcher {
  readonly #directory: ContentDirectory
  readonly #segments: SegmentsService
  /** Where the latest prefetch of each track got its blocks (by ISRC; the newest `MAX_PREFETCH_SOURCES`). */
  readonly #from = new Map<string, FetchSummary>()
  readonly #deliveries: DeliveryReceipts

  constructor(directory: ContentDirectory, segments: SegmentsService, deliveries: DeliveryReceipts) {
    this.#directory = directory
    this.#segments = segments
    this.#deliveries = deliveries
  }

  /** Start fetching the first segments of each track `content` covers; abort the run to stop. */
  start(content: readonly string[]): PrefetchRun {
    const controller = new AbortController()
    const fetches: PrefetchFetch[] = []
    const isrcs = content.flatMap((c) =>
      c.startsWith('isrc:') ? [c.slice(5)] : (this.#directory.release(c)?.body.tracks.map((t) => t.isrc) ?? []),
    )
    for (const isrc of isrcs.slice(0, PREFETCH_TRACKS)) {
      const manifest = this.#directory.manifestFor(isrc)
      if (manifest === undefined) continue
      try {
        const cids = manifest.body.segments.slice(0, PREFETCH_SEGMENTS)
        const recorder = this.#deliveries.recorder(cids)
        const fetch = this.#segments.fetch(cids, {
          root: manifest.id,
          priority: 'prefetch',
          announce: false,
          signal: controller.signal,
          onProgress: recorder.onProgress,
        })
        // Settled either way: an aborted prefetch still delivered the blocks it got.
        const ended = fetch.done.then(
          () => this.#note(isrc, fetch.summary()),
          () => {},
        )
        fetches.push({ manifest, recorder, ended, summary: () => fetch.summary() })
      } catch (err) {
        log('prefetch of %s: %s', isrc, (err as Error).message)
      }
    }
    return {
      abort: () => controller.abort(),
      receiptUnder: (licence) => {
        for (const f of fetches) {
          // Partial: a prefetch's few segments never make the track's later fetch a re-download.
          void f.ended.then(() =>
            this.#deliveries.noteFetch(f.summary(), f.recorder, licence, f.manifest, { partial: true }),
          )
        }
      },
    }
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

/** A prefetch under way for one purchase. */
export interface PrefetchRun {
  /** Stop fetching (the purchase failed). */
  abort(): void
  /** The purchase's licence is here: receipt what each prefetch delivered, once it has ended. */
  receiptUnder(licence: SignedRecord<'consort/licence'>): void
}

interface PrefetchFetch {
  manifest: SignedRecord<'consort/manifest'>
  recorder: DeliveryRecorder
  ended: Promise<void>
  summary(): FetchSummary
}
