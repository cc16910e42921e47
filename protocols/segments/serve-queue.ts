/**
 * The server's bounded priority queue. Requests wait here until a serving slot is free; the next one served is
 * the most urgent (lowest priority code), first come first served within a priority, among the peers that
 * still have a free slot of their own. The queue holds only request descriptors (the block is read when it
 * is served), it is bounded overall and per peer, and a full queue makes room for a more urgent request by
 * refusing the least urgent, newest one. Jobs of one channel (one stream) are never served at once, so that
 * their frames do not interleave on the stream.
 */

export interface QueueLimits {
  maxQueued: number
  maxQueuedPerPeer: number
  maxActive: number
  maxActivePerPeer: number
}

export interface QueuedJob {
  readonly peer: string
  /** Jobs of one channel are served one at a time. */
  readonly channel: number
  readonly priority: number
  /** Arrival order, for first come first served within a priority. */
  readonly seq: number
}

export type EnqueueResult<J> = { accepted: true; evicted: J | null } | { accepted: false }

export class ServeQueue<J extends QueuedJob> {
  readonly #limits: QueueLimits
  /** One FIFO per priority code (0, 1, 2). */
  readonly #lanes: J[][] = [[], [], []]
  readonly #queuedPerPeer = new Map<string, number>()
  readonly #activePerPeer = new Map<string, number>()
  readonly #activeChannels = new Set<number>()
  #queued = 0
  #active = 0

  constructor(limits: QueueLimits) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`)
    }
    this.#limits = limits
  }

  get queued(): number {
    return this.#queued
  }

  get active(): number {
    return this.#active
  }

  /**
   * Queue a job. Refused when its peer's share is full; when the whole queue is full, a less urgent job is
   * evicted (returned, for the caller to answer busy) or, if there is none, this one is refused.
   */
  enqueue(job: J): EnqueueResult<J> {
    if (job.priority < 0 || job.priority >= this.#lanes.length) throw new RangeError(`priority ${job.priority}`)
    if ((this.#queuedPerPeer.get(job.peer) ?? 0) >= this.#limits.maxQueuedPerPeer) return { accepted: false }
    let evicted: J | null = null
    if (this.#queued >= this.#limits.maxQueued) {
      evicted = this.#evictLessUrgentThan(job.priority)
      if (evicted == null) return { accepted: false }
    }
    this.#lanes[job.priority]!.push(job)
    this.#queued++
    this.#queuedPerPeer.set(job.peer, (this.#queuedPerPeer.get(job.peer) ?? 0) + 1)
    return { accepted: true, evicted }
  }

  /** Remove a queued job that its client gave up on. Returns false if it was not queued. */
  remove(job: J): boolean {
    const lane = this.#lanes[job.priority]
    const at = lane?.indexOf(job) ?? -1
    if (lane == null || at < 0) return false
    lane.splice(at, 1)
    this.#dropQueued(job.peer)
    return true
  }

  /**
   * Take the next job to serve and count it active, or null when no slot is free or nothing queued can use
   * one. Call `done(job)` when it is served.
   */
  next(): J | null {
    if (this.#active >= this.#limits.maxActive) return null
    for (const lane of this.#lanes) {
      for (let i = 0; i < lane.length; i++) {
        const job = lane[i]!
        if ((this.#activePerPeer.get(job.peer) ?? 0) >= this.#limits.maxActivePerPeer) continue
        if (this.#activeChannels.has(job.channel)) continue
        lane.splice(i, 1)
        this.#dropQueued(job.peer)
        this.#activeChannels.add(job.channel)
        this.#active++
        this.#activePerPeer.set(job.peer, (this.#activePerPeer.get(job.peer) ?? 0) + 1)
        return job
      }
    }
    return null
  }

  /** A job taken by `next()` has finished (served, failed or cancelled). */
  done(job: J): void {
    const active = this.#activePerPeer.get(job.peer) ?? 0
    if (active <= 0) throw new RangeError(`invariant: no active job for peer ${job.peer}`)
    if (active === 1) this.#activePerPeer.delete(job.peer)
    else this.#activePerPeer.set(job.peer, active - 1)
    this.#activeChannels.delete(job.channel)
    this.#active--
  }

  /** The queued jobs that match (to cancel them). */
  find(match: (job: J) => boolean): J[] {
    return this.#lanes.flatMap((lane) => lane.filter(match))
  }

  /** Every queued job, most urgent first (for shutdown). */
  drain(): J[] {
    const all = this.#lanes.flatMap((lane) => lane.splice(0))
    this.#queued = 0
    this.#queuedPerPeer.clear()
    return all
  }

  #evictLessUrgentThan(priority: number): J | null {
    for (let p = this.#lanes.length - 1; p > priority; p--) {
      const lane = this.#lanes[p]!
      const job = lane.pop()
      if (job != null) {
        this.#dropQueued(job.peer)
        return job
      }
    }
    return null
  }

  #dropQueued(peer: string): void {
    const n = this.#queuedPerPeer.get(peer) ?? 0
    if (n <= 1) this.#queuedPerPeer.delete(peer)
    else this.#queuedPerPeer.set(peer, n - 1)
    this.#queued--
  }
}
