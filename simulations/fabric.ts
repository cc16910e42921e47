import { ConnectionFailedError } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
// The memory transport keeps its listeners in one process-wide map; the fabric wraps each listener it is told of.
// (Not part of the package's exports: see docs/decisions/0801-link-fabric.md for why it is reached this way.)
import { connections as memoryListeners } from '../node_modules/@libp2p/memory/dist/src/connections.js'

const log = logger('consort:sim:fabric')

/**
 * The simulated network between in-process nodes. Every node listens on the memory transport; the fabric wraps
 * each listener so that every connection, in both directions, goes through it:
 *
 * - **latency**: each chunk arrives `latencyMs` after it leaves its sender (pipelined: a link carries many chunks
 *   in flight, unlike the memory transport's own `latency`, which delays chunks one after another);
 * - **bandwidth**: each node has an uplink and a downlink; a chunk waits for the sender's uplink to be free for
 *   `bytes / rate` and then for the receiver's downlink the same way (a fluid FIFO model: no packet loss, no TCP
 *   congestion control, unbounded buffers — what it shows is serialisation delay and shared capacity);
 * - **partitions**: a dial across a cut fails like an unreachable host and open connections across it are aborted.
 *
 * Delivery uses timers, so traffic between nodes is a macrotask per chunk batch: with in-process nodes that is
 * what keeps one node's traffic from starving every timer of the process (see docs/decisions/0801-link-fabric.md).
 */

export interface NodeLink {
  /** Bytes per second; null for unshaped. */
  uplinkBps: number | null
  downlinkBps: number | null
}

/** The shape of the memory transport's internals the fabric relies on (checked when a listener is attached). */
interface MemoryListener {
  dial(dialingPeerId: { toString(): string }, log: unknown, signal?: AbortSignal): Promise<MaConn>
  init: { onConnection(maConn: MaConn): void; address: string }
}

interface Pushable {
  push(buf: Uint8Array): void
  end(err?: Error): void
}

interface MaConn {
  localPushable: Pushable
  remoteAddr: { toString(): string }
  abort(err: Error): void
  addEventListener?(type: 'close', listener: () => void): void
}

/** A chunk on its way: due at `at` (performance.now()), `seq` keeps a link's chunks in order at equal times. */
interface InFlight {
  at: number
  seq: number
  link: Link
  buf: Uint8Array | null
  err?: Error
}

/** Bytes a node sent and received through the fabric. */
export interface TrafficCounters {
  sentBytes: number
  receivedBytes: number
}

/** Chunks delivered in one go before the fabric lets the event loop turn (timers, the sampler, I/O). */
export const MAX_CHUNKS_PER_TURN = 256

class Link {
  readonly from: string
  readonly to: string
  readonly inner: Pushable
  readonly #fabric: Fabric
  #ended = false
  /** When the last chunk queued on this link arrives: a link never reorders. */
  last = 0

  constructor(fabric: Fabric, from: string, to: string, inner: Pushable) {
    this.#fabric = fabric
    this.from = from
    this.to = to
    this.inner = inner
  }

  push(buf: Uint8Array): void {
    if (this.#ended) return
    const at = Math.max(this.last, this.#fabric.arrivalTime(this.from, this.to, buf.byteLength))
    this.last = at
    this.#fabric.enqueue({ at, seq: 0, link: this, buf })
  }

  end(err?: Error): void {
    if (this.#ended) return
    this.#ended = true
    // Ending follows the data already in flight, as a FIN follows the segments before it.
    const at = Math.max(this.last, performance.now())
    this.#fabric.enqueue({ at, seq: 0, link: this, buf: null, ...(err != null ? { err } : {}) })
  }
}

/** A binary min-heap of chunks by (at, seq). */
class ChunkHeap {
  readonly #items: InFlight[] = []

  get size(): number {
    return this.#items.length
  }

  peek(): InFlight | undefined {
    return this.#items[0]
  }

  push(item: InFlight): void {
    const a = this.#items
    a.push(item)
    let i = a.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(a[i]!, a[parent]!)) break
      ;[a[i], a[parent]] = [a[parent]!, a[i]!]
      i = parent
    }
  }

  pop(): InFlight | undefined {
    const a = this.#items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last != null) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && before(a[l]!, a[m]!)) m = l
        if (r < a.length && before(a[r]!, a[m]!)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m]!, a[i]!]
        i = m
      }
    }
    return top
  }
}

function before(x: InFlight, y: InFlight): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq)
}

export class Fabric {
  readonly #heap = new ChunkHeap()
  #seq = 0
  #timer: ReturnType<typeof setTimeout> | null = null
  #timerAt = Number.POSITIVE_INFINITY
  #immediate: ReturnType<typeof setImmediate> | null = null
  #backlog = { maxChunks: 0, maxLagMs: 0 }
  #deliveredBytes = 0
  readonly #links = new Map<string, NodeLink>()
  readonly #latency: (a: string, b: string) => number
  readonly #uplinkFree = new Map<string, number>()
  readonly #downlinkFree = new Map<string, number>()
  readonly #traffic = new Map<string, TrafficCounters>()
  readonly #open = new Set<{ a: string; b: string; conn: MaConn }>()
  /** Partition side of each peer; peers on different sides cannot talk. Absent: side 0. */
  #side = new Map<string, number>()

  /** `latency(a, b)` gives the one-way latency in ms between two peers (symmetric). */
  constructor(latency: (a: string, b: string) => number) {
    this.#latency = latency
  }

  /** Register a node's link capacities (by peer id string). */
  setLink(peer: string, link: NodeLink): void {
    this.#links.set(peer, link)
  }

  /** Wrap the memory listener of a started node (call after every start, restarts included). */
  attach(peer: string, address: string): void {
    const listener = memoryListeners.get(address) as unknown as MemoryListener | undefined
    if (listener == null || typeof listener.dial !== 'function' || listener.init?.onConnection == null)
      throw new TypeError(`no memory listener at ${address}: the memory transport changed, see simulations/fabric.ts`)
    const dial = listener.dial.bind(listener)
    listener.dial = async (dialingPeerId, dialLog, signal) => {
      const from = dialingPeerId.toString()
      if (this.blocked(from, peer)) throw new ConnectionFailedError(`sim: ${from} cannot reach ${peer} (partition)`)
      const maConn = await dial(dialingPeerId, dialLog, signal)
      this.#shape(maConn, from, peer)
      return maConn
    }
    const onConnection = listener.init.onConnection
    listener.init.onConnection = (maConn: MaConn) => {
      const remote = /\/p2p\/([^/]+)$/.exec(maConn.remoteAddr.toString())?.[1]
      if (remote != null) this.#shape(maConn, peer, remote)
      onConnection(maConn)
    }
  }

  /** Cut the network: `sides` maps peers to a side number; peers on different sides are disconnected. */
  partition(sides: ReadonlyMap<string, number>): number {
    this.#side = new Map(sides)
    let cut = 0
    for (const entry of [...this.#open]) {
      if (this.blocked(entry.a, entry.b)) {
        this.#open.delete(entry)
        entry.conn.abort(new ConnectionFailedError('sim: partitioned'))
        cut++
      }
    }
    return cut
  }

  heal(): void {
    this.#side = new Map()
  }

  blocked(a: string, b: string): boolean {
    return (this.#side.get(a) ?? 0) !== (this.#side.get(b) ?? 0)
  }

  traffic(peer: string): TrafficCounters {
    return this.#traffic.get(peer) ?? { sentBytes: 0, receivedBytes: 0 }
  }

  /** When a chunk sent now from `from` to `to` arrives, reserving the links it crosses. */
  arrivalTime(from: string, to: string, bytes: number): number {
    const now = performance.now()
    const up = this.#links.get(from)?.uplinkBps ?? null
    const down = this.#links.get(to)?.downlinkBps ?? null
    let t = now
    if (up != null) {
      t = Math.max(t, this.#uplinkFree.get(from) ?? 0) + (bytes / up) * 1000
      this.#uplinkFree.set(from, t)
    }
    t += this.#latency(from, to)
    if (down != null) {
      t = Math.max(t, this.#downlinkFree.get(to) ?? 0) + (bytes / down) * 1000
      this.#downlinkFree.set(to, t)
    }
    return t
  }

  /** Queue a chunk for delivery at its time (called by the links). */
  enqueue(chunk: InFlight): void {
    chunk.seq = ++this.#seq
    this.#heap.push(chunk)
    this.#backlog.maxChunks = Math.max(this.#backlog.maxChunks, this.#heap.size)
    this.#arm()
  }

  /** Chunks in flight now. */
  get inFlight(): number {
    return this.#heap.size
  }

  /** Bytes delivered since the start. */
  get deliveredBytes(): number {
    return this.#deliveredBytes
  }

  /** The largest number of chunks in flight at once, and the furthest behind schedule a delivery ran (ms). */
  get backlog(): { maxChunks: number; maxLagMs: number } {
    return { ...this.#backlog }
  }

  #arm(): void {
    if (this.#immediate != null) return
    const next = this.#heap.peek()
    if (next == null || next.at >= this.#timerAt) return
    if (this.#timer != null) clearTimeout(this.#timer)
    this.#timerAt = next.at
    this.#timer = setTimeout(() => this.#pump(), Math.max(0, next.at - performance.now()))
  }

  /**
   * Deliver what is due, at most MAX_CHUNKS_PER_TURN at a time. When more is already due the next batch goes
   * through setImmediate, so that the event loop turns between batches: an overloaded process falls behind
   * (measured as lag) instead of starving every timer in one endless timers phase.
   */
  #pump(): void {
    this.#timer = null
    this.#timerAt = Number.POSITIVE_INFINITY
    this.#immediate = null
    const now = performance.now()
    let delivered = 0
    for (;;) {
      const next = this.#heap.peek()
      if (next == null || next.at > now + 0.5) break
      if (delivered >= MAX_CHUNKS_PER_TURN) {
        this.#immediate = setImmediate(() => this.#pump())
        return
      }
      this.#heap.pop()
      delivered++
      this.#backlog.maxLagMs = Math.max(this.#backlog.maxLagMs, now - next.at)
      const link = next.link
      try {
        if (next.buf == null) link.inner.end(next.err)
        else {
          this.count(link.from, link.to, next.buf.byteLength)
          link.inner.push(next.buf)
        }
      } catch (err) {
        log('delivery on a closed link %s→%s: %e', link.from, link.to, err)
      }
    }
    this.#arm()
  }

  count(from: string, to: string, bytes: number): void {
    this.#deliveredBytes += bytes
    this.#counters(from).sentBytes += bytes
    this.#counters(to).receivedBytes += bytes
  }

  #counters(peer: string): TrafficCounters {
    let c = this.#traffic.get(peer)
    if (c == null) {
      c = { sentBytes: 0, receivedBytes: 0 }
      this.#traffic.set(peer, c)
    }
    return c
  }

  /** Route what `local` sends on this connection (to `remote`) through a shaped link. */
  #shape(maConn: MaConn, local: string, remote: string): void {
    const inner = maConn.localPushable
    if (inner == null || typeof inner.push !== 'function')
      throw new TypeError('memory connection without localPushable: the memory transport changed')
    maConn.localPushable = new Link(this, local, remote, inner)
    const entry = { a: local, b: remote, conn: maConn }
    this.#open.add(entry)
    maConn.addEventListener?.('close', () => this.#open.delete(entry))
  }
}
