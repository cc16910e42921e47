/**
 * Packaging on every core (docs/decisions/0201): a pool of worker threads, one per core, that seal and hash runs of
 * a track's segments (`seal-worker.ts`) while the calling thread only names and stores the blocks. Segments are
 * independent — each has its own nonce and associated data — so any thread may seal any of them, and a block is
 * byte for byte what `encryptSegment` gives on the calling thread.
 *
 * Bytes cross threads with one copy on the way in and none on the way out: a run's plaintext (1 MiB of consecutive
 * segments) is copied into a slot of shared memory that is reused from run to run, and the worker reads it there in
 * place; the worker writes the run's blocks — each ciphertext with its tag — and their SHA-256 digests into one
 * buffer that comes back transferred, and the blockstore stores views of it.
 *
 * The pool belongs to whoever packages (the production role makes one when it starts and closes it when it stops).
 * Its workers start on first use and stay; an idle worker does not keep the process alive. A sealing error on a
 * worker, a worker that dies, and a pool closed under a run each reject that run with a `SegmentSealError` that says
 * which segments, which worker and why; a dead worker is replaced for the next run. Where threads cannot be started
 * at all (a simulation in virtual time refuses them) the pool says so (`available` false) and packaging seals on the
 * calling thread as before.
 */
import { availableParallelism } from 'node:os'
import { type ResourceLimits, Worker } from 'node:worker_threads'
import { logger } from '@libp2p/logger'
import { SEGMENT_TAG_BYTES } from '../../../keys/segments.ts'
import { SegmentSealError } from './errors.ts'
import type { SealRequest, SealResponse, SealWorkerData } from './seal-messages.ts'

const log = logger('consort:production:packaging')

/** Workers at most: packaging is bounded by memory bandwidth long before a large machine's core count. */
export const MAX_SEAL_WORKERS = 8
/** Plaintext per run handed to a worker: big enough that a message's cost is small beside the run's ~1 ms of work. */
export const SEAL_RUN_BYTES = 1024 * 1024
/**
 * Runs each worker holds at once. On a loaded machine the calling thread may wait tens of milliseconds for the CPU
 * before it stores a run and asks for the next; runs queued at the worker keep it busy meanwhile. Bounded because
 * each one's blocks are memory held until the blockstore takes them.
 */
export const RUNS_PER_WORKER = 4
/** Workers lost in a row (dying or failing to start, no run answered between) after which queued runs are refused. */
const MAX_LOSSES_IN_A_ROW = 3

/** A track to seal: its keys (copies of the caller's) and its plaintext (the caller's, read, never changed). */
export interface SealJob {
  contentKey: Uint8Array
  keyId: Uint8Array
  plaintext: Uint8Array
  segmentSize: number
}

/** A run sealed: each segment's block (ciphertext || tag) and the SHA-256 of each (32 bytes apiece, in order). */
export interface SealedRun {
  blocks: Uint8Array[]
  digests: Uint8Array
}

export interface SealPoolInit {
  /** Worker threads (default: one per core, at most `MAX_SEAL_WORKERS`). */
  workers?: number
  /** Limits of each worker's heap (tests make a worker fail with them). */
  resourceLimits?: ResourceLimits
}

interface Run {
  job: SealJob
  first: number
  count: number
  /** Set when the run is posted to a worker. */
  request?: SealRequest
  resolve(run: SealedRun): void
  reject(err: Error): void
}

interface Thread {
  worker: Worker
  /** The worker's thread id, kept for messages after it exits (when `worker.threadId` reads -1). */
  id: number
  inFlight: Map<number, Run>
}

export class SealPool {
  readonly size: number
  readonly #resourceLimits: ResourceLimits | undefined
  readonly #threads: Thread[] = []
  /** `depth` slots of `SEAL_RUN_BYTES` each, shared with every worker (made with the first worker). */
  #memory: SharedArrayBuffer | undefined
  readonly #freeSlots: number[] = []
  readonly #queue: Run[] = []
  #nextId = 0
  #lossesInARow = 0
  #available = true
  #closed = false

  constructor(init: SealPoolInit = {}) {
    const size = init.workers ?? Math.min(availableParallelism(), MAX_SEAL_WORKERS)
    if (!Number.isSafeInteger(size) || size < 1 || size > 64) {
      throw new RangeError(`a packaging pool has 1..64 workers, not ${size}`)
    }
    this.size = size
    this.#resourceLimits = init.resourceLimits
  }

  /** Runs to keep asked for at once (all workers). */
  get depth(): number {
    return this.size * RUNS_PER_WORKER
  }

  /** Segments per run at this segment size (at least one). */
  runSegments(segmentSize: number): number {
    return Math.max(1, Math.floor(SEAL_RUN_BYTES / segmentSize))
  }

  /** Live worker threads. */
  get threads(): number {
    return this.#threads.length
  }

  /**
   * Whether runs go to worker threads: false once closed, or where threads cannot be started (a simulation refuses
   * them), and the caller seals on its own thread. Starts the workers on first use.
   */
  get available(): boolean {
    while (this.#threads.length < this.size && this.#available && !this.#closed) this.#start()
    return this.#available && !this.#closed
  }

  /** A track for the workers: its keys copied (a view's whole buffer would be cloned into every message). */
  job(contentKey: Uint8Array, keyId: Uint8Array, plaintext: Uint8Array, segmentSize: number): SealJob {
    if (segmentSize > SEAL_RUN_BYTES)
      throw new RangeError(`segments of ${segmentSize} bytes exceed a run's ${SEAL_RUN_BYTES}`)
    return { contentKey: contentKey.slice(), keyId: keyId.slice(), plaintext, segmentSize }
  }

  /** Seal `count` consecutive segments of `job` from index `first` on a worker. */
  seal(job: SealJob, first: number, count: number): Promise<SealedRun> {
    if (this.#closed) return Promise.reject(new SegmentSealError('the packaging pool is closed'))
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, first, count, resolve, reject })
      this.#dispatch()
    })
  }

  /** Stop the workers (the production role does when it stops). Runs still queued or in flight are rejected. */
  async close(): Promise<void> {
    this.#closed = true
    const threads = this.#threads.splice(0)
    const orphans = [...this.#queue.splice(0), ...threads.flatMap((t) => [...t.inFlight.values()])]
    for (const thread of threads) thread.inFlight.clear()
    for (const run of orphans) run.reject(new SegmentSealError(`${describe(run)}: the packaging pool closed`))
    await Promise.all(threads.map((t) => t.worker.terminate()))
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      while (this.#threads.length < this.size && this.#available) this.#start()
      if (!this.#available) {
        for (const run of this.#queue.splice(0)) {
          run.reject(new SegmentSealError(`${describe(run)}: no packaging worker threads here`))
        }
        return
      }
      let best: Thread | undefined
      for (const thread of this.#threads) {
        if (best === undefined || thread.inFlight.size < best.inFlight.size) best = thread
      }
      if (best === undefined || best.inFlight.size >= RUNS_PER_WORKER) return
      const run = this.#queue.shift()!
      const slot = this.#freeSlots.pop()!
      const { job, first, count } = run
      const plaintext = job.plaintext.subarray(first * job.segmentSize, (first + count) * job.segmentSize)
      // The run's one copy: into a slot of shared memory that the worker reads in place.
      new Uint8Array(this.#memory!, slot * SEAL_RUN_BYTES, plaintext.length).set(plaintext)
      const request: SealRequest = {
        id: this.#nextId++,
        contentKey: job.contentKey,
        keyId: job.keyId,
        segmentSize: job.segmentSize,
        first,
        count,
        slot,
        length: plaintext.length,
      }
      run.request = request
      best.inFlight.set(request.id, run)
      // A worker with work in flight keeps the process alive; an idle one does not.
      if (best.inFlight.size === 1) best.worker.ref()
      best.worker.postMessage(request)
    }
  }

  #start(): void {
    this.#memory ??= new SharedArrayBuffer(this.depth * SEAL_RUN_BYTES)
    if (this.#freeSlots.length === 0 && this.#threads.length === 0) {
      for (let slot = this.depth - 1; slot >= 0; slot--) this.#freeSlots.push(slot)
    }
    const workerData: SealWorkerData = { slots: this.#memory, slotBytes: SEAL_RUN_BYTES }
    let worker: Worker
    try {
      worker = new Worker(new URL('./seal-worker.ts', import.meta.url), {
        workerData,
        ...(this.#resourceLimits === undefined ? {} : { resourceLimits: this.#resourceLimits }),
      })
    } catch (err) {
      // Where threads cannot be had (a simulation in virtual time refuses them) the caller seals on its own thread.
      log('no packaging worker threads (%s): sealing on the calling thread', (err as Error).message)
      this.#available = false
      return
    }
    const thread: Thread = { worker, id: worker.threadId, inFlight: new Map() }
    worker.on('message', (response: SealResponse) => this.#answer(thread, response))
    worker.on('error', (err) => this.#lose(thread, `failed: ${err.name}: ${err.message}`, err))
    worker.on('exit', (code) => this.#lose(thread, `exited with code ${code}`))
    worker.unref()
    this.#threads.push(thread)
  }

  /** A run leaves a worker (answered or lost): its slot is free again. */
  #settle(thread: Thread, id: number): Run | undefined {
    const run = thread.inFlight.get(id)
    if (run === undefined) return undefined
    thread.inFlight.delete(id)
    this.#freeSlots.push(run.request!.slot)
    if (thread.inFlight.size === 0) thread.worker.unref()
    return run
  }

  #answer(thread: Thread, response: SealResponse): void {
    const run = this.#settle(thread, response.id)
    if (run === undefined) return
    this.#lossesInARow = 0
    if ('error' in response) {
      const { segment, name, message, code } = response.error
      const cause = Object.assign(new Error(message), { name, ...(code === undefined ? {} : { code }) })
      const where = `packaging worker ${thread.id}`
      run.reject(
        new SegmentSealError(`segment ${segment} could not be sealed on ${where}: ${name}: ${message}`, { cause }),
      )
    } else run.resolve(unpack(run, response.run))
    this.#dispatch()
  }

  /** A worker died or could not start: reject its runs, drop it; the next dispatch starts another. */
  #lose(thread: Thread, why: string, cause?: Error): void {
    const at = this.#threads.indexOf(thread)
    if (at < 0) return
    this.#threads.splice(at, 1)
    void thread.worker.terminate()
    const orphans = [...thread.inFlight.keys()].map((id) => this.#settle(thread, id)!)
    log.error('packaging worker %d %s; %d runs lost', thread.id, why, orphans.length)
    for (const run of orphans) {
      run.reject(new SegmentSealError(`${describe(run)}: packaging worker ${thread.id} ${why}`, { cause }))
    }
    if (++this.#lossesInARow >= MAX_LOSSES_IN_A_ROW) {
      // Workers that die as they start would be restarted forever: refuse what waits, try again on the next run.
      this.#lossesInARow = 0
      for (const run of this.#queue.splice(0)) {
        const last = `${MAX_LOSSES_IN_A_ROW} packaging workers lost in a row, the last ${why}`
        run.reject(new SegmentSealError(`${describe(run)}: ${last}`, { cause }))
      }
    }
    if (this.#queue.length > 0 && !this.#closed) this.#dispatch()
  }
}

/** The blocks and digests of a sealed run's buffer (views, no copies). */
function unpack(run: Run, buffer: ArrayBuffer): SealedRun {
  const { count, length } = run.request!
  const { segmentSize } = run.job
  const blocksBytes = length + SEGMENT_TAG_BYTES * count
  const blocks: Uint8Array[] = []
  for (let n = 0, at = 0; n < count; n++) {
    const size = Math.min(segmentSize, length - n * segmentSize) + SEGMENT_TAG_BYTES
    blocks.push(new Uint8Array(buffer, at, size))
    at += size
  }
  return { blocks, digests: new Uint8Array(buffer, blocksBytes, 32 * count) }
}

function describe(run: { first: number; count: number }): string {
  const last = run.first + run.count - 1
  return last === run.first ? `segment ${run.first}` : `segments ${run.first}..${last}`
}
