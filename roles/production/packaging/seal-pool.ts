/**
 * Packaging on every core: worker threads seal and hash runs of segments (`seal-worker.ts`) while this thread only
 * copies plaintext out, names the blocks and writes them (docs/decisions/0108). Segments are independent — each has
 * its own nonce and associated data — so any thread may seal any of them; the output is byte for byte what
 * `encryptSegment` gives on this thread.
 *
 * One pool serves the whole process (a label packages one album at a time; two imports share the cores anyway). Its
 * workers start on first use and stay; an idle worker does not keep the process alive. A worker that fails is
 * replaced; its runs are sealed on this thread instead, so a broken pool costs speed, never a package.
 */
import { hash } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { logger } from '@libp2p/logger'
import { encryptSegment } from '../../../keys/segments.ts'

const log = logger('consort:production:packaging')

/** Workers at most: packaging is bounded by memory bandwidth long before a large machine's core count. */
export const MAX_SEAL_WORKERS = 8
/**
 * Runs each worker holds at once. Two would keep a worker busy on an idle machine; on a loaded one this thread may
 * wait tens of milliseconds for the CPU before it hands a worker its next run, and a worker with only one run queued
 * idles meanwhile (measured at load 17: packaging at 0.28 × raw AES with 2, the workers mostly waiting). Six runs of
 * 1 MiB cover about 30 ms of scheduling delay at 200 MB/s per worker.
 */
export const RUNS_PER_WORKER = 6
/** Worker failures after which the pool gives up and every run is sealed on the calling thread. */
const MAX_WORKER_FAILURES = 3
/**
 * Plaintext buffers of this size come back from the workers and are reused: a fresh buffer per run costs more in
 * page faults and garbage collection than the copy into it (measured: 90 % of this thread's time).
 */
export const RUN_BUFFER_BYTES = 1024 * 1024

export interface SealRequest {
  id: number
  contentKey: Uint8Array
  keyId: Uint8Array
  /** Index of the run's first segment. */
  first: number
  segmentSize: number
  /** The run's plaintext: the first `length` bytes of a buffer of its own (transferred, and sent back for reuse). */
  plaintext: ArrayBuffer
  length: number
}

export type SealResponse =
  | { id: number; ciphertexts: Uint8Array[]; digests: Uint8Array[]; plaintext: ArrayBuffer }
  | { id: number; error: string }

/** A run of consecutive segments, sealed: ciphertext || tag of each, and the SHA-256 of each ciphertext. */
export interface SealedRun {
  ciphertexts: Uint8Array[]
  digests: Uint8Array[]
}

interface Run {
  request: SealRequest
  /** The caller's plaintext (the request's copy moves to the worker): sealed from here if the worker fails. */
  source: Uint8Array
  resolve(run: SealedRun): void
  reject(err: Error): void
}

interface Slot {
  worker: Worker
  inFlight: Map<number, Run>
}

/** Seal a run on this thread: what a worker does. */
export function sealRunHere(
  contentKey: Uint8Array,
  keyId: Uint8Array,
  first: number,
  plaintext: Uint8Array,
  segmentSize: number,
): SealedRun {
  const ciphertexts: Uint8Array[] = []
  const digests: Uint8Array[] = []
  for (let at = 0, i = first; at < plaintext.length; at += segmentSize, i++) {
    const sealed = encryptSegment(contentKey, keyId, i, plaintext.subarray(at, at + segmentSize))
    ciphertexts.push(sealed)
    digests.push(hash('sha256', sealed, 'buffer'))
  }
  return { ciphertexts, digests }
}

export class SealPool {
  readonly size: number
  readonly #slots: Slot[] = []
  readonly #queue: Run[] = []
  readonly #spare: ArrayBuffer[] = []
  #nextId = 0
  #failures = 0

  constructor(size = Math.min(availableParallelism(), MAX_SEAL_WORKERS)) {
    this.size = Math.max(1, size)
  }

  /** Runs in flight at most (all workers): how many the caller should keep asked for. */
  get depth(): number {
    return this.size * RUNS_PER_WORKER
  }

  /** Live workers. */
  get workers(): number {
    return this.#slots.length
  }

  /** Whether runs still go to workers (false once they failed too often: runs are sealed on the calling thread). */
  get working(): boolean {
    return this.#failures < MAX_WORKER_FAILURES
  }

  /**
   * Seal a run of consecutive segments starting at index `first`. `plaintext` is copied once into a buffer that moves
   * to the worker; the caller's bytes are untouched.
   */
  seal(
    contentKey: Uint8Array,
    keyId: Uint8Array,
    first: number,
    plaintext: Uint8Array,
    segmentSize: number,
  ): Promise<SealedRun> {
    if (!this.working) {
      try {
        return Promise.resolve(sealRunHere(contentKey, keyId, first, plaintext, segmentSize))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    const buffer =
      plaintext.length <= RUN_BUFFER_BYTES
        ? (this.#spare.pop() ?? new ArrayBuffer(RUN_BUFFER_BYTES))
        : new ArrayBuffer(plaintext.length)
    new Uint8Array(buffer).set(plaintext)
    const request: SealRequest = {
      id: this.#nextId++,
      contentKey,
      keyId,
      first,
      segmentSize,
      plaintext: buffer,
      length: plaintext.length,
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, source: plaintext, resolve, reject })
      this.#dispatch()
    })
  }

  /** Stop the workers (tests; a process exits without it). Runs in flight are sealed on this thread. */
  async close(): Promise<void> {
    const slots = this.#slots.splice(0)
    for (const slot of slots) {
      const runs = [...slot.inFlight.values()]
      slot.inFlight.clear()
      this.#sealHere(runs)
    }
    this.#spare.length = 0
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      if (!this.working) {
        this.#sealHere(this.#queue.splice(0))
        return
      }
      while (this.#slots.length < this.size && this.working) this.#start()
      if (!this.working) continue
      let best: Slot | undefined
      for (const slot of this.#slots) if (best === undefined || slot.inFlight.size < best.inFlight.size) best = slot
      if (best === undefined || best.inFlight.size >= RUNS_PER_WORKER) return
      const run = this.#queue.shift()!
      best.inFlight.set(run.request.id, run)
      // A worker with work in flight keeps the process alive; an idle one does not.
      best.worker.ref()
      best.worker.postMessage(run.request, [run.request.plaintext])
    }
  }

  #start(): void {
    let worker: Worker
    try {
      worker = new Worker(new URL('./seal-worker.ts', import.meta.url))
    } catch (err) {
      // Where threads cannot be had (a simulation in virtual time refuses them), every run is sealed here.
      log('no packaging workers (%s): sealing on this thread', (err as Error).message)
      this.#failures = MAX_WORKER_FAILURES
      return
    }
    const slot: Slot = { worker, inFlight: new Map() }
    worker.on('message', (response: SealResponse) => this.#answer(slot, response))
    worker.on('error', (err) => this.#fail(slot, err))
    worker.on('exit', (code) => this.#fail(slot, new Error(`packaging worker exited with code ${code}`)))
    worker.unref()
    this.#slots.push(slot)
  }

  #answer(slot: Slot, response: SealResponse): void {
    const run = slot.inFlight.get(response.id)
    if (run === undefined) return
    slot.inFlight.delete(response.id)
    if (slot.inFlight.size === 0) slot.worker.unref()
    if ('error' in response) run.reject(new Error(response.error))
    else {
      const spares = this.size * RUNS_PER_WORKER
      if (response.plaintext.byteLength === RUN_BUFFER_BYTES && this.#spare.length < spares) {
        this.#spare.push(response.plaintext)
      }
      run.resolve({ ciphertexts: response.ciphertexts, digests: response.digests })
    }
    this.#dispatch()
  }

  /** A worker died or threw outside a run: drop it, seal its runs here, let the next dispatch start another. */
  #fail(slot: Slot, err: Error): void {
    const at = this.#slots.indexOf(slot)
    if (at < 0) return
    this.#slots.splice(at, 1)
    this.#failures++
    void slot.worker.terminate()
    const orphans = [...slot.inFlight.values()]
    slot.inFlight.clear()
    if (orphans.length > 0)
      log('packaging worker failed (%s); %d runs sealed on this thread', err.message, orphans.length)
    this.#sealHere(orphans)
    this.#dispatch()
  }

  #sealHere(runs: Run[]): void {
    for (const run of runs) {
      const { contentKey, keyId, first, segmentSize } = run.request
      try {
        run.resolve(sealRunHere(contentKey, keyId, first, run.source, segmentSize))
      } catch (err) {
        run.reject(err as Error)
      }
    }
  }
}
