import { toHex } from '../../keys/hex.ts'
import type { Random } from '../../keys/random.ts'
import type { Clock } from '../../protocols/clock.ts'
import { MAX_KEPT_JOBS, MAX_QUEUED_IMPORTS } from './constants.ts'
import { type ImportIssue, ProductionBusyError } from './errors.ts'

export type JobStatus = 'queued' | 'running' | 'done' | 'failed'

export interface Job<P = unknown, R = unknown> {
  id: string
  kind: string
  status: JobStatus
  created: number
  finished: number | null
  progress: P | null
  result: R | null
  error: { code: string; message: string; issues?: ImportIssue[] } | null
}

/**
 * The role's work queue: one import (or contract change) at a time, so that versions and sequence numbers are
 * decided against settled state; at most `MAX_QUEUED_IMPORTS` waiting; the last `MAX_KEPT_JOBS` jobs kept so a
 * client can follow one by id (the CLI polls its progress).
 */
export class JobQueue {
  readonly #jobs = new Map<string, Job>()
  readonly #clock: Clock
  readonly #random: Random
  #tail: Promise<unknown> = Promise.resolve()
  #waiting = 0

  constructor(clock: Clock, random: Random) {
    this.#clock = clock
    this.#random = random
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id)
  }

  /** Queue `work`; the job is returned at once, `done` settles with the work. */
  submit<P, R>(
    kind: string,
    work: (report: (progress: P) => void) => Promise<R>,
  ): { job: Job<P, R>; done: Promise<R> } {
    if (this.#waiting >= MAX_QUEUED_IMPORTS) {
      throw new ProductionBusyError(`${this.#waiting} jobs are waiting already (at most ${MAX_QUEUED_IMPORTS})`)
    }
    const job: Job<P, R> = {
      id: toHex(this.#random.bytes(8)),
      kind,
      status: 'queued',
      created: this.#clock.now(),
      finished: null,
      progress: null,
      result: null,
      error: null,
    }
    this.#keep(job as Job)
    this.#waiting++
    const done = this.#tail.then(async () => {
      this.#waiting--
      job.status = 'running'
      try {
        const result = await work((progress) => {
          job.progress = progress
        })
        job.result = result
        job.status = 'done'
        return result
      } catch (err) {
        const error = err as Error & { code?: string; issues?: ImportIssue[] }
        job.error = {
          code: typeof error.code === 'string' ? error.code : 'ERR_INTERNAL',
          message: error.message,
          ...(Array.isArray(error.issues) ? { issues: error.issues } : {}),
        }
        job.status = 'failed'
        throw err
      } finally {
        job.finished = this.#clock.now()
      }
    })
    this.#tail = done.catch(() => {})
    return { job, done }
  }

  /** Run `work` in the queue and wait for it. */
  async run<R>(kind: string, work: () => Promise<R>): Promise<R> {
    return this.submit<never, R>(kind, work).done
  }

  /** Wait until everything queued so far has finished. */
  async idle(): Promise<void> {
    await this.#tail
  }

  #keep(job: Job): void {
    this.#jobs.set(job.id, job)
    while (this.#jobs.size > MAX_KEPT_JOBS) {
      const oldest = [...this.#jobs.values()].find((j) => j.status === 'done' || j.status === 'failed')
      if (oldest == null) break
      this.#jobs.delete(oldest.id)
    }
  }
}
