import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import type { Clock } from '../clock.ts'
import type { Metrics } from '../metrics.ts'
import type { NetworkContext } from '../network.ts'
import type { SignedRecord } from '../records/envelope.ts'
import type { BlockStore } from '../records/store.ts'
import { type AnnouncerInit, ProviderAnnouncer, type RootsStore } from './announcer.ts'
import { SEGMENTS_PROTOCOL, SEGMENTS_PROTOCOL_VERSION } from './constants.ts'
import { SegmentsNotStartedError } from './errors.ts'
import { type BlockSource, type FetchOptions, SegmentFetch } from './fetcher.ts'
import { PeerPenalties, type PeerPenaltiesInit } from './penalties.ts'
import { SegmentsServer, type SegmentsServerInit } from './server.ts'

const log = logger('consort:segments')

export interface SegmentsServiceComponents {
  libp2p: Libp2p
  blockstore: BlockStore
  network: Pick<NetworkContext, 'protocol'>
  clock: Clock
  /** Where announced roots are kept across restarts (a sublevel of the role's database). */
  store?: RootsStore
  /** Counts fetches, bytes by source and the serve queue's depth. */
  metrics?: Metrics
  /** Blocks over bitswap, for what no `/segments/1` peer holds (`bitswapSource(helia.blockstore)`). */
  bitswap?: BlockSource
}

export interface SegmentsServiceInit {
  /** Serve what this node holds on `/consort/<net>/segments/1` (default true: every node seeds). */
  serve?: boolean
  /** Announce fetched and seeded roots in the DHT and re-announce them (default true). */
  reprovide?: boolean
  reprovideIntervalMs?: number
  maxRoots?: number
  server?: SegmentsServerInit
  penalties?: PeerPenaltiesInit
  /** Monotonic milliseconds for rate measurement (default `performance.now`). */
  timer?: () => number
}

export interface ServiceFetchOptions extends Omit<FetchOptions, 'cids'> {
  /** Announce `root` once every block is in (default: the service's `reprovide` setting). */
  announce?: boolean
}

/** A finished fetch's counts, by where each serving peer was found. */
function count(metrics: Metrics, fetch: SegmentFetch, outcome: 'done' | 'failed'): void {
  const summary = fetch.summary()
  metrics.increment('consort_segment_fetches_total', { outcome })
  for (const peer of summary.peers) {
    if (peer.bytes > 0) metrics.increment('consort_segment_fetch_bytes_total', { source: peer.source }, peer.bytes)
  }
  if (summary.cached > 0) metrics.increment('consort_segment_cached_blocks_total', {}, summary.cached)
  if (summary.duplicateBytes > 0) {
    metrics.increment('consort_segment_fetch_wasted_bytes_total', { reason: 'duplicate' }, summary.duplicateBytes)
  }
  if (summary.badBytes > 0)
    metrics.increment('consort_segment_fetch_wasted_bytes_total', { reason: 'bad' }, summary.badBytes)
}

/**
 * Everything a node needs to take part in delivery: the segments server (so that it seeds what it holds),
 * the multi-source fetcher, the penalty book shared by its fetches, and the provider announcer. The delivery
 * role runs one; a player runs one too (with `serve` on, a player seeds what it has played).
 */
export class SegmentsService {
  readonly protocol: string
  readonly server: SegmentsServer
  readonly penalties: PeerPenalties
  readonly announcer: ProviderAnnouncer
  readonly #c: SegmentsServiceComponents
  readonly #init: SegmentsServiceInit
  #started = false
  #stopCollecting: (() => void) | undefined

  constructor(components: SegmentsServiceComponents, init: SegmentsServiceInit = {}) {
    this.#c = components
    this.#init = init
    this.protocol = components.network.protocol(SEGMENTS_PROTOCOL, SEGMENTS_PROTOCOL_VERSION)
    this.server = new SegmentsServer(
      { libp2p: components.libp2p, blockstore: components.blockstore, protocol: this.protocol },
      init.server ?? {},
    )
    this.penalties = new PeerPenalties(components.clock, init.penalties ?? {})
    const announcerInit: AnnouncerInit = {}
    if (init.reprovideIntervalMs != null) announcerInit.intervalMs = init.reprovideIntervalMs
    if (init.maxRoots != null) announcerInit.maxRoots = init.maxRoots
    this.announcer = new ProviderAnnouncer(components.libp2p, components.store, announcerInit)
  }

  get reprovides(): boolean {
    return this.#init.reprovide !== false
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#stopCollecting = this.#c.metrics?.collect('consort_queue_depth_items', () => [
      { labels: { queue: 'segments-serve' }, value: this.server.stats().queued },
    ])
    if (this.#init.serve !== false) await this.server.start()
    if (this.reprovides) await this.announcer.start()
    this.#started = true
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#stopCollecting?.()
    await this.announcer.stop()
    await this.server.stop()
  }

  /** Fetch blocks from every peer that has them (see `SegmentFetch`). */
  fetch(cids: CID[], options: ServiceFetchOptions = {}): SegmentFetch {
    if (!this.#started) throw new SegmentsNotStartedError('the segments service is not started')
    const fetch = new SegmentFetch(
      {
        libp2p: this.#c.libp2p,
        blockstore: this.#c.blockstore,
        protocol: this.protocol,
        penalties: this.penalties,
        ...(this.#c.bitswap != null ? { bitswap: this.#c.bitswap } : {}),
        ...(this.#init.timer != null ? { timer: this.#init.timer } : {}),
      },
      { ...options, cids },
    )
    const metrics = this.#c.metrics
    if (metrics != null)
      fetch.done.then(
        () => count(metrics, fetch, 'done'),
        () => count(metrics, fetch, 'failed'),
      )
    const root = options.root
    if (root != null && (options.announce ?? this.reprovides)) {
      fetch.done.then(
        () => this.announce(root),
        () => {},
      )
    }
    return fetch
  }

  /**
   * Fetch a track's segments (the manifest must be verified by the caller). The manifest record is stored
   * too, so that this node can serve it to whoever finds it under the manifest's id.
   */
  fetchTrack(
    manifest: SignedRecord<'consort/manifest'>,
    options: Omit<ServiceFetchOptions, 'root'> = {},
  ): SegmentFetch {
    const fetch = this.fetch(manifest.body.segments, { ...options, root: manifest.id })
    Promise.resolve(this.#c.blockstore.put(manifest.id, manifest.bytes)).catch((err) => {
      log.error('cannot store manifest %c: %e', manifest.id, err)
    })
    return fetch
  }

  /** Announce `root` now and keep re-announcing it (no-op when `reprovide` is off). */
  async announce(root: CID): Promise<void> {
    if (!this.reprovides) return
    await this.announcer.add(root).catch((err) => log.error('cannot announce %c: %e', root, err))
  }

  async withdraw(root: CID): Promise<void> {
    await this.announcer.remove(root)
  }
}
