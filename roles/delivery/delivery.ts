import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { DeliveryAcks } from '../../protocols/delivery/acks.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { RootsStore } from '../../protocols/segments/announcer.ts'
import { bitswapSource } from '../../protocols/segments/bitswap-source.ts'
import { PRIORITIES, type SegmentPriority } from '../../protocols/segments/constants.ts'
import type { FetchSummary, SegmentFetch } from '../../protocols/segments/fetcher.ts'
import type { SegmentsFaultInjection, SegmentsServerInit } from '../../protocols/segments/server.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import type { ControlRoute, Role, RoleComponents } from '../role.ts'
import type { RoleStore } from '../store.ts'
import {
  DeliveryNotStartedError,
  InvalidDeliveryRequestError,
  NotSeedableError,
  TooManyFetchesError,
  UnknownJobError,
} from './errors.ts'
import { deliveryRoutes } from './routes.ts'
import type { DELIVERY_LAYOUT, SeedEntry, SeedKind } from './seeds.ts'
import { recordWalker } from './walker.ts'

const log = logger('consort:delivery')

export interface DeliveryInit {
  /** Announce carried and fetched roots in the DHT and re-announce them (default true). */
  reprovide?: boolean
  /** How often to re-announce (default 6 h). */
  reprovideIntervalMs?: number
  /** Seeds fetched at once (default 2). */
  seedConcurrency?: number
  /** A seed fails when no peer serves a missing block for this long (default 60 s). */
  seedStallTimeoutMs?: number
  /** Limits of the segments server (queue sizes, serving slots). */
  server?: Omit<SegmentsServerInit, 'faultInjection'>
  /** FAULT INJECTION for tests and simulations: serve corrupt blocks (see `SegmentsFaultInjection`). */
  faultInjection?: SegmentsFaultInjection
  /** Monotonic time source for rate measurement (simulations). */
  timer?: () => number
}

/** Seeds run one after another per slot; two slots keep a large release from blocking a small one. */
export const DEFAULT_SEED_CONCURRENCY = 2
/** Fetches started through the control API that may run at once. */
export const MAX_ACTIVE_FETCHES = 8
/** Finished fetch jobs kept for `GET /fetches/:id` (the oldest go first). */
export const MAX_KEPT_FETCHES = 64
/** Seeds listed by one `GET /seeds`. */
export const MAX_LISTED_SEEDS = 10_000
/** Time to find and fetch a root record (a manifest or release) before giving up. */
export const ROOT_STALL_TIMEOUT_MS = 30_000

export type FetchJobState = 'resolving' | 'fetching' | 'complete' | 'failed' | 'aborted'

export interface FetchJobStatus {
  id: string
  cid: string
  priority: SegmentPriority
  state: FetchJobState
  title: string | null
  total: number | null
  present: number
  cached: number
  bytesFetched: number
  duplicateBytes: number
  elapsedMs: number
  /** Average over the fetch so far. */
  rateBps: number
  peers: number
  droppedPeers: number
  error: string | null
}

interface FetchJob {
  id: string
  cid: CID
  priority: SegmentPriority
  state: FetchJobState
  title: string | null
  fetch: SegmentFetch | null
  summary: FetchSummary | null
  error: string | null
  controller: AbortController
}

/**
 * The Delivery Service: carries the releases and manifests it is told to (fetches every block, pins them,
 * announces itself as their provider and keeps re-announcing), serves blocks to every peer on
 * `/consort/<net>/segments/1`, and fetches tracks for the local CLI.
 */
/** What the delivery role takes from the node. */
export type DeliveryComponents = Pick<
  RoleComponents,
  'libp2p' | 'helia' | 'clock' | 'network' | 'records' | 'metrics' | 'keys' | 'credentials'
> & {
  store: RoleStore<(typeof DELIVERY_LAYOUT)['repositories'], 'roots'>
}

export class DeliveryRole implements Role {
  readonly name = 'delivery' as const
  readonly segments: SegmentsService
  /** Acknowledges the blocks this node served, so that the players it served can have it paid (decision 0511). */
  readonly acks: DeliveryAcks
  readonly controlRoutes: readonly ControlRoute[]
  readonly #c: DeliveryComponents
  readonly #init: DeliveryInit
  readonly #seedQueue: string[] = []
  readonly #seedRuns = new Map<string, Promise<SeedEntry>>()
  readonly #seedWaiters = new Map<string, PromiseWithResolvers<SeedEntry>>()
  readonly #fetches = new Map<string, FetchJob>()
  #seedSlots = 0
  #fetchCounter = 0
  #stopped = new AbortController()
  #started = false

  constructor(components: DeliveryComponents, init: DeliveryInit = {}) {
    this.#c = components
    this.#init = init
    const roots: RootsStore = components.store.sublevel('roots')
    this.segments = new SegmentsService(
      {
        libp2p: components.libp2p,
        blockstore: components.helia.blockstore as never,
        bitswap: bitswapSource(components.helia.blockstore as never),
        network: components.network,
        clock: components.clock,
        store: roots,
        metrics: components.metrics,
      },
      {
        serve: true,
        reprovide: init.reprovide !== false,
        ...(init.reprovideIntervalMs != null ? { reprovideIntervalMs: init.reprovideIntervalMs } : {}),
        server: { ...init.server, ...(init.faultInjection != null ? { faultInjection: init.faultInjection } : {}) },
        ...(init.timer != null ? { timer: init.timer } : {}),
      },
    )
    this.acks = new DeliveryAcks({
      libp2p: components.libp2p,
      network: components.network,
      signer: components.keys.signer,
      credentials: components.credentials,
      clock: components.clock,
      server: this.segments.server,
    })
    this.controlRoutes = deliveryRoutes(this)
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#stopped = new AbortController()
    await this.segments.start()
    await this.acks.start()
    this.#started = true
    for (const entry of await this.seeds()) {
      if (entry.state === 'pending') this.#enqueueSeed(entry.cid)
    }
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#stopped.abort()
    this.#seedQueue.length = 0
    for (const job of this.#fetches.values()) job.controller.abort()
    await Promise.allSettled([...this.#seedRuns.values()])
    for (const waiter of this.#seedWaiters.values()) {
      waiter.promise.catch(() => {})
      waiter.reject(new DeliveryNotStartedError('the delivery role stopped'))
    }
    this.#seedWaiters.clear()
    await this.acks.stop()
    await this.segments.stop()
  }

  // --- seeds ---------------------------------------------------------------------------------------------

  /**
   * Carry a manifest or a release: fetch every block it names, pin them, and announce them. Returns the
   * seed's entry at once (state `pending`); `waitForSeed` resolves when it is complete or failed.
   * Seeding a root again resumes it (a failed seed is retried).
   */
  async seed(cid: CID): Promise<SeedEntry> {
    this.#assertStarted()
    const key = cid.toString()
    const existing = await this.seedStatus(cid)
    if (existing?.state === 'complete') return existing
    const entry: SeedEntry = existing ?? {
      cid: key,
      kind: null,
      state: 'pending',
      added: this.#c.clock.now(),
      completed: null,
      manifests: [],
      blocks: 0,
      error: null,
    }
    entry.state = 'pending'
    entry.error = null
    await this.#c.store.repositories.seeds.put(key, entry)
    this.#enqueueSeed(key)
    return entry
  }

  /** Resolves with the seed's entry once it is complete or failed. */
  async waitForSeed(cid: CID): Promise<SeedEntry> {
    const key = cid.toString()
    const waiter = this.#seedWaiters.get(key)
    if (waiter != null) return waiter.promise
    const entry = await this.seedStatus(cid)
    if (entry == null) throw new UnknownJobError(`no seed ${key}`)
    return entry
  }

  async seedStatus(cid: CID): Promise<SeedEntry | null> {
    return (await this.#c.store.repositories.seeds.get(cid.toString())) ?? null
  }

  async seeds(): Promise<SeedEntry[]> {
    const entries: SeedEntry[] = []
    const onBadValue = (err: Error) => log.error('skipping an unreadable seed entry: %e', err)
    for await (const entry of this.#c.store.repositories.seeds.values({ limit: MAX_LISTED_SEEDS, onBadValue }))
      entries.push(entry)
    return entries
  }

  /** Stop carrying a root: unpin it, stop announcing it (its blocks go at the next garbage collection). */
  async unseed(cid: CID): Promise<void> {
    this.#assertStarted()
    const entry = await this.seedStatus(cid)
    if (entry == null) throw new UnknownJobError(`no seed ${cid}`)
    const roots = [cid, ...entry.manifests.map((m) => CID.parse(m)).filter((m) => !m.equals(cid))]
    for (const root of roots) {
      if (await this.#c.helia.pins.isPinned(root)) {
        for await (const _ of this.#c.helia.pins.rm(root, { walker: recordWalker })) {
          // drain
        }
      }
      await this.segments.withdraw(root)
    }
    await this.#c.store.repositories.seeds.del(cid.toString())
  }

  #enqueueSeed(key: string): void {
    if (this.#seedRuns.has(key) || this.#seedQueue.includes(key)) return
    if (!this.#seedWaiters.has(key)) this.#seedWaiters.set(key, Promise.withResolvers<SeedEntry>())
    this.#seedQueue.push(key)
    this.#drainSeeds()
  }

  #drainSeeds(): void {
    const concurrency = this.#init.seedConcurrency ?? DEFAULT_SEED_CONCURRENCY
    while (this.#started && this.#seedSlots < concurrency && this.#seedQueue.length > 0) {
      const key = this.#seedQueue.shift()!
      this.#seedSlots++
      const run = this.#runSeed(key).finally(() => {
        this.#seedSlots--
        this.#seedRuns.delete(key)
        this.#drainSeeds()
      })
      run.then(
        (entry) => {
          this.#seedWaiters.get(key)?.resolve(entry)
          this.#seedWaiters.delete(key)
        },
        (err: Error) => {
          this.#seedWaiters.get(key)?.reject(err)
          this.#seedWaiters.delete(key)
        },
      )
      this.#seedRuns.set(key, run)
    }
  }

  async #runSeed(key: string): Promise<SeedEntry> {
    const cid = CID.parse(key)
    let entry = (await this.seedStatus(cid)) ?? {
      cid: key,
      kind: null,
      state: 'pending' as const,
      added: this.#c.clock.now(),
      completed: null,
      manifests: [],
      blocks: 0,
      error: null,
    }
    try {
      const { kind, manifests, blocks } = await this.#carry(cid)
      entry = { ...entry, kind, manifests, blocks, state: 'complete', completed: this.#c.clock.now(), error: null }
      log('seeding %s (%s, %d manifest(s), %d blocks)', key, kind, manifests.length, blocks)
    } catch (err) {
      if (this.#stopped.signal.aborted) return entry
      entry = { ...entry, state: 'failed', error: (err as Error).message.slice(0, 1024) }
      log.error('cannot seed %s: %e', key, err)
    }
    await this.#c.store.repositories.seeds.put(key, entry)
    return entry
  }

  /** Fetch, pin and announce a manifest or a release and everything it names. */
  async #carry(cid: CID): Promise<{ kind: SeedKind; manifests: string[]; blocks: number }> {
    const signal = this.#stopped.signal
    const record = await this.#fetchRecord(cid, signal)
    let manifests: SignedRecord<'consort/manifest'>[]
    let kind: SeedKind
    if (record.type === 'consort/manifest') {
      kind = 'manifest'
      manifests = [record as SignedRecord<'consort/manifest'>]
    } else if (record.type === 'consort/release') {
      kind = 'release'
      const ids = (record as SignedRecord<'consort/release'>).body.tracks.map((t) => t.manifest)
      await this.#fetchAll(ids, cid, signal, ROOT_STALL_TIMEOUT_MS)
      manifests = await Promise.all(
        ids.map(async (id) => this.#c.records.getAs('consort/manifest', id, { offline: true, signal })),
      )
    } else {
      throw new NotSeedableError(`${cid} is a ${record.type}, not a manifest or a release`)
    }
    let blocks = 1
    for (const manifest of manifests) {
      const segments = [...manifest.body.segments, ...(manifest.body.preview?.segments ?? [])]
      await this.#fetchAll(segments, manifest.id, signal, this.#init.seedStallTimeoutMs)
      await this.#pin(manifest.id, 1, signal)
      blocks += segments.length + (kind === 'release' ? 1 : 0)
    }
    if (kind === 'release') await this.#pin(cid, 0, signal)
    for (const manifest of manifests) await this.segments.announce(manifest.id)
    if (kind === 'release') await this.segments.announce(cid)
    return { kind, manifests: manifests.map((m) => m.id.toString()), blocks }
  }

  async #fetchRecord(cid: CID, signal: AbortSignal): Promise<SignedRecord> {
    await this.#fetchAll([cid], cid, signal, ROOT_STALL_TIMEOUT_MS)
    return this.#c.records.get(cid, { offline: true, signal })
  }

  async #fetchAll(cids: CID[], root: CID, signal: AbortSignal, stallTimeoutMs?: number): Promise<FetchSummary> {
    const fetch = this.segments.fetch(cids, {
      root,
      priority: 'sync',
      announce: false,
      signal,
      ...(stallTimeoutMs != null ? { stallTimeoutMs } : {}),
    })
    return fetch.done
  }

  async #pin(cid: CID, depth: number, signal: AbortSignal): Promise<void> {
    if (await this.#c.helia.pins.isPinned(cid, { signal })) return
    for await (const _ of this.#c.helia.pins.add(cid, { depth, signal, walker: recordWalker })) {
      // drain: every block is local already, so this only records the pins
    }
  }

  // --- fetches for the CLI -------------------------------------------------------------------------------

  /** Fetch a track (by its manifest's id) into this node's blockstore; poll `fetchStatus` for progress. */
  startFetch(cid: CID, priority: SegmentPriority = 'now'): FetchJobStatus {
    this.#assertStarted()
    if (!PRIORITIES.includes(priority)) {
      throw new InvalidDeliveryRequestError('priority', `one of ${PRIORITIES.join(', ')}`)
    }
    const active = [...this.#fetches.values()].filter((j) => j.state === 'resolving' || j.state === 'fetching')
    if (active.length >= MAX_ACTIVE_FETCHES) {
      throw new TooManyFetchesError(`${MAX_ACTIVE_FETCHES} fetches are running; wait for one to finish`)
    }
    const id = `f${++this.#fetchCounter}-${cid.toString().slice(-8)}`
    const job: FetchJob = {
      id,
      cid,
      priority,
      state: 'resolving',
      title: null,
      fetch: null,
      summary: null,
      error: null,
      controller: new AbortController(),
    }
    this.#fetches.set(id, job)
    this.#forgetOldFetches()
    this.#runFetch(job).catch((err) => {
      job.state = job.controller.signal.aborted ? 'aborted' : 'failed'
      job.error = (err as Error).message
    })
    return this.fetchStatus(id)
  }

  fetchStatus(id: string): FetchJobStatus {
    const job = this.#fetches.get(id)
    if (job == null) throw new UnknownJobError(`no fetch ${id}`)
    const summary = job.summary ?? job.fetch?.summary() ?? null
    const elapsedMs = summary?.elapsedMs ?? 0
    return {
      id: job.id,
      cid: job.cid.toString(),
      priority: job.priority,
      state: job.state,
      title: job.title,
      total: job.fetch?.total ?? null,
      present: job.fetch?.present ?? 0,
      cached: summary?.cached ?? 0,
      bytesFetched: summary?.bytesFetched ?? 0,
      duplicateBytes: summary?.duplicateBytes ?? 0,
      elapsedMs,
      rateBps: elapsedMs > 0 ? Math.round(((summary?.bytesFetched ?? 0) * 1000) / elapsedMs) : 0,
      peers: summary?.peers.filter((p) => p.dropped == null).length ?? 0,
      droppedPeers: summary?.peers.filter((p) => p.dropped != null).length ?? 0,
      error: job.error,
    }
  }

  fetches(): FetchJobStatus[] {
    return [...this.#fetches.keys()].map((id) => this.fetchStatus(id))
  }

  abortFetch(id: string): FetchJobStatus {
    const job = this.#fetches.get(id)
    if (job == null) throw new UnknownJobError(`no fetch ${id}`)
    job.controller.abort()
    job.fetch?.abort()
    return this.fetchStatus(id)
  }

  async #runFetch(job: FetchJob): Promise<void> {
    const signal = AbortSignal.any([job.controller.signal, this.#stopped.signal])
    await this.#fetchAll([job.cid], job.cid, signal, ROOT_STALL_TIMEOUT_MS)
    const manifest = await this.#c.records.getAs('consort/manifest', job.cid, { offline: true, signal })
    job.title = manifest.body.title
    job.state = 'fetching'
    job.fetch = this.segments.fetchTrack(manifest, { priority: job.priority, signal })
    job.summary = await job.fetch.done
    job.state = 'complete'
  }

  #forgetOldFetches(): void {
    for (const [id, job] of this.#fetches) {
      if (this.#fetches.size <= MAX_KEPT_FETCHES) break
      if (job.state !== 'resolving' && job.state !== 'fetching') this.#fetches.delete(id)
    }
  }

  #assertStarted(): void {
    if (!this.#started) throw new DeliveryNotStartedError('the delivery role is not started')
  }
}
