import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import { type BlockStore, collectBlock } from '../records/store.ts'
import {
  bitfieldBytes,
  bitfieldSet,
  decodeRequest,
  encodeAbsentFrame,
  encodeBlockFrame,
  encodeErrorFrame,
  encodeHaveFrame,
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
  /** `get` and `have` requests read. */
  requests: number
  haveRequests: number
  blocksServed: number
  /** Block bytes whose frames were fully written. */
  bytesServed: number
  /** Block bytes whose frames were started but cut off (the client cancelled or went away). */
  bytesAborted: number
  absent: number
  /** Requests refused because the queue was full (or evicted for a more urgent one). */
  busy: number
  /** Requests the client cancelled while they waited. */
  cancelled: number
  badRequests: number
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

interface Job extends QueuedJob {
  readonly cids: CID[]
  readonly stream: Stream
  readonly lp: ReturnType<typeof lpStream>
  readonly controller: AbortController
  settled: boolean
  finish: () => void
}

/**
 * The serving side of `/consort/<net>/segments/1`: answers `have` at once from the blockstore and queues `get`
 * requests in a bounded priority queue, serving the most urgent first (see `ServeQueue`). Blocks are read
 * from the local blockstore only (never fetched from the network on a peer's behalf).
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
  }
  #seq = 0
  #running = false
  #paused = false
  readonly #jobs = new Set<Job>()

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
          log.error('stream failed: %e', err)
          stream.abort(err as Error)
        })
      },
      { maxInboundStreams: MAX_INBOUND_STREAMS, maxOutboundStreams: MAX_OUTBOUND_STREAMS },
    )
    this.#running = true
  }

  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    await this.#components.libp2p.unhandle(this.#components.protocol)
    for (const job of this.#queue.drain()) this.#finish(job)
    for (const job of this.#jobs) job.controller.abort()
  }

  stats(): SegmentsServerStats {
    return { ...this.#stats, queued: this.#queue.queued, active: this.#queue.active }
  }

  /**
   * Stop starting queued requests (they keep queueing, within the limits) until `resume()`: for operators
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
    const peer = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES })
    let request: ReturnType<typeof decodeRequest>
    try {
      const frame = await lp.read({ signal: AbortSignal.timeout(REQUEST_READ_DEADLINE_MS) })
      request = decodeRequest(frame.subarray())
    } catch (err) {
      this.#stats.badRequests++
      const [code, message] = requestErrorReply(err)
      await this.#replyAndClose(stream, lp, code, message)
      return
    }
    this.#stats.requests++
    if (request.op === SEGMENT_OPS.have) {
      this.#stats.haveRequests++
      const bitfield = await this.#have(request.cids)
      await lp.write(encodeHaveFrame(bitfield), { signal: AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS) })
      await stream
        .close({ signal: AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS) })
        .catch((err) => stream.abort(err as Error))
      return
    }
    await new Promise<void>((resolve) => {
      const job: Job = {
        peer,
        priority: request.priority,
        seq: this.#seq++,
        cids: request.cids,
        stream,
        lp,
        controller: new AbortController(),
        settled: false,
        finish: resolve,
      }
      const result = this.#queue.enqueue(job)
      if (!result.accepted) {
        this.#busy(job)
        return
      }
      if (result.evicted != null) this.#busy(result.evicted)
      stream.addEventListener(
        'close',
        () => {
          if (job.settled) return
          if (this.#queue.remove(job)) {
            this.#stats.cancelled++
            this.#finish(job)
          } else {
            job.controller.abort()
          }
        },
        { once: true },
      )
      this.#pump()
    })
  }

  #busy(job: Job): void {
    this.#stats.busy++
    this.#finish(job)
    void this.#replyAndClose(job.stream, job.lp, SEGMENT_ERROR_CODES.busy, 'the request queue is full')
  }

  #finish(job: Job): void {
    if (job.settled) return
    job.settled = true
    job.finish()
  }

  #pump(): void {
    while (this.#running && !this.#paused) {
      const job = this.#queue.next()
      if (job == null) return
      this.#jobs.add(job)
      this.#run(job)
        .catch((err) => {
          log('serving %s failed: %s', job.peer, (err as Error).message)
          job.stream.abort(err as Error)
        })
        .finally(() => {
          this.#jobs.delete(job)
          this.#queue.done(job)
          this.#finish(job)
          this.#pump()
        })
    }
  }

  async #run(job: Job): Promise<void> {
    const signal = job.controller.signal
    for (let i = 0; i < job.cids.length; i++) {
      signal.throwIfAborted()
      const cid = job.cids[i]!
      const block = await this.#read(cid)
      if (block == null) {
        this.#stats.absent++
        await job.lp.write(encodeAbsentFrame(i), {
          signal: AbortSignal.any([signal, AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS)]),
        })
        continue
      }
      const served = this.#fault.corruptBlocks === true ? corrupt(block) : block
      try {
        await job.lp.write(encodeBlockFrame(i, served), {
          signal: AbortSignal.any([signal, AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS)]),
        })
      } catch (err) {
        this.#stats.bytesAborted += served.length
        throw err
      }
      this.#stats.blocksServed++
      this.#stats.bytesServed += served.length
      this.dispatchEvent(
        new CustomEvent<BlockServedEvent>('served', {
          detail: { cid, peer: job.peer, priority: PRIORITIES[job.priority]!, bytes: served.length },
        }),
      )
    }
    await job.stream.close({ signal: AbortSignal.any([signal, AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS)]) })
  }

  async #read(cid: CID): Promise<Uint8Array | null> {
    const blocks = this.#components.blockstore
    if (!(await blocks.has(cid))) return null
    try {
      const block = await collectBlock(blocks.get(cid, { offline: true }))
      return block.length <= MAX_BLOCK_BYTES ? block : null
    } catch (err) {
      log('cannot read %s: %s', cid, (err as Error).message)
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
    return bitfield
  }

  async #replyAndClose(stream: Stream, lp: ReturnType<typeof lpStream>, code: string, message: string): Promise<void> {
    try {
      await lp.write(encodeErrorFrame(code, message), { signal: AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS) })
      await stream.close({ signal: AbortSignal.timeout(BLOCK_WRITE_DEADLINE_MS) })
    } catch (err) {
      stream.abort(err as Error)
    }
  }
}

function requestErrorReply(err: unknown): [string, string] {
  const error = err as Error
  if (err instanceof SegmentFrameError) return [SEGMENT_ERROR_CODES.badRequest, error.message]
  if (error.name === 'InvalidDataLengthError') {
    return [SEGMENT_ERROR_CODES.tooLarge, `request exceeds ${MAX_REQUEST_FRAME_BYTES} bytes`]
  }
  if (error.name === 'TimeoutError' || error.name === 'AbortError') {
    return [SEGMENT_ERROR_CODES.deadline, `no request within ${REQUEST_READ_DEADLINE_MS} ms`]
  }
  return [SEGMENT_ERROR_CODES.badRequest, 'unreadable request']
}

/** FAULT INJECTION: a copy of the block with one byte flipped. */
function corrupt(block: Uint8Array): Uint8Array {
  const copy = new Uint8Array(block)
  if (copy.length > 0) copy[copy.length >> 1] = copy[copy.length >> 1]! ^ 0xff
  return copy
}
