/**
 * The virtual clock and its queue of due callbacks: a discrete-event scheduler. Time is a number of milliseconds
 * since the run's origin (fractions allowed: link delays are bytes / rate); it moves only when the next callback
 * is taken from the queue, straight to that callback's time, so a quiet hour costs nothing.
 *
 * Order is total and independent of the machine: by due time, then by the order the callbacks were scheduled in.
 */

/** Node clamps a delay below 1 ms or above this to 1 ms; virtual timers do the same, so code behaves as on Node. */
export const TIMEOUT_MAX_MS = 2 ** 31 - 1

/** One scheduled callback: a timeout, an interval or an immediate. */
export interface Entry {
  at: number
  seq: number
  /** Index in the heap, -1 when not queued (fired, cleared). */
  slot: number
  run: () => void
  /** Repeat period for intervals, else null. */
  repeat: number | null
  /** A cleared entry is never run again. */
  cleared: boolean
}

export class Scheduler {
  #now = 0
  #seq = 0
  readonly #heap: Entry[] = []
  /** Callbacks run so far (a run's cost in events, and a livelock guard). */
  fired = 0

  /** Milliseconds since the origin. */
  get now(): number {
    return this.#now
  }

  get size(): number {
    return this.#heap.length
  }

  /** Schedule `run` `delayMs` from now (no clamping here; the timer facade applies Node's rules). */
  schedule(delayMs: number, run: () => void, repeat: number | null = null): Entry {
    const entry: Entry = { at: this.#now + delayMs, seq: ++this.#seq, slot: -1, run, repeat, cleared: false }
    this.#push(entry)
    return entry
  }

  /** Put a fired or unqueued entry back, `delayMs` from now (refresh(), intervals). */
  reschedule(entry: Entry, delayMs: number): void {
    if (entry.slot >= 0) this.#remove(entry)
    entry.at = this.#now + delayMs
    entry.seq = ++this.#seq
    entry.cleared = false
    this.#push(entry)
  }

  cancel(entry: Entry): void {
    entry.cleared = true
    if (entry.slot >= 0) this.#remove(entry)
  }

  /** When the next callback is due, or null when nothing is queued. */
  nextAt(): number | null {
    return this.#heap[0]?.at ?? null
  }

  /**
   * Take the next callback, move the clock to its time (never backwards) and run it. An interval is queued again
   * before it runs, as Node does. Answers false when nothing is queued.
   */
  runNext(): boolean {
    const entry = this.#heap[0]
    if (entry == null) return false
    this.#remove(entry)
    if (entry.at > this.#now) this.#now = entry.at
    if (entry.repeat != null) {
      entry.at = this.#now + entry.repeat
      entry.seq = ++this.#seq
      this.#push(entry)
    }
    this.fired++
    entry.run()
    return true
  }

  /** Move the clock forward without running anything (the driver never does; tests may). */
  advanceTo(t: number): void {
    if (t > this.#now) this.#now = t
  }

  #push(entry: Entry): void {
    const heap = this.#heap
    entry.slot = heap.length
    heap.push(entry)
    this.#up(entry.slot)
  }

  #remove(entry: Entry): void {
    const heap = this.#heap
    const i = entry.slot
    const last = heap.pop()!
    entry.slot = -1
    if (i < heap.length) {
      heap[i] = last
      last.slot = i
      this.#down(i)
      this.#up(last.slot)
    }
  }

  #up(i: number): void {
    const heap = this.#heap
    const item = heap[i]!
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = heap[p]!
      if (!before(item, parent)) break
      heap[i] = parent
      parent.slot = i
      i = p
    }
    heap[i] = item
    item.slot = i
  }

  #down(i: number): void {
    const heap = this.#heap
    const n = heap.length
    const item = heap[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && before(heap[r]!, heap[l]!) ? r : l
      const child = heap[c]!
      if (!before(child, item)) break
      heap[i] = child
      child.slot = i
      i = c
    }
    heap[i] = item
    item.slot = i
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
