/**
 * Time as a component. Nothing in Consort reads `Date.now()` directly: the node injects a clock, tests and
 * simulations inject a fake one and move it by hand, so that expiry, rentals and freshness checks are
 * reproducible.
 */
export interface Clock {
  /** Integer milliseconds since the Unix epoch. */
  now(): number
}

export const systemClock: Clock = {
  now: () => Date.now(),
}

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  #now: number

  constructor(start = Date.UTC(2026, 10, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  /** Move forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`cannot advance a clock by ${ms} ms`)
    this.#now += ms
  }

  set(now: number): void {
    if (!Number.isSafeInteger(now)) throw new RangeError(`not a time in ms: ${now}`)
    this.#now = now
  }
}
