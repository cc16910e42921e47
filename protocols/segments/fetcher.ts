import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { withDeadline } from '../deadline.ts'
import { isError } from '../errors.ts'
import { type BlockStore, collectBlock } from '../records/store.ts'
import { BlockSession } from './client.ts'
import type { SegmentPriority } from './constants.ts'
import {
  FetchAbortedError,
  InvalidFetchRequestError,
  NoProvidersError,
  RequestCancelledError,
  SegmentRemoteError,
} from './errors.ts'
import type { PeerPenalties } from './penalties.ts'
import { type SchedulerPeer, SegmentScheduler } from './scheduler.ts'
import { assertVerifiableCid, blockMatches } from './verify.ts'

const log = logger('consort:segments:fetcher')

type FetchLog = ((format: string, ...args: unknown[]) => void) & {
  trace(format: string, ...args: unknown[]): void
  error(format: string, ...args: unknown[]): void
}

/** The fetcher's log with every line led by the fetch's id, so that fetches running at once can be told apart. */
function fetchLog(id: string): FetchLog {
  const line = (format: string, ...args: unknown[]) => log(`${id} ${format}`, ...args)
  line.trace = (format: string, ...args: unknown[]) => log.trace(`${id} ${format}`, ...args)
  line.error = (format: string, ...args: unknown[]) => log.error(`${id} ${format}`, ...args)
  return line
}

let fetchesStarted = 0

/** Most blocks one fetch may name (a track's segment limit, with room for its preview). */
export const MAX_FETCH_BLOCKS = 32_768
/**
 * Default bound on block bytes requested and not yet stored, over all peers: 32 MiB is 128 segments of
 * 256 KiB, a few seconds of a fast link, and a fixed cost per fetch whatever the track's length.
 */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024
/** Default cap on requests outstanding at one peer (its window never grows beyond it). */
export const DEFAULT_MAX_WINDOW = 16
/** A peer starts with this window, before its rate is known. */
export const INITIAL_WINDOW = 4
/** A window never shrinks below 2: one block arriving while the next is on its way. */
export const MIN_WINDOW = 2
/**
 * The window covers this much of a peer's measured delivery time: enough that its link never runs dry between
 * a reply and the next request, and no more, because a server hands what is asked of it to the transport at
 * once, where it can no longer be cancelled or overtaken by a more urgent request.
 */
export const PIPELINE_TARGET_MS = 300
/** Peers one fetch uses at once (each costs a connection and a window of requests). */
export const DEFAULT_MAX_PEERS = 32
/** Peers probed with `have` at once during discovery. */
export const PROBE_CONCURRENCY = 8
/** Connected peers asked `have` per discovery round (a node may hold hundreds of connections). */
export const MAX_CONNECTED_PROBES = 64
/** Time a DHT provider lookup may take per discovery round. */
export const FIND_PROVIDERS_TIMEOUT_MS = 10_000
/**
 * In a fetch's first discovery round with a lead block (`leadIndex`) that a peer at hand holds, the DHT lookup waits
 * for that block for at most this long: on a loaded machine the lookup's messages share the process with the block
 * a player is waiting for (the benchmark measured the licensed replay's median first audio at about twice the same
 * play without the lookup); 1 s is longer than 256 KiB takes from a peer at hand on any link fast enough to play.
 */
export const LEAD_LOOKUP_WAIT_MS = 1000
/**
 * A lead block still on its way after this long is asked for again from another free peer that holds it (the first
 * copy wins, the other is cancelled): the first audio never waits out one stalled peer's idle timeout. 500 ms is
 * several times what 256 KiB takes from a peer on a link fast enough to play, so a healthy peer is rarely doubled.
 */
export const LEAD_HEDGE_MS = 500
/** Providers taken from one DHT lookup. */
export const MAX_DHT_PROVIDERS = 32
/** A fetch fails when no block arrives and nobody can serve for this long (the blocks it has stay stored). */
export const DEFAULT_STALL_TIMEOUT_MS = 60_000
/** A request fails when its peer sends nothing for this long (it may be queued behind other clients). */
export const DEFAULT_REQUEST_IDLE_MS = 15_000
/** Consecutive failed requests after which a peer is dropped from the fetch. */
export const MAX_CONSECUTIVE_FAILURES = 3
/** Pause before asking a busy peer again. */
export const BUSY_BACKOFF_MS = 250
/** Discovery rounds back off from 1 s to 15 s while nobody can serve what is missing. */
export const DISCOVERY_BACKOFF_MS = [1000, 2000, 4000, 8000, 15_000] as const
/**
 * Streams a fetch opens to each peer, used in turn. Each stream's flow-control window starts at 256 KiB (yamux),
 * one segment: with one stream, any pause of the reader leaves the peer's link idle; two give it slack while
 * keeping stream set-up rare and blocks arriving nearly in order.
 */
export const SESSIONS_PER_PEER = 2
/** Stored blocks kept in memory for the in-order reader (8 MiB: 32 segments of 256 KiB). */
export const RECENT_BLOCKS_BYTES = 8 * 1024 * 1024
/** Deliveries kept per peer to measure its rate. */
const RATE_SAMPLES = 8
/**
 * Requests outstanding on bitswap at once. Each want goes to every connected bitswap peer and starts a provider
 * lookup of its own (Helia's bitswap looks every wanted block up in the routing), so the window stays small: 8
 * blocks of 256 KiB keep a link of a few MB/s busy without a storm of lookups.
 */
export const BITSWAP_MAX_WINDOW = 8
/** The id under which the bitswap source appears in summaries and progress events. */
export const BITSWAP_PEER_ID = 'bitswap'

export type ProviderSource = 'given' | 'connected' | 'dht' | 'bitswap'
export type DropReason = 'bad-block' | 'unreachable' | 'failing'

export interface PeerSummary {
  peer: string
  source: ProviderSource
  blocks: number
  bytes: number
  /** Of `bytes`, those that arrived while the only connections to the peer went through a relay (NAT). */
  bytesRelayed: number
  duplicateBlocks: number
  rateBps: number | null
  dropped: DropReason | null
}

export interface FetchSummary {
  total: number
  /** Blocks found in the local blockstore at the start (a resumed fetch). */
  cached: number
  /** Blocks fetched by this run. */
  fetched: number
  /** Bytes of the blocks fetched (each counted once). */
  bytesFetched: number
  /** Bytes of block copies received after the block was already in (end-game losers). */
  duplicateBytes: number
  /** Bytes of blocks refused because they did not match their CIDs. */
  badBytes: number
  elapsedMs: number
  peers: PeerSummary[]
}

/** Progress of a fetch, reported through `onProgress` as it happens. */
export type FetchProgressEvent =
  | { type: 'start'; fetchId: string; total: number; cached: number }
  | { type: 'provider'; peer: string; source: ProviderSource; has: number }
  | { type: 'request'; index: number; peer: string }
  | { type: 'block'; index: number; peer: string; bytes: number; done: number; total: number }
  | { type: 'duplicate'; index: number; peer: string; bytes: number }
  | { type: 'bad-block'; index: number; peer: string }
  | { type: 'peer-dropped'; peer: string; reason: DropReason }
  | { type: 'discovering'; round: number }
  | { type: 'done'; summary: FetchSummary }

export interface FetchedBlock {
  index: number
  cid: CID
  bytes: Uint8Array
}

/**
 * Blocks from whoever holds them on the IPFS network: Helia's bitswap, which asks every connected peer and the
 * providers routing finds (`bitswapSource` in `bitswap-source.ts`). A stock IPFS node or pinning service that holds
 * the ciphertext serves a listener this way; its blocks are verified against their CIDs like any other.
 */
export interface BlockSource {
  get(cid: CID, options: AbortOptions): Promise<Uint8Array>
}

export interface FetcherComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'dial' | 'getConnections' | 'peerId' | 'contentRouting'>
  blockstore: BlockStore
  /** The full protocol id, `/consort/<net>/segments/1`. */
  protocol: string
  /**
   * One more source beside `/segments/1` peers: it is asked for the blocks that no peer answering `have` holds
   * (none when absent).
   */
  bitswap?: BlockSource
  /** Where bad peers are remembered across fetches (optional). */
  penalties?: PeerPenalties
  /** Monotonic milliseconds, to measure rates (default `performance.now`). Not the wall clock. */
  timer?: () => number
}

export interface FetchOptions extends AbortOptions {
  /** The blocks, in playback order. */
  cids: CID[]
  /** The key to find providers under in the DHT (the manifest's id); null to skip the DHT. */
  root?: CID | null
  priority?: SegmentPriority
  /**
   * The block the caller needs before any other (a player's segment 0, or the one at its seek position). While it
   * is missing and some peer holds it, it is asked for alone, from one peer, and the other blocks only once it has
   * arrived: it then shares no server slot, stream window or event-loop turn with them. Unset: every peer's window
   * fills at once, in playback order.
   */
  leadIndex?: number
  /** Peers to ask in addition to those discovered. */
  providers?: PeerId[]
  /** Ask the peers this node is connected to (default true). */
  askConnected?: boolean
  onProgress?: (event: FetchProgressEvent) => void
  maxInFlightBytes?: number
  maxWindow?: number
  maxPeers?: number
  stallTimeoutMs?: number
  requestIdleMs?: number
  /** How much of a peer's delivery time its window covers (default `PIPELINE_TARGET_MS`). */
  pipelineTargetMs?: number
  /** Duplicate the last blocks on idle peers (default true). */
  endGame?: boolean
  /** Session streams opened to each peer and used in turn (default `SESSIONS_PER_PEER`). */
  sessionsPerPeer?: number
}

interface PeerState extends SchedulerPeer {
  readonly id: string
  /** The peer, or null for the bitswap source (many peers behind one want list). */
  readonly peerId: PeerId | null
  readonly source: ProviderSource
  haveBits: boolean[]
  queue: number[]
  rateBps: number | null
  readonly requests: Map<number, AbortController>
  /** Session streams to the peer, used in turn (`SESSIONS_PER_PEER`). */
  readonly sessions: Array<BlockSession | null>
  nextSession: number
  /** (time ms, bytes) of recent deliveries while the peer stayed busy. */
  deliveries: Array<[number, number]>
  window: number
  failures: number
  busyUntil: number
  blocks: number
  bytes: number
  bytesRelayed: number
  duplicateBlocks: number
  dropped: DropReason | null
}

interface Waiter {
  promise: Promise<void>
  resolve: () => void
  reject: (err: Error) => void
  settled: boolean
}

/**
 * A multi-source fetch of a list of blocks (a track's segments). Providers come from the DHT (under `root`),
 * from the peers this node is connected to and from the caller; each says with `have` which blocks it holds.
 * Every provider is asked at once, each within a window sized to its measured rate; blocks are verified
 * against their CIDs and stored in the local blockstore as they arrive; blocks already there are not fetched
 * again, so a fetch resumes where an earlier one stopped.
 */
export class SegmentFetch {
  readonly done: Promise<FetchSummary>
  /** This fetch's id in the log lines and errors (`fetch-N`, counted per process). */
  readonly id = `fetch-${++fetchesStarted}`
  readonly #log = fetchLog(this.id)
  readonly #c: FetcherComponents
  readonly #o: FetchOptions
  readonly #cids: CID[]
  readonly #scheduler: SegmentScheduler
  readonly #peers = new Map<string, PeerState>()
  readonly #waiters = new Map<number, Waiter>()
  readonly #controller = new AbortController()
  readonly #timer: () => number
  readonly #maxInFlight: number
  readonly #maxWindow: number
  #started = 0
  #cached = 0
  #fetched = 0
  #bytesFetched = 0
  #duplicateBytes = 0
  #badBytes = 0
  #blockBytes = 256 * 1024
  #inFlight = 0
  #storing = 0
  readonly #recent = new Map<number, Uint8Array>()
  #recentBytes = 0
  #lastProgress = 0
  #discovering = false
  /** When the lead block (`leadIndex`) was last asked for from a first peer. */
  #leadAskedAt = 0
  #discoveryRound = 0
  #discoveryTimer: ReturnType<typeof setTimeout> | undefined
  #pumpTimer: ReturnType<typeof setTimeout> | undefined
  #stallTimer: ReturnType<typeof setInterval> | undefined
  #failure: Error | null = null
  #finished = false
  #resolve!: (summary: FetchSummary) => void
  #reject!: (err: Error) => void

  constructor(components: FetcherComponents, options: FetchOptions) {
    this.#c = components
    this.#o = options
    if (!Array.isArray(options.cids) || options.cids.length === 0 || options.cids.length > MAX_FETCH_BLOCKS) {
      throw new InvalidFetchRequestError('cids', `expected 1 to ${MAX_FETCH_BLOCKS} CIDs`)
    }
    for (const cid of options.cids) assertVerifiableCid(cid)
    for (const [field, value] of Object.entries({
      maxInFlightBytes: options.maxInFlightBytes,
      maxWindow: options.maxWindow,
      maxPeers: options.maxPeers,
      stallTimeoutMs: options.stallTimeoutMs,
      requestIdleMs: options.requestIdleMs,
    })) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
        throw new InvalidFetchRequestError(field, `must be a positive integer, got ${value}`)
      }
    }
    const lead = options.leadIndex
    if (lead !== undefined && (!Number.isSafeInteger(lead) || lead < 0 || lead >= options.cids.length)) {
      throw new InvalidFetchRequestError('leadIndex', `must be a block index 0…${options.cids.length - 1}, got ${lead}`)
    }
    this.#cids = options.cids
    this.#scheduler = new SegmentScheduler(options.cids.length, options.endGame === false ? { maxCopies: 1 } : {})
    this.#timer = components.timer ?? (() => performance.now())
    this.#maxInFlight = options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES
    this.#maxWindow = Math.max(MIN_WINDOW, options.maxWindow ?? DEFAULT_MAX_WINDOW)
    this.done = new Promise<FetchSummary>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // a caller that only iterates must not see an unhandled rejection from `done`
    this.done.catch(() => {})
    if (options.signal != null) {
      if (options.signal.aborted) queueMicrotask(() => this.abort())
      else options.signal.addEventListener('abort', () => this.abort(), { once: true })
    }
    queueMicrotask(() => {
      this.#run().catch((err) => this.#fail(err as Error))
    })
  }

  get total(): number {
    return this.#cids.length
  }

  /** Blocks present (cached or fetched) so far. */
  get present(): number {
    return this.#scheduler.done
  }

  /** A snapshot of the counters (for progress displays). */
  summary(): FetchSummary {
    return {
      total: this.#cids.length,
      cached: this.#cached,
      fetched: this.#fetched,
      bytesFetched: this.#bytesFetched,
      duplicateBytes: this.#duplicateBytes,
      badBytes: this.#badBytes,
      elapsedMs: this.#started === 0 ? 0 : Math.round(this.#timer() - this.#started),
      peers: [...this.#peers.values()].map((p) => ({
        peer: p.id,
        source: p.source,
        blocks: p.blocks,
        bytes: p.bytes,
        bytesRelayed: p.bytesRelayed,
        duplicateBlocks: p.duplicateBlocks,
        rateBps: p.rateBps == null ? null : Math.round(p.rateBps),
        dropped: p.dropped,
      })),
    }
  }

  /** Stop fetching; `done` rejects with `FetchAbortedError` (blocks already stored stay). */
  abort(): void {
    this.#fail(new FetchAbortedError('the fetch was aborted'))
  }

  /**
   * The blocks in order, each as soon as it and all before it are stored: a player decrypts and plays
   * segment 0 while the rest is still on its way. Throws the fetch's error when it reaches a block that
   * could not be fetched.
   */
  async *blocks(): AsyncGenerator<FetchedBlock> {
    for (let index = 0; index < this.#cids.length; index++) {
      await this.#waiter(index).promise
      const cid = this.#cids[index]!
      const recent = this.#recent.get(index)
      if (recent != null) {
        this.#recent.delete(index)
        this.#recentBytes -= recent.length
      }
      const bytes = recent ?? (await collectBlock(this.#c.blockstore.get(cid, { offline: true })))
      yield { index, cid, bytes }
    }
  }

  async #run(): Promise<void> {
    this.#started = this.#timer()
    this.#lastProgress = this.#started
    const known = await Promise.all(this.#cids.map(async (cid) => this.#c.blockstore.has(cid)))
    if (this.#failure != null) return
    known.forEach((has, i) => {
      if (!has) return
      this.#scheduler.markDone(i)
      this.#cached++
      this.#settle(i)
    })
    this.#emit({ type: 'start', fetchId: this.id, total: this.#cids.length, cached: this.#cached })
    if (this.#finishIfComplete()) return
    this.#stallTimer = setInterval(() => this.#checkStall(), 1000)
    this.#stallTimer.unref?.()
    await this.#discover()
  }

  // --- discovery -----------------------------------------------------------------------------------------

  async #discover(): Promise<void> {
    if (this.#discovering || this.#finished) return
    this.#discovering = true
    const round = ++this.#discoveryRound
    this.#log(
      'discovery round %d: %d of %d present, %d in flight',
      round,
      this.#scheduler.done,
      this.#cids.length,
      this.#inFlight,
    )
    this.#emit({ type: 'discovering', round })
    try {
      const seen = new Set<string>()
      const running = new Set<Promise<void>>()
      const probes: Promise<void>[] = []
      const probe = async (peerId: PeerId, source: ProviderSource): Promise<void> => {
        const id = peerId.toString()
        if (this.#finished || seen.has(id) || peerId.equals(this.#c.libp2p.peerId)) return
        if (this.#c.penalties?.isBanned(id) === true || this.#peers.get(id)?.dropped === 'bad-block') return
        seen.add(id)
        while (running.size >= PROBE_CONCURRENCY) await Promise.race(running)
        const p = this.#probe(peerId, this.#peers.get(id)?.source ?? source).finally(() => running.delete(p))
        running.add(p)
        probes.push(p)
      }
      const root = this.#o.root
      const lookup = () => (root == null ? Promise.resolve() : this.#findProviders(root, (id) => probe(id, 'dht')))
      // the DHT lookup runs alongside the probes of the peers at hand (a provider is probed as soon as it is found),
      // except while a peer at hand holds the lead block and it has not arrived: then it waits (`#leadOrUncovered`)
      const waitForLead = round === 1 && this.#o.leadIndex !== undefined && root != null
      const looked = waitForLead ? null : lookup()
      for (const peerId of this.#o.providers ?? []) await probe(peerId, 'given')
      if (this.#o.askConnected !== false) {
        const connected = this.#c.libp2p.getConnections().map((c) => c.remotePeer)
        for (const peerId of connected.slice(0, MAX_CONNECTED_PROBES)) await probe(peerId, 'connected')
      }
      if (looked == null) {
        await this.#leadOrUncovered([...probes])
        if (!this.#finished) await lookup()
      } else await looked
      await Promise.allSettled(probes)
      this.#offerBitswap()
    } finally {
      this.#discovering = false
    }
    this.#pump()
    this.#scheduleDiscoveryIfStuck()
  }

  /**
   * Resolves once the peers at hand have answered `have` and none of them holds the lead block, or the lead block
   * has arrived (or the fetch ended), or after `LEAD_LOOKUP_WAIT_MS`.
   */
  async #leadOrUncovered(atHand: Promise<void>[]): Promise<void> {
    const lead = this.#o.leadIndex!
    await Promise.allSettled(atHand)
    if (this.#finished || this.#scheduler.isDone(lead) || !this.#coveredBySegments(lead)) return
    this.#log('DHT lookup waits for block %d, held by a peer at hand', lead)
    let timer: ReturnType<typeof setTimeout> | undefined
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, LEAD_LOOKUP_WAIT_MS)
      timer.unref?.()
    })
    try {
      await Promise.race([this.#waiter(lead).promise.catch(() => {}), waited])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Add (or bring back) the bitswap source when some missing block has no `/segments/1` holder. It is asked only
   * for such blocks (`has` is re-evaluated at every assignment), so it takes over the blocks of a peer that drops
   * out and never competes with the peers that answered `have`.
   */
  #offerBitswap(): void {
    if (this.#c.bitswap == null || this.#finished) return
    let uncovered = false
    for (let i = 0; i < this.#cids.length && !uncovered; i++) {
      if (!this.#scheduler.isDone(i) && !this.#coveredBySegments(i)) uncovered = true
    }
    if (!uncovered) return
    const known = this.#peers.get(BITSWAP_PEER_ID)
    if (known != null) {
      if (known.dropped == null || known.dropped === 'bad-block') return
      known.dropped = null
      known.failures = 0
    } else {
      const fetch = this
      const peer = this.#newPeer(null, 'bitswap', [])
      peer.has = function bitswapHas(i: number) {
        return !fetch.#coveredBySegments(i)
      }
      this.#peers.set(BITSWAP_PEER_ID, peer)
    }
    this.#log('asking bitswap for the blocks no /segments/1 peer holds')
    this.#emit({
      type: 'provider',
      peer: BITSWAP_PEER_ID,
      source: 'bitswap',
      has: this.#cids.length - this.#scheduler.done,
    })
  }

  /** Whether an active `/segments/1` peer holds block `i`. */
  #coveredBySegments(i: number): boolean {
    for (const peer of this.#peers.values()) {
      if (peer.peerId != null && peer.dropped == null && peer.haveBits[i] === true) return true
    }
    return false
  }

  /**
   * Look `root` up in the DHT and hand each provider to `found` (dialling it first if its addresses came
   * along). Bounded in time by `FIND_PROVIDERS_TIMEOUT_MS` even if the DHT query itself lingers.
   */
  async #findProviders(root: CID, found: (peer: PeerId) => Promise<void>): Promise<void> {
    const signal = withDeadline(FIND_PROVIDERS_TIMEOUT_MS, this.#controller.signal).signal
    const providers = this.#c.libp2p.contentRouting.findProviders(root, { signal })[Symbol.asyncIterator]()
    const aborted = new Promise<never>((_, reject) => {
      const stop = () => reject(signal.reason as Error)
      if (signal.aborted) stop()
      else signal.addEventListener('abort', stop, { once: true })
    })
    aborted.catch(() => {})
    let count = 0
    try {
      while (count < MAX_DHT_PROVIDERS) {
        const next = await Promise.race([providers.next(), aborted])
        if (next.done === true) break
        const provider = next.value
        count++
        if (provider.multiaddrs.length > 0 && this.#c.libp2p.getConnections(provider.id).length === 0) {
          await this.#c.libp2p.dial(provider.multiaddrs, { signal }).catch((err) => {
            this.#log('cannot dial provider %p: %s', provider.id, (err as Error).message)
          })
        }
        await found(provider.id)
      }
    } catch (err) {
      if (!this.#finished) this.#log('provider lookup for %c ended: %s', root, (err as Error).message)
    } finally {
      providers.return?.().catch(() => {})
    }
  }

  async #probe(peerId: PeerId, source: ProviderSource): Promise<void> {
    const id = peerId.toString()
    const existing = this.#peers.get(id)
    if (existing == null && this.#activePeers().length >= (this.#o.maxPeers ?? DEFAULT_MAX_PEERS)) return
    // the probe goes on the stream the blocks will then come on: one stream set-up instead of two
    const reused = existing?.sessions[0]
    const session = reused != null && !reused.failed ? reused : this.#newSession(peerId)
    let have: boolean[]
    try {
      have = await session.have(this.#cids, { signal: this.#controller.signal })
    } catch (err) {
      this.#log('%p (%s) does not answer have: %s', peerId, source, (err as Error).message)
      session.close()
      return
    }
    if (this.#finished) {
      session.close()
      return
    }
    const useful = have.reduce((n, h, i) => (h && !this.#scheduler.isDone(i) ? n + 1 : n), 0)
    this.#log('%p (%s) holds %d block(s) still missing', peerId, source, useful)
    if (existing != null) {
      existing.sessions[0] = session
      existing.haveBits = have
      if (existing.dropped != null && existing.dropped !== 'bad-block' && useful > 0) {
        existing.dropped = null
        existing.failures = 0
      }
    } else if (useful > 0) {
      const peer = this.#newPeer(peerId, source, have)
      peer.sessions[0] = session
      this.#peers.set(id, peer)
    } else {
      session.close()
    }
    if (useful > 0) this.#emit({ type: 'provider', peer: id, source, has: useful })
    this.#pump()
  }

  #newPeer(peerId: PeerId | null, source: ProviderSource, haveBits: boolean[]): PeerState {
    return {
      id: peerId?.toString() ?? BITSWAP_PEER_ID,
      peerId,
      source,
      haveBits,
      has(i: number) {
        return this.haveBits[i] === true
      },
      queue: [],
      rateBps: null,
      requests: new Map(),
      sessions: Array.from(
        { length: Math.max(1, Math.min(8, this.#o.sessionsPerPeer ?? SESSIONS_PER_PEER)) },
        () => null,
      ),
      nextSession: 0,
      deliveries: [],
      window: INITIAL_WINDOW,
      failures: 0,
      busyUntil: 0,
      blocks: 0,
      bytes: 0,
      bytesRelayed: 0,
      duplicateBlocks: 0,
      dropped: null,
    }
  }

  #scheduleDiscoveryIfStuck(): void {
    if (this.#finished || this.#discovering || this.#discoveryTimer != null) return
    // nothing in flight and nothing stored pending: the peers known cannot serve what is missing
    if (this.#inFlight > 0 || this.#storing > 0 || this.#scheduler.complete) return
    this.#log('stuck with %d of %d present: discovering again', this.#scheduler.done, this.#cids.length)
    const delay = DISCOVERY_BACKOFF_MS[Math.min(this.#discoveryRound - 1, DISCOVERY_BACKOFF_MS.length - 1)]!
    this.#discoveryTimer = setTimeout(() => {
      this.#discoveryTimer = undefined
      this.#discover().catch((err) => this.#fail(err as Error))
    }, delay)
  }

  // --- requests ------------------------------------------------------------------------------------------

  #activePeers(): PeerState[] {
    return [...this.#peers.values()].filter((p) => p.dropped == null)
  }

  #pump(): void {
    if (this.#finished) return
    const peers = this.#activePeers().sort((a, b) => (b.rateBps ?? 0) - (a.rateBps ?? 0))
    const now = this.#timer()
    const lead = this.#pendingLead(peers)
    let wakeAt = Number.POSITIVE_INFINITY
    for (const peer of peers) {
      if (peer.busyUntil > now) {
        wakeAt = Math.min(wakeAt, peer.busyUntil)
        continue
      }
      if (lead != null) {
        // the lead block alone: the fastest free peer holding it takes it, the others wait until it has arrived; one
        // more free peer takes a copy if it is late (`LEAD_HEDGE_MS`)
        if (!peer.has(lead)) continue
        if (this.#scheduler.take(lead, peer.id)) {
          this.#leadAskedAt = now
          this.#request(peer, lead)
        } else if (this.#scheduler.isInFlight(lead)) {
          const hedgeAt = this.#leadAskedAt + LEAD_HEDGE_MS
          if (now < hedgeAt) wakeAt = Math.min(wakeAt, hedgeAt)
          else if (this.#scheduler.hedge(lead, peer.id)) this.#request(peer, lead)
        }
        continue
      }
      const window = peer.peerId == null ? Math.min(peer.window, BITSWAP_MAX_WINDOW) : peer.window
      while (peer.queue.length < window && (this.#inFlight + 1) * this.#blockBytes <= this.#maxInFlight) {
        const assignment = this.#scheduler.assign(peer, peers, this.#blockBytes)
        if (assignment == null) break
        this.#request(peer, assignment.index)
      }
    }
    if (wakeAt !== Number.POSITIVE_INFINITY && this.#pumpTimer == null) {
      this.#pumpTimer = setTimeout(
        () => {
          this.#pumpTimer = undefined
          this.#pump()
        },
        Math.max(1, Math.ceil(wakeAt - now)),
      )
    }
  }

  /** The lead block (`leadIndex`) while it is missing and some peer of the fetch holds it, else null. */
  #pendingLead(peers: readonly PeerState[]): number | null {
    const lead = this.#o.leadIndex
    if (lead === undefined || this.#scheduler.isDone(lead)) return null
    return peers.some((p) => p.has(lead)) ? lead : null
  }

  #request(peer: PeerState, index: number): void {
    const controller = new AbortController()
    peer.requests.set(index, controller)
    peer.queue.push(index)
    this.#inFlight++
    const started = this.#timer()
    if (peer.queue.length === 1) peer.deliveries = []
    this.#log.trace('asking %s for %d', peer.id, index)
    this.#emit({ type: 'request', index, peer: peer.id })
    this.#exchange(peer, index, controller, started)
      .catch((err) => this.#requestFailed(peer, index, controller, err as Error))
      .finally(() => {
        this.#log.trace('request for %d at %s settled', index, peer.id)
        peer.requests.delete(index)
        const at = peer.queue.indexOf(index)
        if (at >= 0) peer.queue.splice(at, 1)
        this.#inFlight--
        this.#scheduler.released(index, peer.id)
        this.#pump()
        this.#scheduleDiscoveryIfStuck()
      })
  }

  async #exchange(peer: PeerState, index: number, controller: AbortController, started: number): Promise<void> {
    const cid = this.#cids[index]!
    const signal = AbortSignal.any([controller.signal, this.#controller.signal])
    const block =
      peer.peerId == null
        ? await this.#fromBitswap(cid, signal)
        : await this.#session(peer, peer.peerId).get(cid, { signal })
    if (block == null) {
      // its have answer was stale: it no longer holds this block
      peer.haveBits[index] = false
      return
    }
    this.#received(peer, index, cid, block, started)
  }

  /**
   * A block through bitswap. Nobody may hold it: a want that brings nothing within the request idle time fails
   * like a silent peer's request would.
   */
  async #fromBitswap(cid: CID, signal: AbortSignal): Promise<Uint8Array> {
    const idleMs = this.#o.requestIdleMs ?? DEFAULT_REQUEST_IDLE_MS
    return this.#c.bitswap!.get(cid, { signal: withDeadline(idleMs, signal).signal })
  }

  /** The peer's next session stream, in turn (a new one in place of one that failed). */
  #session(peer: PeerState, peerId: PeerId): BlockSession {
    const slot = peer.nextSession
    peer.nextSession = (slot + 1) % peer.sessions.length
    let session = peer.sessions[slot]
    if (session == null || session.failed) {
      session = this.#newSession(peerId)
      peer.sessions[slot] = session
    }
    return session
  }

  #newSession(peerId: PeerId): BlockSession {
    return new BlockSession(this.#c.libp2p, peerId, this.#c.protocol, {
      priority: this.#o.priority ?? 'now',
      idleTimeoutMs: this.#o.requestIdleMs ?? DEFAULT_REQUEST_IDLE_MS,
    })
  }

  #received(peer: PeerState, index: number, cid: CID, block: Uint8Array, started: number): void {
    if (this.#finished) return
    if (!blockMatches(cid, block)) {
      this.#badBytes += block.length
      this.#emit({ type: 'bad-block', index, peer: peer.id })
      this.#log('bad block %c from %s', cid, peer.id)
      if (peer.peerId != null) this.#c.penalties?.penalise(peer.id)
      this.#drop(peer, 'bad-block')
      return
    }
    peer.failures = 0
    this.#measure(peer, block.length, started)
    const { first, cancel } = this.#scheduler.completed(index, peer.id)
    if (!first) {
      peer.duplicateBlocks++
      this.#duplicateBytes += block.length
      this.#emit({ type: 'duplicate', index, peer: peer.id, bytes: block.length })
      return
    }
    for (const other of cancel)
      this.#peers.get(other)?.requests.get(index)?.abort(new RequestCancelledError('superseded'))
    peer.blocks++
    peer.bytes += block.length
    if (peer.peerId != null && this.#relayedOnly(peer.peerId)) peer.bytesRelayed += block.length
    this.#fetched++
    this.#bytesFetched += block.length
    this.#blockBytes = Math.max(1, Math.round(this.#bytesFetched / this.#fetched))
    this.#lastProgress = this.#timer()
    this.#store(index, cid, block)
    this.#emit({
      type: 'block',
      index,
      peer: peer.id,
      bytes: block.length,
      done: this.#scheduler.done,
      total: this.#cids.length,
    })
  }

  /** True when every open connection to the peer goes through a relay (a limited connection). */
  #relayedOnly(peerId: PeerId): boolean {
    const open = this.#c.libp2p.getConnections(peerId).filter((c) => c.status === 'open')
    return open.length > 0 && open.every((c) => c.limits != null)
  }

  #store(index: number, cid: CID, block: Uint8Array): void {
    this.#storing++
    Promise.resolve(this.#c.blockstore.put(cid, block))
      .then(() => {
        this.#storing--
        this.#remember(index, block)
        this.#settle(index)
        if (!this.#finishIfComplete()) this.#scheduleDiscoveryIfStuck()
      })
      .catch((err) => {
        this.#storing--
        this.#fail(err as Error)
        const waiter = this.#waiter(index)
        if (!waiter.settled) {
          waiter.settled = true
          waiter.reject(err as Error)
        }
      })
  }

  /**
   * Keep a stored block in memory for the in-order reader, which usually asks for it right away; the oldest
   * go first beyond `RECENT_BLOCKS_BYTES`, and the reader then reads them back from the blockstore.
   */
  #remember(index: number, block: Uint8Array): void {
    this.#recent.set(index, block)
    this.#recentBytes += block.length
    while (this.#recentBytes > RECENT_BLOCKS_BYTES) {
      const [oldest, bytes] = this.#recent.entries().next().value as [number, Uint8Array]
      this.#recent.delete(oldest)
      this.#recentBytes -= bytes.length
    }
  }

  /** Rate over the recent deliveries of a continuously busy peer, and the window that keeps it busy. */
  #measure(peer: PeerState, bytes: number, started: number): void {
    const now = this.#timer()
    if (peer.deliveries.length === 0) peer.deliveries.push([started, 0])
    peer.deliveries.push([now, bytes])
    if (peer.deliveries.length > RATE_SAMPLES) peer.deliveries.shift()
    const first = peer.deliveries[0]!
    const span = Math.max(1, now - first[0])
    const sum = peer.deliveries.slice(1).reduce((n, [, b]) => n + b, 0)
    peer.rateBps = (sum * 1000) / span
    const pipelineMs = this.#o.pipelineTargetMs ?? PIPELINE_TARGET_MS
    const cover = Math.ceil((peer.rateBps * pipelineMs) / 1000 / this.#blockBytes) + 1
    peer.window = Math.min(this.#maxWindow, Math.max(MIN_WINDOW, cover))
  }

  #requestFailed(peer: PeerState, index: number, controller: AbortController, err: Error): void {
    if (controller.signal.aborted || this.#finished) return
    if (isError(err, SegmentRemoteError) && err.remoteCode === 'ERR_BUSY') {
      peer.window = Math.max(1, Math.floor(peer.window / 2))
      peer.busyUntil = this.#timer() + BUSY_BACKOFF_MS
      return
    }
    peer.failures++
    this.#log('request for %d at %s failed (%d in a row): %s', index, peer.id, peer.failures, err.message)
    const connected = peer.peerId == null || this.#c.libp2p.getConnections(peer.peerId).length > 0
    if (!connected) this.#drop(peer, 'unreachable')
    else if (peer.failures >= MAX_CONSECUTIVE_FAILURES) this.#drop(peer, 'failing')
  }

  #drop(peer: PeerState, reason: DropReason): void {
    if (peer.dropped != null) return
    this.#log('dropping %s (%s) with %d request(s) in flight', peer.id, reason, peer.requests.size)
    peer.dropped = reason
    peer.rateBps = null
    this.#emit({ type: 'peer-dropped', peer: peer.id, reason })
    for (const controller of peer.requests.values()) controller.abort(new RequestCancelledError(`peer ${reason}`))
    for (const session of peer.sessions) session?.abort(new RequestCancelledError(`peer ${reason}`))
  }

  // --- completion ----------------------------------------------------------------------------------------

  #checkStall(): void {
    if (this.#finished) return
    this.#log.trace(
      'state: %d/%d present, %d in flight, %d storing, discovering %s, timer %s',
      this.#scheduler.done,
      this.#cids.length,
      this.#inFlight,
      this.#storing,
      this.#discovering,
      this.#discoveryTimer != null,
    )
    const limit = this.#o.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
    if (this.#inFlight > 0 || this.#storing > 0) return
    this.#scheduleDiscoveryIfStuck()
    if (this.#timer() - this.#lastProgress < limit) return
    const missing = this.#cids.length - this.#scheduler.done
    this.#fail(
      new NoProvidersError(missing, `${this.id}: no peer served the ${missing} missing block(s) for ${limit} ms`),
    )
  }

  #finishIfComplete(): boolean {
    if (this.#finished || !this.#scheduler.complete || this.#storing > 0) return false
    this.#finished = true
    this.#cleanup()
    const summary = this.summary()
    this.#emit({ type: 'done', summary })
    this.#resolve(summary)
    return true
  }

  #fail(err: Error): void {
    if (this.#finished) return
    this.#finished = true
    this.#failure = err
    this.#cleanup()
    for (const waiter of this.#waiters.values()) {
      if (!waiter.settled) {
        waiter.settled = true
        waiter.reject(err)
      }
    }
    this.#reject(err)
  }

  #cleanup(): void {
    clearInterval(this.#stallTimer)
    clearTimeout(this.#discoveryTimer)
    clearTimeout(this.#pumpTimer)
    // outstanding requests (end-game leftovers) send their cancels, then each session closes gracefully
    this.#controller.abort(new RequestCancelledError('fetch finished'))
    for (const peer of this.#peers.values()) for (const session of peer.sessions) session?.close()
  }

  #waiter(index: number): Waiter {
    let waiter = this.#waiters.get(index)
    if (waiter == null) {
      let resolve!: () => void
      let reject!: (err: Error) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      promise.catch(() => {})
      waiter = { promise, resolve, reject, settled: false }
      this.#waiters.set(index, waiter)
      if (this.#failure != null && !this.#scheduler.isDone(index)) {
        waiter.settled = true
        reject(this.#failure)
      }
    }
    return waiter
  }

  #settle(index: number): void {
    const waiter = this.#waiter(index)
    if (waiter.settled) return
    waiter.settled = true
    waiter.resolve()
  }

  #emit(event: FetchProgressEvent): void {
    try {
      this.#o.onProgress?.(event)
    } catch (err) {
      this.#log.error('onProgress threw: %e', err)
    }
  }
}

/** Start a multi-source fetch (see `SegmentFetch`). */
export function fetchBlocks(components: FetcherComponents, options: FetchOptions): SegmentFetch {
  return new SegmentFetch(components, options)
}
