/**
 * Where usage reports are verified: on the calling thread, or in a pool of worker threads (one per core) so that
 * signature checks and box openings use every core while the main thread settles and writes. With `auto`, the pool
 * starts the first time reports queue up, so a quiet node never pays for threads it does not need.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { logger } from '@libp2p/logger'
import { type SealBoxVersion, SealOpener } from '../../../keys/seal.ts'
import type { RecordCaps } from '../../../protocols/records/envelope.ts'
import { MAX_VERIFY_WORKERS, POOL_BATCH, POOL_START_BACKLOG } from '../constants.ts'
import { ReportInvalidError } from '../errors.ts'
import { packBatch } from './batch.ts'
import { type DeviceInfo, ReportVerifier, type VerifiedReport, type VerifyContext } from './verify.ts'

const log = logger('consort:clearinghouse:verify')

export interface WorkerInit {
  network: string
  caps: RecordCaps
  recipient: Uint8Array
  sealingPublicKey: Uint8Array
  sealingPrivateKey: Uint8Array
  /** The box versions to open (decision 0518). */
  sealVersions: readonly SealBoxVersion[]
}

/**
 * A batch of reports for a worker, packed into one buffer that is transferred, not copied: `spans` gives, per report,
 * the offset and length of its usage record and the index of its device registration in `devices` (each
 * registration once per batch: a device's reports all carry the same one). Posting many small views instead would
 * copy each one's whole underlying buffer, twice.
 */
export interface PoolRequest {
  id: number
  now: number
  bytes: Uint8Array
  /** Per report: usage offset, usage length, device index. */
  spans: Uint32Array
  /** Per registration: offset, length. */
  devices: Uint32Array
}

/**
 * A verified report without what the main thread has or gets once per batch: its bytes and id (not posted back), and
 * its device registration, device and account (the registration's, which verification checked are the report's).
 */
export type VerifiedFields = Omit<
  VerifiedReport,
  'bytes' | 'deviceBytes' | 'reportId' | 'registration' | 'device' | 'account'
>

export interface PoolResponse {
  id: number
  /** CPU time the worker spent on the batch (µs). */
  cpu: number
  /** Per registration of the request (`devices`), as verified; `null` if no report of it was. */
  registrations: Array<DeviceInfo | null>
  results: Array<
    { ok: true; report: VerifiedFields; registration: number } | { ok: false; name: string; message: string }
  >
}

/** `0`: verify on the calling thread; `n`: a pool of n workers; `auto`: a pool of one per core, once needed. */
export type WorkerSetting = number | 'auto'

interface Waiting {
  reportId: string
  usage: Uint8Array
  device: Uint8Array
  resolve: (report: VerifiedReport) => void
  reject: (err: Error) => void
}

interface Slot {
  worker: Worker
  inFlight: Map<number, Waiting[]>
}

export class Verifier {
  readonly #init: WorkerInit
  readonly #setting: WorkerSetting
  readonly #now: () => number
  readonly #inline = new ReportVerifier()
  readonly #ctx: Omit<VerifyContext, 'decode'>
  #slots: Slot[] = []
  #queue: Waiting[] = []
  #nextId = 1
  /**
   * Batches answered, by id, waiting for every earlier batch to be answered: results are handed out in the order the
   * reports came in. Reports of one device sent in order then reach the ingest in order; a batch that overtook an
   * earlier one on the other worker would otherwise store its reports as gaps, to be read back and settled later.
   */
  readonly #answered = new Map<number, () => void>()
  #nextRelease = 1
  #broken = false
  #closed = false
  #workerCpu = 0

  constructor(init: WorkerInit, setting: WorkerSetting, now: () => number) {
    this.#init = init
    this.#setting = setting
    this.#now = now
    this.#ctx = {
      recipient: init.recipient,
      sealingPublicKey: init.sealingPublicKey,
      opener: new SealOpener(
        { publicKey: init.sealingPublicKey, privateKey: init.sealingPrivateKey },
        { versions: init.sealVersions },
      ),
    }
    if (typeof setting === 'number' && setting > 0) this.#startPool(setting)
  }

  get workers(): number {
    return this.#slots.length
  }

  /** CPU time (µs) the workers spent verifying so far. */
  get workerCpu(): number {
    return this.#workerCpu
  }

  /** Each worker's event-loop utilisation since it started, or since `since` (a previous answer). */
  utilisation(since?: Array<ReturnType<Worker['performance']['eventLoopUtilization']>>) {
    return this.#slots.map((s, i) => s.worker.performance.eventLoopUtilization(since?.[i]))
  }

  /**
   * Verify one report whose id (`reportIdOf` of `usage`) the caller worked out; `backlog` is how many reports already
   * wait (the `auto` pool starts beyond a threshold).
   */
  verify(reportId: string, usage: Uint8Array, device: Uint8Array, backlog: number): Promise<VerifiedReport> {
    if (this.#slots.length === 0 && !this.#broken && !this.#closed && this.#setting === 'auto') {
      if (backlog >= POOL_START_BACKLOG) this.#startPool(Math.min(availableParallelism(), MAX_VERIFY_WORKERS))
    }
    if (this.#slots.length === 0) {
      try {
        return Promise.resolve(this.verifyHere(reportId, usage, device))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ reportId, usage, device, resolve, reject })
      this.#dispatch()
    })
  }

  /** Verify on this thread, now. */
  verifyHere(reportId: string, usage: Uint8Array, device: Uint8Array): VerifiedReport {
    return this.#inline.verify(
      usage,
      device,
      { ...this.#ctx, decode: { network: this.#init.network, now: this.#now(), caps: this.#init.caps } },
      reportId,
    )
  }

  async close(): Promise<void> {
    this.#closed = true
    const slots = this.#slots
    this.#slots = []
    await Promise.all(slots.map((s) => s.worker.terminate()))
    const unanswered = slots.flatMap((s) => [...s.inFlight.values()].flat())
    for (const w of [...unanswered, ...this.#queue]) w.reject(new ReportInvalidError('the clearinghouse stopped'))
    // Answers that waited for those batches are handed out as they are.
    for (const hand of [...this.#answered.keys()].sort((a, b) => a - b).map((id) => this.#answered.get(id)!)) hand()
    this.#answered.clear()
    this.#queue = []
  }

  #startPool(size: number): void {
    log('starting %d verification workers', size)
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: this.#init })
      const slot: Slot = { worker, inFlight: new Map() }
      worker.on('message', (response: PoolResponse) => this.#answer(slot, response))
      worker.on('error', (err) => this.#fail(slot, err))
      worker.on('exit', (code) => {
        if (!this.#closed) this.#fail(slot, new Error(`verification worker exited with code ${code}`))
      })
      worker.unref()
      this.#slots.push(slot)
    }
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let best: Slot | undefined
      for (const slot of this.#slots) if (best === undefined || slot.inFlight.size < best.inFlight.size) best = slot
      // Two batches in flight per worker keep it busy while the answer to the other one travels back.
      if (best === undefined || best.inFlight.size >= 2) return
      const items = this.#queue.splice(0, POOL_BATCH)
      const id = this.#nextId++
      best.inFlight.set(id, items)
      // A worker with work in flight keeps the process alive; an idle one does not.
      best.worker.ref()
      const request: PoolRequest = { id, now: this.#now(), ...packBatch(items) }
      best.worker.postMessage(request, [
        request.bytes.buffer as ArrayBuffer,
        request.spans.buffer as ArrayBuffer,
        request.devices.buffer as ArrayBuffer,
      ])
    }
  }

  #answer(slot: Slot, response: PoolResponse): void {
    const items = slot.inFlight.get(response.id)
    if (items === undefined) return
    slot.inFlight.delete(response.id)
    this.#workerCpu += response.cpu
    if (slot.inFlight.size === 0) slot.worker.unref()
    this.#answered.set(response.id, () => this.#hand(items, response))
    this.#release()
    this.#dispatch()
  }

  /** Hand out the answered batches that no unanswered batch precedes. */
  #release(): void {
    for (let next = this.#answered.get(this.#nextRelease); next !== undefined; ) {
      this.#answered.delete(this.#nextRelease++)
      next()
      next = this.#answered.get(this.#nextRelease)
    }
  }

  #hand(items: Waiting[], response: PoolResponse): void {
    for (const [i, waiting] of items.entries()) {
      const result = response.results[i]
      if (result === undefined) waiting.reject(new Error('verification worker gave no answer'))
      else if (result.ok) {
        const registration = response.registrations[result.registration]
        if (registration == null) {
          waiting.reject(new Error('verification worker gave no registration'))
          continue
        }
        const r = result.report
        waiting.resolve({
          reportId: waiting.reportId,
          bytes: waiting.usage,
          deviceBytes: waiting.device,
          created: r.created,
          device: registration.device,
          account: registration.account,
          seq: r.seq,
          prev: r.prev,
          registration,
          events: r.events,
        })
      } else if (result.name === ReportInvalidError.name) waiting.reject(new ReportInvalidError(result.message))
      else waiting.reject(new Error(result.message))
    }
  }

  /** A worker failed: verify what it held here, and from now on verify everything here. */
  #fail(slot: Slot, err: Error): void {
    if (!this.#slots.includes(slot)) return
    log.error('verification worker failed, verifying on the main thread from now on: %e', err)
    this.#broken = true
    this.#slots = this.#slots.filter((s) => s !== slot)
    void slot.worker.terminate()
    const here = (items: Waiting[]) => {
      for (const w of items) {
        try {
          w.resolve(this.verifyHere(w.reportId, w.usage, w.device))
        } catch (e) {
          w.reject(e as Error)
        }
      }
    }
    // The batches it held are verified here, in their turn.
    for (const [id, items] of slot.inFlight) this.#answered.set(id, () => here(items))
    slot.inFlight.clear()
    this.#release()
    if (this.#slots.length === 0) {
      const queued = this.#queue
      this.#queue = []
      here(queued)
    }
    this.#dispatch()
  }
}
