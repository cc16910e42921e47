import { type InstalledClock, installClock } from './clock.ts'
import { type InstalledEntropy, installEntropy } from './entropy.ts'
import { type InstalledOffThreadGuard, installOffThreadGuard, realWorkInFlight } from './off-thread.ts'
import { Scheduler } from './scheduler.ts'

/**
 * A virtual world: the process's clocks, timers and randomness belong to the simulation while `run()` runs a
 * function in it. The driver is a discrete-event loop:
 *
 * 1. let the real event loop turn once (one real `setImmediate`): every microtask and `process.nextTick` queued by
 *    the previous callback runs to completion, as after any macrotask in Node;
 * 2. if real work is still in flight (a file-system request, a thread-pool job, an immediate captured before the
 *    world was installed), turn again without moving time (counted in `realWaits`);
 * 3. else take the next due callback, move the clock to its time and run it.
 *
 * Nothing else moves time, so what runs in the world does not depend on how fast the machine is or how busy.
 */
export interface WorldOptions {
  /** The seed of every random draw in the process (`Math.random`, `crypto.randomBytes`, …). */
  seed: string
  /** Wall-clock time (ms since 1970) at virtual time 0: what `Date.now()` answers at the start. */
  epochMs: number
}

/** Statistics of the driver (how the run went on this machine: not part of a run's results). */
export interface WorldStats {
  /** Callbacks run. */
  events: number
  /** Turns spent waiting for real work (file system, thread pool) without moving time. */
  realWaits: number
  /** Random values drawn. */
  draws: number
  /** Virtual milliseconds elapsed. */
  virtualMs: number
}

/** More callbacks than this at one instant is a livelock (code polling with zero delays), not a simulation. */
export const MAX_EVENTS_AT_ONE_INSTANT = 5_000_000
/** Real work that does not finish within this much wall time (ms) stops the run: something is stuck. */
export const MAX_REAL_WAIT_MS = 120_000

/** The world's callback threw: in Node that would be an uncaught exception. */
export class WorldCallbackError extends Error {
  static override name = 'WorldCallbackError'
  override name = WorldCallbackError.name

  constructor(message = "the world's callback threw", options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_WORLD_CALLBACK'
}

/** The function under simulation is waiting, but nothing is scheduled and no real work is in flight. */
export class WorldStalledError extends Error {
  static override name = 'WorldStalledError'
  override name = WorldStalledError.name

  constructor(
    message = 'the function under simulation is waiting, but nothing is scheduled and no real work is in flight',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_WORLD_STALLED'
}

const realSetImmediate = globalThis.setImmediate
const realSetTimeout = globalThis.setTimeout
const realDateNow = Date.now

function realTurn(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve))
}

let current: VirtualWorld | null = null

/** A scheduled callback that can be called off. */
export interface Scheduled {
  cancel(): void
}

/**
 * Run `fn` after exactly `delayMs` of simulated time (fractions and 0 allowed: unlike `setTimeout`, which rounds a
 * delay below 1 ms up to 1 ms as Node does). For models that compute exact times (the link fabric). Outside a
 * virtual world it falls back to a real timer.
 */
export function scheduleAfter(delayMs: number, fn: () => void): Scheduled {
  if (current != null) {
    const scheduler = current.scheduler
    const entry = scheduler.schedule(Math.max(0, delayMs), fn)
    return { cancel: () => scheduler.cancel(entry) }
  }
  const timer = setTimeout(fn, delayMs)
  return { cancel: () => clearTimeout(timer) }
}

export class VirtualWorld {
  readonly scheduler = new Scheduler()
  readonly #clock: InstalledClock
  readonly #entropy: InstalledEntropy
  readonly #guard: InstalledOffThreadGuard
  #realWaits = 0
  #closed = false

  private constructor(options: WorldOptions) {
    this.#clock = installClock(this.scheduler, options.epochMs)
    current = this
    try {
      this.#entropy = installEntropy(options.seed)
      this.#guard = installOffThreadGuard()
    } catch (err) {
      this.#clock.restore()
      throw err
    }
  }

  /** Install the world in this process (one at a time). */
  static install(options: WorldOptions): VirtualWorld {
    return new VirtualWorld(options)
  }

  /** Restart the random sequence from another seed (after modules have loaded, before the run). */
  reseed(seed: string): void {
    this.#entropy.reseed(seed)
  }

  /** Virtual milliseconds since the origin. */
  get now(): number {
    return this.scheduler.now
  }

  get stats(): WorldStats {
    return {
      events: this.scheduler.fired,
      realWaits: this.#realWaits,
      draws: this.#entropy.draws,
      virtualMs: this.scheduler.now,
    }
  }

  /** Run `main` in the world: drive the event loop until its promise settles, and answer what it answered. */
  async run<T>(main: () => Promise<T>): Promise<T> {
    let settled = false
    let value: T | undefined
    let failure: unknown
    let failed = false
    main().then(
      (v) => {
        settled = true
        value = v
      },
      (err) => {
        settled = true
        failed = true
        failure = err
      },
    )
    let lastAt = Number.NaN
    let atInstant = 0
    let waitingSince = 0
    for (;;) {
      await realTurn()
      if (settled) break
      if (this.#guard.pending() > 0 || realWorkInFlight()) {
        this.#realWaits++
        if (waitingSince === 0) waitingSince = realDateNow()
        else if (realDateNow() - waitingSince > MAX_REAL_WAIT_MS)
          throw new WorldStalledError(
            `real work did not finish within ${MAX_REAL_WAIT_MS} ms at virtual time ${this.scheduler.now} ms (${process
              .getActiveResourcesInfo()
              .join(', ')}; ${this.#guard.pending()} off-thread call(s))`,
          )
        // Give the real work a moment without spinning the CPU against it.
        if (this.#realWaits % 64 === 0) await new Promise((resolve) => realSetTimeout(resolve, 1))
        continue
      }
      waitingSince = 0
      const at = this.scheduler.nextAt()
      if (at == null)
        throw new WorldStalledError(
          `nothing is scheduled at virtual time ${this.scheduler.now} ms and nothing is in flight, but the simulation has not finished (a promise nothing will resolve)`,
        )
      if (at === lastAt) {
        if (++atInstant > MAX_EVENTS_AT_ONE_INSTANT)
          throw new WorldStalledError(`more than ${MAX_EVENTS_AT_ONE_INSTANT} callbacks at virtual time ${at} ms`)
      } else {
        lastAt = at
        atInstant = 0
      }
      try {
        this.scheduler.runNext()
      } catch (err) {
        throw new WorldCallbackError(
          `a timer callback threw at virtual time ${this.scheduler.now} ms: ${(err as Error)?.stack ?? String(err)}`,
          { cause: err },
        )
      }
    }
    if (failed) throw failure
    return value as T
  }

  /** Put the real clocks, timers and randomness back. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (current === this) current = null
    this.#guard.restore()
    this.#entropy.restore()
    this.#clock.restore()
  }
}

/** Run `main` in a fresh virtual world and put everything back after. */
export async function simulate<T>(
  options: WorldOptions,
  main: (world: VirtualWorld) => Promise<T>,
): Promise<{ value: T; stats: WorldStats }> {
  const world = VirtualWorld.install(options)
  try {
    const value = await world.run(() => main(world))
    return { value, stats: world.stats }
  } finally {
    world.close()
  }
}

/** The real wall clock (ms since 1970), whatever world is installed: for what the machine spent, never for results. */
export function wallClockNow(): number {
  return realDateNow()
}
