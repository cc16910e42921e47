import type { AbortOptions, Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'

const log = logger('consort:segments:announcer')

/**
 * Provider records for what a node holds. A node announces the roots it can serve (manifest and release ids,
 * not each segment: one DHT record per track instead of hundreds, and the `have` probe tells a fetcher which
 * segments a provider holds) and announces them again on a timer, before the DHT's records (48 h) lapse.
 * The roots are kept in the node's database so that a restarted node keeps announcing them.
 */
export interface RootsStore {
  put(key: string, value: Uint8Array): Promise<void>
  del(key: string): Promise<void>
  keys(options: { gte: string; lt: string; limit?: number }): AsyncIterable<string>
}

export interface AnnouncerInit {
  /** Announce again this often (default 6 h: four times within the DHT's 48 h record lifetime). */
  intervalMs?: number
  /** Most roots kept (each costs one DHT provide per interval). */
  maxRoots?: number
}

export const DEFAULT_REANNOUNCE_INTERVAL_MS = 6 * 60 * 60 * 1000
/** 100,000 tracks: a large catalogue for one delivery node; beyond it, add nodes. */
export const DEFAULT_MAX_ROOTS = 100_000
/** DHT provides in flight at once while re-announcing. */
export const ANNOUNCE_CONCURRENCY = 4
/** Time one DHT provide may take. */
export const PROVIDE_TIMEOUT_MS = 60_000
const ROOT_PREFIX = 'root/'

/** A root refused because the announcer already holds its limit. */
export class TooManyRootsError extends Error {
  static override name = 'TooManyRootsError'
  override name = TooManyRootsError.name

  constructor(message = 'the announcer already holds its limit of roots', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_SEGMENTS_TOO_MANY_ROOTS'
  readonly code = TooManyRootsError.code
}

export interface AnnounceResult {
  provided: number
  failed: number
}

export class ProviderAnnouncer {
  readonly #libp2p: Pick<Libp2p, 'contentRouting'>
  readonly #store: RootsStore | undefined
  readonly #intervalMs: number
  readonly #maxRoots: number
  readonly #roots = new Map<string, CID>()
  #timer: ReturnType<typeof setInterval> | undefined
  #controller = new AbortController()
  #lastRun: Promise<AnnounceResult> | null = null

  constructor(libp2p: Pick<Libp2p, 'contentRouting'>, store: RootsStore | undefined, init: AnnouncerInit = {}) {
    this.#libp2p = libp2p
    this.#store = store
    this.#intervalMs = init.intervalMs ?? DEFAULT_REANNOUNCE_INTERVAL_MS
    this.#maxRoots = init.maxRoots ?? DEFAULT_MAX_ROOTS
  }

  /** Load the stored roots, announce them, and schedule the re-announcements. */
  async start(): Promise<void> {
    this.#controller = new AbortController()
    if (this.#store != null) {
      for await (const key of this.#store.keys({ gte: ROOT_PREFIX, lt: `${ROOT_PREFIX}\xff`, limit: this.#maxRoots })) {
        try {
          const cid = CID.parse(key.slice(ROOT_PREFIX.length))
          this.#roots.set(cid.toString(), cid)
        } catch {
          log.error('ignoring a stored root that is not a CID: %s', key)
        }
      }
    }
    this.#timer = setInterval(() => {
      void this.reannounce()
    }, this.#intervalMs)
    this.#timer.unref?.()
    if (this.#roots.size > 0) void this.reannounce()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#controller.abort()
    await this.#lastRun?.catch(() => {})
  }

  roots(): CID[] {
    return [...this.#roots.values()]
  }

  has(root: CID): boolean {
    return this.#roots.has(root.toString())
  }

  /** Keep announcing `root`; the first announcement is made now (its failure is logged, not thrown). */
  async add(root: CID, options: AbortOptions = {}): Promise<boolean> {
    const key = root.toString()
    if (!this.#roots.has(key)) {
      if (this.#roots.size >= this.#maxRoots) throw new TooManyRootsError(`already announcing ${this.#maxRoots} roots`)
      this.#roots.set(key, root)
      await this.#store?.put(`${ROOT_PREFIX}${key}`, new Uint8Array(0))
    }
    return this.#provide(root, options)
  }

  /** Stop announcing `root` (records already in the DHT lapse on their own). */
  async remove(root: CID): Promise<void> {
    const key = root.toString()
    this.#roots.delete(key)
    await this.#store?.del(`${ROOT_PREFIX}${key}`)
    await this.#libp2p.contentRouting.cancelReprovide(root).catch(() => {})
  }

  /** Announce every root again now. Concurrent calls share one run. */
  reannounce(): Promise<AnnounceResult> {
    if (this.#lastRun != null) return this.#lastRun
    const run = this.#announceAll().finally(() => {
      this.#lastRun = null
    })
    this.#lastRun = run
    return run
  }

  async #announceAll(): Promise<AnnounceResult> {
    const result = { provided: 0, failed: 0 }
    const roots = this.roots()
    let next = 0
    const worker = async () => {
      while (next < roots.length && !this.#controller.signal.aborted) {
        const root = roots[next++]!
        if (await this.#provide(root)) result.provided++
        else result.failed++
      }
    }
    await Promise.all(Array.from({ length: Math.min(ANNOUNCE_CONCURRENCY, roots.length) }, worker))
    log('re-announced %d root(s), %d failed', result.provided, result.failed)
    return result
  }

  async #provide(root: CID, options: AbortOptions = {}): Promise<boolean> {
    const signals = [this.#controller.signal, AbortSignal.timeout(PROVIDE_TIMEOUT_MS)]
    if (options.signal != null) signals.push(options.signal)
    try {
      await this.#libp2p.contentRouting.provide(root, { signal: AbortSignal.any(signals) })
      return true
    } catch (err) {
      log('cannot announce %c: %s', root, (err as Error).message)
      return false
    }
  }
}
