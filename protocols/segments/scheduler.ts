/**
 * Which segment to ask which peer for: the pure part of the multi-source fetcher, kept apart so that it can be
 * tested (and simulated) without a network.
 *
 * - Each peer pulls work when it has room in its window, so a faster peer, which frees its slots sooner, gets
 *   more segments.
 * - Assignment is rate-aware: a slower peer does not take the most urgent missing segment but the one it is
 *   expected to deliver in order, skipping the segments that faster peers will finish first. Arrival then
 *   follows playback order, and no slow peer holds up the segment a player waits for.
 * - End-game: when nothing unassigned is left for a peer, it takes a duplicate of the in-flight segment that is
 *   expected to finish last, if it would finish it sooner; the first copy to arrive wins and the others are
 *   cancelled (most are still queued at their server then, so they cost no bytes).
 */

export interface SchedulerPeer {
  readonly id: string
  /** Whether the peer holds segment `i` (as its `have` answer said). */
  has(i: number): boolean
  /** Segments requested from this peer and not yet answered, oldest first. */
  readonly queue: readonly number[]
  /** Measured delivery rate in bytes per second, or null before the first block. */
  readonly rateBps: number | null
}

export interface Assignment {
  index: number
  /** True for an end-game duplicate of a segment already requested elsewhere. */
  duplicate: boolean
}

export interface SchedulerOptions {
  /** Most copies of one segment in flight at once (the original plus end-game duplicates). */
  maxCopies?: number
  /** A duplicate is made only if it is expected to arrive at least this much sooner (fraction of the wait). */
  endGameGain?: number
  /** A slower peer skips at most this many segments ahead. */
  maxSkip?: number
  /** Rate assumed for a peer that has not delivered a block yet, in bytes per second. */
  defaultRateBps?: number
}

/** Two copies: enough to route around one slow or lost peer; more only adds duplicate bytes. */
export const DEFAULT_MAX_COPIES = 2
/**
 * Duplicate only when the new copy is expected in at most half the time the current one needs. A copy asked
 * for is usually already in its server's socket buffers, so cancelling it saves nothing: a duplicate costs a
 * block and must buy a real gain.
 */
export const DEFAULT_END_GAME_GAIN = 0.5
/** Bounds the look-ahead of a slow peer (and the scan per assignment). */
export const DEFAULT_MAX_SKIP = 64
/** 1 MB/s: a cautious guess for a peer not yet measured (slower than any LAN, faster than a bad uplink). */
export const DEFAULT_RATE_BPS = 1_000_000
/** A peer counts as faster than another only beyond this ratio (measurements are noisy). */
const FASTER_RATIO = 1.5

const MISSING = 0
const IN_FLIGHT = 1
const DONE = 2

export class SegmentScheduler {
  readonly total: number
  readonly #state: Uint8Array
  readonly #holders = new Map<number, Set<string>>()
  readonly #maxCopies: number
  readonly #gain: number
  readonly #maxSkip: number
  readonly #defaultRate: number
  #done = 0
  /** Every segment below this index is in flight or done. */
  #cursor = 0

  constructor(total: number, options: SchedulerOptions = {}) {
    if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`total must be a count, got ${total}`)
    this.total = total
    this.#state = new Uint8Array(total)
    this.#maxCopies = options.maxCopies ?? DEFAULT_MAX_COPIES
    this.#gain = options.endGameGain ?? DEFAULT_END_GAME_GAIN
    this.#maxSkip = options.maxSkip ?? DEFAULT_MAX_SKIP
    this.#defaultRate = options.defaultRateBps ?? DEFAULT_RATE_BPS
  }

  get done(): number {
    return this.#done
  }

  get complete(): boolean {
    return this.#done === this.total
  }

  isDone(i: number): boolean {
    return this.#state[i] === DONE
  }

  /** Peers a segment is currently requested from. */
  holders(i: number): ReadonlySet<string> {
    return this.#holders.get(i) ?? new Set()
  }

  /** The lowest segment not yet done (what an in-order reader waits for), or `total`. */
  firstMissing(): number {
    for (let i = 0; i < this.total; i++) if (this.#state[i] !== DONE) return i
    return this.total
  }

  /** Mark a segment present without fetching it (found in the local blockstore). */
  markDone(i: number): void {
    this.#check(i)
    if (this.#state[i] === DONE) return
    this.#state[i] = DONE
    this.#holders.delete(i)
    this.#done++
  }

  /** Whether some segment the peer holds is unassigned (it could do useful work). */
  hasWorkFor(peer: SchedulerPeer): boolean {
    for (let i = this.#cursor; i < this.total; i++) if (this.#state[i] === MISSING && peer.has(i)) return true
    return false
  }

  /** Whether any segment that is not done is held by none of `peers`. */
  hasOrphans(peers: readonly SchedulerPeer[]): boolean {
    for (let i = 0; i < this.total; i++) {
      if (this.#state[i] !== DONE && !peers.some((p) => p.has(i))) return true
    }
    return false
  }

  /**
   * The next segment for `peer`, recorded as requested from it, or null if it has nothing useful to do.
   * `peers` are all peers of the fetch (for the rate-aware skip and the end-game); `blockBytes` the typical
   * segment size.
   */
  assign(peer: SchedulerPeer, peers: readonly SchedulerPeer[], blockBytes: number): Assignment | null {
    const fresh = this.#pickFresh(peer, peers, blockBytes)
    if (fresh != null) {
      this.#hold(fresh, peer.id)
      return { index: fresh, duplicate: false }
    }
    const dup = this.#pickDuplicate(peer, peers, blockBytes)
    if (dup != null) {
      this.#hold(dup, peer.id)
      return { index: dup, duplicate: true }
    }
    return null
  }

  /**
   * Record segment `i` as requested from `peerId`, chosen by the caller rather than by `assign` (the segment a
   * player needs before any other). Returns false, recording nothing, unless the segment is missing.
   */
  take(i: number, peerId: string): boolean {
    this.#check(i)
    if (this.#state[i] !== MISSING) return false
    this.#hold(i, peerId)
    return true
  }

  /**
   * Record one more copy of in-flight segment `i` as requested from `peerId` (a caller's hedge against a stalled
   * peer). Returns false, recording nothing, unless the segment is in flight elsewhere below `maxCopies`.
   */
  hedge(i: number, peerId: string): boolean {
    this.#check(i)
    const holders = this.#holders.get(i)
    if (this.#state[i] !== IN_FLIGHT || holders == null || holders.has(peerId) || holders.size >= this.#maxCopies) {
      return false
    }
    holders.add(peerId)
    return true
  }

  /** Whether segment `i` is requested from some peer and not yet done. */
  isInFlight(i: number): boolean {
    return this.#state[i] === IN_FLIGHT
  }

  /**
   * Segment `i` arrived (verified) from `peerId`. Returns `first` and the other peers whose copies to cancel,
   * or `duplicate` if it was already done.
   */
  completed(i: number, peerId: string): { first: boolean; cancel: string[] } {
    this.#check(i)
    const holders = this.#holders.get(i)
    holders?.delete(peerId)
    if (this.#state[i] === DONE) return { first: false, cancel: [] }
    this.#state[i] = DONE
    this.#done++
    this.#holders.delete(i)
    return { first: true, cancel: holders == null ? [] : [...holders] }
  }

  /** The request for `i` at `peerId` ended without the block (failed, cancelled, absent, bad). */
  released(i: number, peerId: string): void {
    this.#check(i)
    const holders = this.#holders.get(i)
    if (holders == null) return
    holders.delete(peerId)
    if (holders.size > 0) return
    this.#holders.delete(i)
    if (this.#state[i] === IN_FLIGHT) {
      this.#state[i] = MISSING
      if (i < this.#cursor) this.#cursor = i
    }
  }

  #hold(i: number, peerId: string): void {
    let holders = this.#holders.get(i)
    if (holders == null) {
      holders = new Set()
      this.#holders.set(i, holders)
    }
    holders.add(peerId)
    this.#state[i] = IN_FLIGHT
    while (this.#cursor < this.total && this.#state[this.#cursor] !== MISSING) this.#cursor++
  }

  #rate(peer: SchedulerPeer): number {
    return peer.rateBps != null && peer.rateBps > 0 ? peer.rateBps : this.#defaultRate
  }

  /** Seconds until `peer` would deliver one more block queued behind its current requests. */
  #eta(peer: SchedulerPeer, position: number, blockBytes: number): number {
    return ((position + 1) * blockBytes) / this.#rate(peer)
  }

  #pickFresh(peer: SchedulerPeer, peers: readonly SchedulerPeer[], blockBytes: number): number | null {
    const faster =
      peer.rateBps == null ? [] : peers.filter((q) => q !== peer && this.#rate(q) > this.#rate(peer) * FASTER_RATIO)
    let skip = 0
    if (faster.length > 0) {
      // segments the faster peers will finish before this one could deliver its next block
      const eta = this.#eta(peer, peer.queue.length, blockBytes)
      for (const q of faster) skip += Math.max(0, Math.floor((eta * this.#rate(q)) / blockBytes) - q.queue.length)
      skip = Math.min(skip, this.#maxSkip)
    }
    let lastSkipped: number | null = null
    for (let i = this.#cursor; i < this.total; i++) {
      if (this.#state[i] !== MISSING || !peer.has(i)) continue
      if (skip > 0 && faster.some((q) => q.has(i))) {
        skip--
        lastSkipped = i
        continue
      }
      return i
    }
    return lastSkipped
  }

  #pickDuplicate(peer: SchedulerPeer, peers: readonly SchedulerPeer[], blockBytes: number): number | null {
    const mine = this.#eta(peer, peer.queue.length, blockBytes)
    let best: number | null = null
    let bestWait = 0
    for (const other of peers) {
      if (other === peer) continue
      other.queue.forEach((i, position) => {
        const holders = this.#holders.get(i)
        if (holders == null || holders.has(peer.id) || holders.size >= this.#maxCopies || !peer.has(i)) return
        // the copy in flight is expected when its soonest holder reaches it
        let wait = this.#eta(other, position, blockBytes)
        for (const h of peers) {
          if (h !== other && holders.has(h.id)) wait = Math.min(wait, this.#eta(h, h.queue.indexOf(i), blockBytes))
        }
        // worth a duplicate only if it arrives much sooner: by a share of the wait and by two of our block times
        if (mine > wait * (1 - this.#gain) || wait - mine < 2 * this.#eta(peer, 0, blockBytes)) return
        if (best == null || wait > bestWait || (wait === bestWait && i < best)) {
          best = i
          bestWait = wait
        }
      })
    }
    return best
  }

  #check(i: number): void {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.total)
      throw new RangeError(`segment ${i} out of 0…${this.total - 1}`)
  }
}
