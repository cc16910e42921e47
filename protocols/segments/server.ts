import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import { isError } from '../errors.ts'
import { type BlockStore, collectBlock } from '../records/store.ts'
import {
  bitfieldBytes,
  bitfieldSet,
  blockFrameHead,
  decodeRequest,
  encodeAbsentFrame,
  encodeBusyFrame,
  encodeErrorFrame,
  encodeHaveFrame,
  type SegmentRequest,
  varint,
} from './codec.ts'
import {
  BLOCK_WRITE_DEADLINE_MS,
  DEFAULT_MAX_ACTIVE_REQUESTS,
  DEFAULT_MAX_ACTIVE_REQUESTS_PER_PEER,
  DEFAULT_MAX_QUEUED_REQUESTS,
  DEFAULT_MAX_QUEUED_REQUESTS_PER_PEER,
  HAVE_LOOKUP_CONCURRENCY,
  MAX_BLOCK_BYTES,
  MAX_INBOUND_STREAMS,
  MAX_OUTBOUND_STREAMS,
  MAX_REQUEST_FRAME_BYTES,
  PRIORITIES,
  REQUEST_READ_DEADLINE_MS,
  SEGMENT_ERROR_CODES,
  SEGMENT_OPS,
  SESSION_IDLE_MS,
  type SegmentPriority,
} from './constants.ts'
import { SegmentFrameError } from './errors.ts'
import { type QueuedJob, ServeQueue } from './serve-queue.ts'

const log = logger('consort:segments:server')

/**
 * FAULT INJECTION, for tests and simulations only: a server with `corruptBlocks` set serves every block with
 * one byte flipped, as a malicious or broken seeder would. Fetchers must detect it (the bytes no longer hash
 * to the CID), drop the peer and fetch the block elsewhere.
 */
export interface SegmentsFaultInjection {
  corruptBlocks?: boolean
}

export interface SegmentsServerInit {
  maxQueued?: number
  maxQueuedPerPeer?: number
  maxActive?: number
  maxActivePerPeer?: number
  /** Fault injection (tests and simulations): see `SegmentsFaultInjection`. */
  faultInjection?: SegmentsFaultInjection
}

export interface SegmentsServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  blockstore: BlockStore
  /** The full protocol id, `/consort/<net>/segments/1`. */
  protocol: string
}

export interface SegmentsServerStats {
  /** Request frames read (`get`, `have` and `cancel`). */
  requests: number
  haveRequests: number
  blocksServed: number
  /** Block bytes whose frames were fully handed to the stream. */
  bytesServed: number
  /** Block bytes whose frames were started but cut off (the client went away). */
  bytesAborted: number
  absent: number
  /** Blocks refused because the queue was full (or evicted for a more urgent one). */
  busy: number
  /** Blocks the client cancelled while they waited. */
  cancelled: number
  badRequests: number
  /** Streams (sessions) opened by peers. */
  streams: number
  queued: number
  active: number
}

/** One block has been written to a peer (in the order the server served them). */
export interface BlockServedEvent {
  cid: CID
  peer: string
  priority: SegmentPriority
  bytes: number
}

/** One stream from a peer, carrying any number of requests. */
interface Session {
  readonly id: number
  readonly peer: string
  readonly stream: Stream
  readonly lp: ReturnType<typeof lpStream>
  /** The `i` of the next CID asked for with `get`. */
  next: number
  readonly queued: Set<Job>
  active: Job | null
  closed: boolean
  /** Resolved when the session has nothing queued or active. */
  idle: PromiseWithResolvers<void> | null
}

interface Job extends QueuedJob {
  readonly session: Session
  readonly cid: CID
  readonly index: number
  readonly controller: AbortController
}

/**
 * The serving side of `/consort/<net>/segments/1`. A peer opens a stream and sends requests on it: `have` is
 * answered at once from the blockstore; each block of a `get` is queued in a bounded priority queue shared by
 * every peer and served most urgent first (see `ServeQueue`), one block at a time per stream; `cancel` takes
 * blocks still waiting out of the queue. Blocks are read from the local blockstore only (never fetched from the
 * network on a peer's behalf).
 */
export class SegmentsServer extends EventTarget {
  readonly #components: SegmentsServerComponents
  readonly #queue: ServeQueue<Job>
  readonly #fault: SegmentsFaultInjection
  readonly #stats = {
    requests: 0,
    haveRequests: 0,
    blocksServed: 0,
    bytesServed: 0,
    bytesAborted: 0,
    absent: 0,
    busy: 0,
    cancelled: 0,
    badRequests: 0,
    streams: 0,
  }
  readonly #sessions = new Set<Session>()
  #seq = 0
  #sessionIds = 0
  #running = false
  #paused = false

  constructor(components: SegmentsServerComponents, init: SegmentsServerInit = {}) {
    super()
    this.#components = components
    this.#queue = new ServeQueue<Job>({
      maxQueued: init.maxQueued ?? DEFAULT_MAX_QUEUED_REQUESTS,
      maxQueuedPerPeer: init.maxQueuedPerPeer ?? DEFAULT_MAX_QUEUED_REQUESTS_PER_PEER,
      maxActive: init.maxActive ?? DEFAULT_MAX_ACTIVE_REQUESTS,
      maxActivePerPeer: init.maxActivePerPeer ?? DEFAULT_MAX_ACTIVE_REQUESTS_PER_PEER,
    })
    this.#fault = { ...init.faultInjection }
  }

  get faultInjection(): Readonly<SegmentsFaultInjection> {
    return this.#fault
  }

  async start(): Promise<void> {
    if (this.#running) return
    if (this.#fault.corruptBlocks === true) log.error('FAULT INJECTION: this node serves corrupt blocks')
    await this.#components.libp2p.handle(
      this.#components.protocol,
      (stream, connection) => {
        this.#serve(stream, connection).catch((err) => {
          log('stream from %p failed: %s', connection.remotePeer, (err as Error).message)
          stream.abort(err as Error)
        })
      },
      {
        maxInboundStreams: MAX_INBOUND_STREAMS,
        maxOutboundStreams: MAX_OUTBOUND_STREAMS,
        // A peer behind NAT is reachable only through a relay until hole punching succeeds (if it does).
        runOnLimitedConnection: true,
      },
    )
    this.#running = true
  }

  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    await this.#components.libp2p.unhandle(this.#components.protocol)
    this.#queue.drain()
    for (const session of this.#sessions) this.#close(session, null)
  }

  stats(): SegmentsServerStats {
    return { ...this.#stats, queued: this.#queue.queued, active: this.#queue.active }
  }

  /**
   * Stop starting queued blocks (requests keep queueing, within the limits) until `resume()`: for operators
   * draining a node, and for tests that need requests to wait.
   */
  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    this.#pump()
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    this.#stats.streams++
    const session: Session = {
      id: ++this.#sessionIds,
      peer: connection.remotePeer.toString(),
      stream,
      lp: lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES }),
      next: 0,
      queued: new Set(),
      active: null,
      closed: false,
      idle: null,
    }
    this.#sessions.add(session)
    stream.addEventListener('close', () => this.#close(session, null), { once: true })
    try {
      for (let first = true; !session.closed; first = false) {
        let request: SegmentRequest
        try {
          const frame = await this.#readRequest(session, first)
          if (frame == null) break
          request = decodeRequest(frame)
        } catch (err) {
          if (session.closed) return
          const reply = requestErrorReply(err, first)
          if (reply == null) break
          this.#stats.badRequests++
          await this.#replyAndClose(session, reply[0], reply[1])
          return
        }
        this.#stats.requests++
        log.trace('%s %s: %d cid(s) from %s', request.op, session.id, request.cids.length, session.peer)
        if (request.op === SEGMENT_OPS.have) {
          this.#stats.haveRequests++
          await this.#send(session, [await this.#have(request.cids)])
        } else if (request.op === SEGMENT_OPS.cancel) {
          this.#cancel(session, request.cids)
        } else {
          for (const cid of request.cids) this.#enqueue(session, cid, request.priority)
          this.#pump()
        }
      }
      // the client closed its side: finish what it asked for, then close ours
      await this.#drained(session)
      if (!session.closed) await stream.close({ signal: AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS) })
    } finally {
      this.#close(session, null)
    }
  }

  /** The next request frame, or null when the client has closed its side (or left the stream idle too long). */
  async #readRequest(session: Session, first: boolean): Promise<Uint8Array | null> {
    for (;;) {
      const timeout = AbortSignal.timeout(first ? REQUEST_READ_DEADLINE_MS : SESSION_IDLE_MS)
      try {
        return (await session.lp.read({ signal: timeout })).subarray()
      } catch (err) {
        if ((err as Error).name === 'UnexpectedEOFError') return null
        // a quiet stream with work outstanding is fine: its client is waiting for blocks
        if (timeout.aborted && !first && (session.active != null || session.queued.size > 0)) continue
        if (timeout.aborted && !first) return null
        throw err
      }
    }
  }

  #enqueue(session: Session, cid: CID, priority: number): void {
    const job: Job = {
      peer: session.peer,
      channel: session.id,
      priority,
      seq: this.#seq++,
      session,
      cid,
      index: session.next++,
      controller: new AbortController(),
    }
    const result = this.#queue.enqueue(job)
    if (!result.accepted) {
      this.#busy(job)
      return
    }
    session.queued.add(job)
    if (result.evicted != null) {
      result.evicted.session.queued.delete(result.evicted)
      this.#busy(result.evicted)
      this.#settle(result.evicted.session)
    }
  }

  #cancel(session: Session, cids: CID[]): void {
    for (const job of [...session.queued]) {
      if (!cids.some((cid) => cid.equals(job.cid))) continue
      if (this.#queue.remove(job)) {
        session.queued.delete(job)
        this.#stats.cancelled++
      }
    }
    this.#settle(session)
  }

  #busy(job: Job): void {
    this.#stats.busy++
    this.#send(job.session, [encodeBusyFrame(job.index)]).catch(() => {})
  }

  #pump(): void {
    while (this.#running && !this.#paused) {
      const job = this.#queue.next()
      if (job == null) return
      const session = job.session
      session.queued.delete(job)
      session.active = job
      this.#run(job)
        .catch((err) => {
          log('serving %s failed: %s', job.peer, (err as Error).message)
          this.#close(session, err as Error)
        })
        .finally(() => {
          session.active = null
          this.#queue.done(job)
          this.#settle(session)
          this.#pump()
        })
    }
  }

  async #run(job: Job): Promise<void> {
    const session = job.session
    if (session.closed) return
    log.trace('serving %c (%d) to %s', job.cid, job.index, job.peer)
    const block = await this.#read(job.cid)
    if (block == null) {
      this.#stats.absent++
      await this.#send(session, [encodeAbsentFrame(job.index)])
      return
    }
    const served = this.#fault.corruptBlocks === true ? corrupt(block) : block
    try {
      await this.#send(session, [blockFrameHead(job.index, served.length), served])
    } catch (err) {
      this.#stats.bytesAborted += served.length
      throw err
    }
    log.trace('served %c (%d) to %s', job.cid, job.index, job.peer)
    this.#stats.blocksServed++
    this.#stats.bytesServed += served.length
    this.dispatchEvent(
      new CustomEvent<BlockServedEvent>('served', {
        detail: { cid: job.cid, peer: job.peer, priority: PRIORITIES[job.priority]!, bytes: served.length },
      }),
    )
  }

  /**
   * Write one length-prefixed frame made of parts without joining them (a block is not copied). The parts
   * are handed to the stream in one go, so frames never interleave; then wait until the stream takes more.
   */
  async #send(session: Session, parts: Uint8Array[]): Promise<void> {
    if (session.closed) return
    const length = parts.reduce((n, part) => n + part.length, 0)
    let writable = session.stream.send(varint(length))
    for (const part of parts) writable = session.stream.send(part)
    if (!writable) await session.stream.onDrain({ signal: AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS) })
  }

  async #read(cid: CID): Promise<Uint8Array | null> {
    try {
      const block = await collectBlock(this.#components.blockstore.get(cid, { offline: true }))
      return block.length <= MAX_BLOCK_BYTES ? block : null
    } catch (err) {
      // not here (the blockstore is asked offline: a server never fetches for a peer)
      log.trace('cannot read %s: %s', cid, (err as Error).message)
      return null
    }
  }

  async #have(cids: CID[]): Promise<Uint8Array> {
    const bitfield = new Uint8Array(bitfieldBytes(cids.length))
    for (let start = 0; start < cids.length; start += HAVE_LOOKUP_CONCURRENCY) {
      const slice = cids.slice(start, start + HAVE_LOOKUP_CONCURRENCY)
      const found = await Promise.all(slice.map(async (cid) => this.#components.blockstore.has(cid)))
      found.forEach((has, j) => {
        if (has) bitfieldSet(bitfield, start + j)
      })
    }
    return encodeHaveFrame(bitfield)
  }

  /** Resolve the session's idle promise once nothing is queued or active. */
  #settle(session: Session): void {
    if (session.idle != null && session.active == null && session.queued.size === 0) session.idle.resolve()
  }

  async #drained(session: Session): Promise<void> {
    if (session.active == null && session.queued.size === 0) return
    session.idle = Promise.withResolvers<void>()
    await session.idle.promise
  }

  /** The stream is gone (or failed): take its blocks out of the queue and stop. */
  #close(session: Session, err: Error | null): void {
    if (session.closed) return
    session.closed = true
    this.#sessions.delete(session)
    for (const job of session.queued) {
      if (this.#queue.remove(job)) this.#stats.cancelled++
    }
    session.queued.clear()
    session.active?.controller.abort()
    session.idle?.resolve()
    if (err != null) session.stream.abort(err)
  }

  async #replyAndClose(session: Session, code: string, message: string): Promise<void> {
    try {
      await this.#send(session, [encodeErrorFrame(code, message)])
      await session.stream.close({ signal: AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS) })
    } catch (err) {
      session.stream.abort(err as Error)
    }
  }
}

/** The error frame for a request that could not be read, or null when the stream simply ended. */
function requestErrorReply(err: unknown, first: boolean): [string, string] | null {
  const error = err as Error
  if (isError(err, SegmentFrameError)) return [SEGMENT_ERROR_CODES.badRequest, error.message]
  if (error.name === 'InvalidDataLengthError') {
    return [SEGMENT_ERROR_CODES.tooLarge, `request exceeds ${MAX_REQUEST_FRAME_BYTES} bytes`]
  }
  if (first && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return [SEGMENT_ERROR_CODES.deadline, `no request within ${REQUEST_READ_DEADLINE_MS} ms`]
  }
  return null
}

/** FAULT INJECTION: a copy of the block with one byte flipped. */
function corrupt(block: Uint8Array): Uint8Array {
  const copy = new Uint8Array(block)
  if (copy.length > 0) copy[copy.length >> 1] = copy[copy.length >> 1]! ^ 0xff
  return copy
}
