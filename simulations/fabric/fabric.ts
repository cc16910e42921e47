import { ConnectionFailedError, type Logger } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { Sfc32 } from '../virtual-time/sfc32.ts'
import { scheduleAfter } from '../virtual-time/world.ts'
import { SimConnection, type Wire } from './connection.ts'
import { type Distribution, draw, isZero } from './distributions.ts'

const log = logger('consort:sim:fabric')

/**
 * The simulated network between the nodes of a run, in virtual time. Every byte a node sends goes through it:
 *
 * 1. **uplink** (per node, FIFO): a chunk of `n` bytes leaves at `depart = max(now, uplinkFree) + 8n / uplink`;
 * 2. **propagation**: it reaches the receiver's access link at `depart + latency(a, b) + jitter`, where
 *    `latency(a, b) = core(a, b) + access(a) + access(b)` (core drawn once per pair, access once per node) and
 *    jitter is drawn per chunk from the sender's distribution;
 * 3. **loss**: each of the chunk's ⌈n / MSS⌉ packets is lost with probability `1 − (1 − p_a)(1 − p_b)`; a chunk
 *    with a lost packet is retransmitted with exponential back-off, `k` losses in a row costing
 *    `RTO·(2^k − 1)`, `RTO = max(minRto, 2·latency(a, b))` (TCP-like; the retransmitted bytes are not charged to
 *    the uplink again);
 * 4. **downlink** (per node, FIFO in arrival order): `t = max(arrival, downlinkFree) + 8n / downlink`;
 * 5. **CPU** (optional cost model): `t = max(t, cpuFree) + (perChunkUs + perKiBUs·n/1024)·cpuFactor`;
 * 6. **order**: a connection never reorders: delivery at `max(t, previous delivery on that direction)`.
 *
 * A sender's buffer holds `sendBufferBytes` not yet on the wire; beyond that the connection asks libp2p to wait
 * for 'drain' (back-pressure, as a TCP socket does). Dialling costs one round trip before the dialer can send.
 *
 * **Partitions** cut the network into sides. `blackhole` (the default): packets across the cut vanish, as when a
 * route is lost: new dials across it hang until their time-out, chunks on open connections wait, and are delivered
 * after the heal at the sender's next retransmission (the first `depart + RTO·(2^k − 1)` after the heal) if the
 * connection is still open. A failed ping closes nothing on a Consort node (decision 0009); what closes a silent
 * connection is the sync protocol: a catch-up pull unanswered within its 10 s deadline hangs up and redials the peer.
 * `reset`: a middlebox resets every connection across the cut at once and refuses dials (after a round trip).
 *
 * A node that **crashes** (`crash`) resets all its connections at once; a node that **stops** closes them as libp2p
 * does (graceful), and its address refuses new dials (after a round trip) until it listens again.
 */

/** TCP's maximum segment size on Ethernet: loss is drawn per packet of this many bytes. */
export const MSS_BYTES = 1460
/** Most consecutive losses drawn for one chunk (`2^k − 1` RTOs): beyond it TCP would have given up anyway. */
export const MAX_LOSSES_IN_A_ROW = 10

export interface NodeLink {
  /** Bytes per second; null: unshaped. */
  uplinkBps: number | null
  downlinkBps: number | null
  /** One-way latency of this node's access link (ms), added to every path it is on. */
  accessLatencyMs: number
  /** Extra delay of each chunk this node sends (ms); null: none. */
  jitter: Distribution | null
  /** Probability that a packet on this node's access link is lost. */
  lossRate: number
  /** Multiplier of the CPU cost model for this node (slower hardware > 1). */
  cpuFactor: number
}

export interface FabricSettings {
  /** Core one-way latency (ms) between two node indices, drawn once per pair by the caller. */
  coreLatency(a: number, b: number): number
  sendBufferBytes: number
  minRtoMs: number
  /** Largest chunk put on the wire at once. */
  maxChunkBytes: number
  /** CPU cost model (µs per chunk received and per KiB received), or null for none. */
  cpu: { perChunkUs: number; perKiBUs: number } | null
  /** Seed of the per-chunk draws (jitter, loss). */
  seed: string
}

export type PartitionMode = 'blackhole' | 'reset'

/** Bytes and chunks a node sent and received through the fabric. */
export interface TrafficCounters {
  sentBytes: number
  receivedBytes: number
  sentChunks: number
  receivedChunks: number
  /** Chunks that had at least one packet lost (and were retransmitted). */
  retransmitted: number
}

interface NodeState {
  index: number
  peer: string
  address: string
  link: NodeLink
  uplinkFree: number
  downlinkFree: number
  cpuFree: number
  listener: ((connection: SimConnection) => void) | null
  traffic: TrafficCounters
  pipes: Set<Pipe>
}

/** One direction of a connection. */
interface Direction {
  from: NodeState
  to: NodeState
  /** The end that receives. */
  receiver: SimConnection
  /** The end that sends (told when its buffer drains). */
  sender: SimConnection
  /** Chunks not yet fully on the wire: [depart time, bytes]. */
  queued: Array<[number, number]>
  queuedBytes: number
  lastDepart: number
  /** When the previous chunk reached the receiver's access link, and when the last one was handed over. */
  lastArrival: number
  lastDelivery: number
  /** Chunks put on this direction so far, and the next one the receiver takes (TCP's reassembly: never reorder). */
  launched: number
  nextToDeliver: number
  /** Chunks that arrived before an earlier one (after a retransmission), by sequence number. */
  early: Map<number, Chunk>
  drainArmed: boolean
  /** Chunks held by a black-holing partition, in order. */
  held: Chunk[]
  /** A FIN or reset was sent: nothing more goes this way. */
  ended: boolean
}

interface Chunk {
  dir: Direction
  /** Order on its direction. */
  seq: number
  /** null: a FIN; 'reset': a reset. */
  bytes: Uint8Array | null | 'reset'
  depart: number
  /** Resolved when a FIN is delivered. */
  onDelivered?: () => void
}

interface Pipe {
  a: NodeState
  b: NodeState
  ab: Direction
  ba: Direction
  done: boolean
}

export class Fabric {
  readonly #settings: FabricSettings
  readonly #random: Sfc32
  readonly #byPeer = new Map<string, NodeState>()
  readonly #byAddress = new Map<string, NodeState>()
  #side = new Map<string, number>()
  #mode: PartitionMode = 'blackhole'
  readonly #heldDirections = new Set<Direction>()
  #inFlight = 0
  #maxInFlight = 0
  #deliveredBytes = 0
  #connections = 0

  constructor(settings: FabricSettings) {
    this.#settings = settings
    this.#random = new Sfc32(`fabric/${settings.seed}`)
  }

  /** Declare a node (before it starts): its index, peer id, listening address and link. */
  addNode(index: number, peer: string, address: string, link: NodeLink): void {
    const state: NodeState = {
      index,
      peer,
      address,
      link,
      uplinkFree: 0,
      downlinkFree: 0,
      cpuFree: 0,
      listener: null,
      traffic: { sentBytes: 0, receivedBytes: 0, sentChunks: 0, receivedChunks: 0, retransmitted: 0 },
      pipes: new Set(),
    }
    this.#byPeer.set(peer, state)
    this.#byAddress.set(address, state)
  }

  /** The transport of a node starts listening at its address. */
  listen(address: string, accept: (connection: SimConnection) => void): void {
    const node = this.#byAddress.get(address)
    if (node == null) throw new ConnectionFailedError(`sim: no node has the address ${address}`)
    node.listener = accept
  }

  unlisten(address: string): void {
    const node = this.#byAddress.get(address)
    if (node != null) node.listener = null
  }

  /** One-way latency between two nodes (ms): the pair's core latency plus both access links. */
  #latencyOf(a: NodeState, b: NodeState): number {
    return this.#settings.coreLatency(a.index, b.index) + a.link.accessLatencyMs + b.link.accessLatencyMs
  }

  /**
   * Dial `address` from the node `fromPeer`. Resolves with the dialer's end after a round trip (the listener gets
   * its end after one way); fails like an unreachable or refusing host.
   */
  async connect(
    fromPeer: string,
    address: string,
    signal: AbortSignal,
    logs: { dialer: Logger; listener: Logger },
  ): Promise<SimConnection> {
    const from = this.#byPeer.get(fromPeer)
    const to = this.#byAddress.get(address)
    if (from == null) throw new ConnectionFailedError(`sim: ${fromPeer} is not a node of this run`)
    if (to == null) throw new ConnectionFailedError(`sim: nothing at ${address}`)
    const oneWay = this.#latencyOf(from, to)
    if (this.blocked(from.peer, to.peer)) {
      if (this.#mode === 'reset') {
        await sleep(2 * oneWay, signal)
        throw new ConnectionFailedError(`sim: ${address} is unreachable (partition)`)
      }
      // The SYN vanishes: the dial waits (for its time-out, or for the heal: TCP retries the SYN).
      await this.#untilReachable(from, to, signal)
    }
    await sleep(oneWay, signal)
    if (to.listener == null || this.blocked(from.peer, to.peer)) {
      await sleep(oneWay, signal)
      throw new ConnectionFailedError(`sim: ${address} refused the connection (not listening)`)
    }
    const [dialer, listener] = this.#pair(from, to, logs.dialer, logs.listener)
    to.listener(listener)
    await sleep(oneWay, signal)
    return dialer
  }

  /** A connected pair of ends, dialer's first. */
  #pair(from: NodeState, to: NodeState, dialerLog: Logger, listenerLog: Logger): [SimConnection, SimConnection] {
    const maxChunkBytes = this.#settings.maxChunkBytes
    const dialer = new SimConnection({
      remoteAddr: multiaddr(`${to.address}/p2p/${to.peer}`),
      direction: 'outbound',
      log: dialerLog,
      maxChunkBytes,
    })
    const listener = new SimConnection({
      remoteAddr: multiaddr(`${from.address}-out/p2p/${from.peer}`),
      direction: 'inbound',
      log: listenerLog,
      maxChunkBytes,
    })
    const direction = (f: NodeState, t: NodeState, sender: SimConnection, receiver: SimConnection): Direction => ({
      from: f,
      to: t,
      sender,
      receiver,
      queued: [],
      queuedBytes: 0,
      lastDepart: 0,
      lastArrival: 0,
      lastDelivery: 0,
      launched: 0,
      nextToDeliver: 0,
      early: new Map(),
      drainArmed: false,
      held: [],
      ended: false,
    })
    const pipe: Pipe = {
      a: from,
      b: to,
      ab: direction(from, to, dialer, listener),
      ba: direction(to, from, listener, dialer),
      done: false,
    }
    dialer.attach(this.#wire(pipe, pipe.ab))
    listener.attach(this.#wire(pipe, pipe.ba))
    from.pipes.add(pipe)
    to.pipes.add(pipe)
    this.#connections++
    const forget = () => {
      if (dialer.status !== 'open' && listener.status !== 'open' && !pipe.done) {
        pipe.done = true
        from.pipes.delete(pipe)
        to.pipes.delete(pipe)
        this.#heldDirections.delete(pipe.ab)
        this.#heldDirections.delete(pipe.ba)
      }
    }
    dialer.addEventListener('close', forget)
    listener.addEventListener('close', forget)
    return [dialer, listener]
  }

  #wire(pipe: Pipe, dir: Direction): Wire {
    return {
      send: (bytes) => this.#send(dir, bytes),
      finish: (options) =>
        new Promise<void>((resolve) => {
          if (dir.ended || pipe.done) {
            resolve()
            return
          }
          dir.ended = true
          const onAbort = () => resolve()
          options?.signal?.addEventListener('abort', onAbort, { once: true })
          this.#launch({
            dir,
            seq: 0,
            bytes: null,
            depart: Math.max(performance.now(), dir.lastDepart),
            onDelivered: resolve,
          })
        }),
      reset: () => {
        if (dir.ended) return
        dir.ended = true
        dir.held.length = 0
        this.#launch({ dir, seq: 0, bytes: 'reset', depart: performance.now() })
      },
    }
  }

  /** A sender hands bytes to its uplink: schedule their arrival; answer whether its buffer has room for more. */
  #send(dir: Direction, bytes: Uint8Array): boolean {
    if (dir.ended) return true
    const now = performance.now()
    const from = dir.from
    const up = from.link.uplinkBps
    let depart = now
    if (up != null) {
      depart = Math.max(now, from.uplinkFree) + (bytes.byteLength / up) * 1000
      from.uplinkFree = depart
    }
    from.traffic.sentBytes += bytes.byteLength
    from.traffic.sentChunks++
    while (dir.queued.length > 0 && dir.queued[0]![0] <= now) dir.queuedBytes -= dir.queued.shift()![1]
    if (depart > now) {
      dir.queued.push([depart, bytes.byteLength])
      dir.queuedBytes += bytes.byteLength
    }
    dir.lastDepart = Math.max(dir.lastDepart, depart)
    this.#launch({ dir, seq: 0, bytes, depart })
    if (dir.queuedBytes <= this.#settings.sendBufferBytes) return true
    if (!dir.drainArmed) {
      // Like a socket: 'drain' once everything queued is on the wire.
      dir.drainArmed = true
      scheduleAfter(dir.lastDepart - now, () => {
        dir.drainArmed = false
        dir.queued.length = 0
        dir.queuedBytes = 0
        dir.sender.drained()
      })
    }
    return false
  }

  /** Propagation (with jitter and loss) to the receiver's access link. */
  #launch(chunk: Chunk): void {
    const { dir } = chunk
    chunk.seq = dir.launched++
    const oneWay = this.#latencyOf(dir.from, dir.to)
    let arrival = chunk.depart + oneWay
    if (chunk.bytes instanceof Uint8Array) {
      const jitter = dir.from.link.jitter
      if (jitter != null && !isZero(jitter)) arrival += draw(jitter, () => this.#random.float())
      const p = 1 - (1 - dir.from.link.lossRate) * (1 - dir.to.link.lossRate)
      if (p > 0) {
        const packets = Math.max(1, Math.ceil(chunk.bytes.byteLength / MSS_BYTES))
        const chunkLoss = 1 - (1 - p) ** packets
        let losses = 0
        while (losses < MAX_LOSSES_IN_A_ROW && this.#random.float() < chunkLoss) losses++
        if (losses > 0) {
          arrival += this.#rto(oneWay) * (2 ** losses - 1)
          dir.from.traffic.retransmitted++
        }
      }
    }
    arrival = Math.max(arrival, dir.lastArrival)
    dir.lastArrival = arrival
    this.#track(1)
    scheduleAfter(arrival - performance.now(), () => this.#arrive(chunk))
  }

  #rto(oneWay: number): number {
    return Math.max(this.#settings.minRtoMs, 4 * oneWay)
  }

  /** The chunk reached the receiver's access link: across a black-holing cut it waits; else downlink and CPU. */
  #arrive(chunk: Chunk): void {
    const { dir } = chunk
    if (this.blocked(dir.from.peer, dir.to.peer)) {
      dir.held.push(chunk)
      this.#heldDirections.add(dir)
      return
    }
    this.#process(chunk)
  }

  #process(chunk: Chunk): void {
    const { dir } = chunk
    const now = performance.now()
    let t = now
    if (chunk.bytes instanceof Uint8Array) {
      const n = chunk.bytes.byteLength
      const down = dir.to.link.downlinkBps
      if (down != null) {
        t = Math.max(t, dir.to.downlinkFree) + (n / down) * 1000
        dir.to.downlinkFree = t
      }
      const cpu = this.#settings.cpu
      if (cpu != null) {
        t = Math.max(t, dir.to.cpuFree) + ((cpu.perChunkUs + (cpu.perKiBUs * n) / 1024) * dir.to.link.cpuFactor) / 1000
        dir.to.cpuFree = t
      }
    }
    t = Math.max(t, dir.lastDelivery)
    dir.lastDelivery = t
    if (t <= now) this.#inOrder(chunk)
    else scheduleAfter(t - now, () => this.#inOrder(chunk))
  }

  /** Hand chunks to the receiver in the order they were sent (one that overtook a retransmission waits). */
  #inOrder(chunk: Chunk): void {
    const { dir } = chunk
    if (chunk.seq !== dir.nextToDeliver) {
      dir.early.set(chunk.seq, chunk)
      return
    }
    this.#deliver(chunk)
    dir.nextToDeliver++
    for (let next = dir.early.get(dir.nextToDeliver); next != null; next = dir.early.get(dir.nextToDeliver)) {
      dir.early.delete(dir.nextToDeliver)
      this.#deliver(next)
      dir.nextToDeliver++
    }
  }

  #deliver(chunk: Chunk): void {
    this.#track(-1)
    const { dir } = chunk
    try {
      if (chunk.bytes === null) {
        dir.receiver.arriveFin()
        chunk.onDelivered?.()
      } else if (chunk.bytes === 'reset') {
        dir.receiver.arriveReset()
      } else {
        dir.to.traffic.receivedBytes += chunk.bytes.byteLength
        dir.to.traffic.receivedChunks++
        this.#deliveredBytes += chunk.bytes.byteLength
        dir.receiver.arrive(chunk.bytes)
      }
    } catch (err) {
      log('delivery %s → %s failed: %e', dir.from.peer, dir.to.peer, err)
    }
  }

  #track(delta: number): void {
    this.#inFlight += delta
    if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight
  }

  /** Cut the network: `sides` maps peers to a side number (absent: side 0). Answers the connections across it. */
  partition(sides: ReadonlyMap<string, number>, mode: PartitionMode = 'blackhole'): number {
    this.#side = new Map(sides)
    this.#mode = mode
    let across = 0
    for (const node of this.#byPeer.values()) {
      for (const pipe of [...node.pipes]) {
        if (pipe.a !== node || !this.blocked(pipe.a.peer, pipe.b.peer)) continue
        across++
        if (mode === 'reset') {
          const err = new ConnectionFailedError('sim: connection reset by a partition')
          pipe.ab.sender.abort(err)
          pipe.ba.sender.abort(err)
        }
      }
    }
    return across
  }

  /** Heal every partition: held chunks go at their sender's next retransmission. */
  heal(): void {
    const healAt = performance.now()
    this.#side = new Map()
    for (const dir of [...this.#heldDirections]) {
      this.#heldDirections.delete(dir)
      const held = dir.held.splice(0)
      const oneWay = this.#latencyOf(dir.from, dir.to)
      const rto = this.#rto(oneWay)
      let previous = healAt
      for (const chunk of held) {
        let k = 1
        while (chunk.depart + rto * (2 ** k - 1) < healAt && k < 30) k++
        const resend = Math.max(previous, chunk.depart + rto * (2 ** k - 1))
        previous = resend
        scheduleAfter(resend + oneWay - healAt, () => this.#process(chunk))
      }
    }
  }

  /** One-way latency between two peers (ms), as the fabric applies it; 0 for unknown peers. */
  latency(a: string, b: string): number {
    const x = this.#byPeer.get(a)
    const y = this.#byPeer.get(b)
    return x == null || y == null ? 0 : this.#latencyOf(x, y)
  }

  blocked(a: string, b: string): boolean {
    return (this.#side.get(a) ?? 0) !== (this.#side.get(b) ?? 0)
  }

  /** Wait until a and b can reach each other (a heal), or the signal aborts. */
  async #untilReachable(a: NodeState, b: NodeState, signal: AbortSignal): Promise<void> {
    while (this.blocked(a.peer, b.peer)) await sleep(1000, signal)
  }

  /** A node crashes: every connection it has is reset at once (the other ends learn it when the reset arrives). */
  crash(peer: string): void {
    const node = this.#byPeer.get(peer)
    if (node == null) return
    node.listener = null
    for (const pipe of [...node.pipes]) {
      const own = pipe.a === node ? pipe.ab.sender : pipe.ba.sender
      own.abort(new ConnectionFailedError('sim: node crashed'))
    }
  }

  traffic(peer: string): TrafficCounters {
    return (
      this.#byPeer.get(peer)?.traffic ?? {
        sentBytes: 0,
        receivedBytes: 0,
        sentChunks: 0,
        receivedChunks: 0,
        retransmitted: 0,
      }
    )
  }

  /** Chunks in flight now, the most at once, bytes delivered and connections opened since the start. */
  get inFlight(): number {
    return this.#inFlight
  }

  get maxInFlight(): number {
    return this.#maxInFlight
  }

  get deliveredBytes(): number {
    return this.#deliveredBytes
  }

  get connectionsOpened(): number {
    return this.#connections
  }
}

/** Wait `ms` of (virtual) time, or fail with the signal's reason. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.cancel()
      reject(signal.reason)
    }
    const timer = scheduleAfter(ms, () => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    })
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
