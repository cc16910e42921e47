import { type Entry, type Scheduler, TIMEOUT_MAX_MS } from './scheduler.ts'

/**
 * Node's timer API over the virtual scheduler: `setTimeout`, `setInterval`, `setImmediate`, their `clear*`, the
 * promise forms of `node:timers/promises` and `AbortSignal.timeout`. The objects behave as Node's do (`ref`,
 * `unref`, `hasRef`, `refresh`, `close`, a numeric id through `Symbol.toPrimitive`, `Symbol.dispose`), so that code
 * written against Node's timers runs unchanged; only time is the simulation's.
 */

type Callback = (...args: unknown[]) => void

/** Node's delay rule: anything not in [1, TIMEOUT_MAX] (0, negative, NaN, huge) becomes 1 ms. */
export function clampDelay(delay: unknown): number {
  const after = Number(delay)
  return after >= 1 && after <= TIMEOUT_MAX_MS ? after : 1
}

export class VirtualTimer {
  readonly #scheduler: Scheduler
  readonly #entry: Entry
  readonly #delay: number
  readonly #ids: Map<number, VirtualTimer>
  #ref = true
  #id = 0

  constructor(scheduler: Scheduler, entry: Entry, delay: number, ids: Map<number, VirtualTimer>) {
    this.#scheduler = scheduler
    this.#entry = entry
    this.#delay = delay
    this.#ids = ids
  }

  /** The scheduler entry (for the facade's clear functions). */
  get entry(): Entry {
    return this.#entry
  }

  ref(): this {
    this.#ref = true
    return this
  }

  unref(): this {
    this.#ref = false
    return this
  }

  hasRef(): boolean {
    return this.#ref
  }

  refresh(): this {
    if (!this.#entry.cleared) this.#scheduler.reschedule(this.#entry, this.#delay)
    return this
  }

  close(): this {
    this.clear()
    return this
  }

  clear(): void {
    this.#scheduler.cancel(this.#entry)
    if (this.#id !== 0) this.#ids.delete(this.#id)
  }

  [Symbol.toPrimitive](): number {
    if (this.#id === 0) {
      this.#id = this.#entry.seq
      this.#ids.set(this.#id, this)
    }
    return this.#id
  }

  [Symbol.dispose](): void {
    this.clear()
  }
}

/** The timer functions a scheduler offers, shaped as Node's globals and modules. */
export interface TimerApi {
  setTimeout: (callback: Callback, delay?: unknown, ...args: unknown[]) => VirtualTimer
  setInterval: (callback: Callback, delay?: unknown, ...args: unknown[]) => VirtualTimer
  setImmediate: (callback: Callback, ...args: unknown[]) => VirtualTimer
  clearTimeout: (timer: unknown) => void
  clearInterval: (timer: unknown) => void
  clearImmediate: (timer: unknown) => void
  promises: {
    setTimeout: <T>(delay?: number, value?: T, options?: { signal?: AbortSignal; ref?: boolean }) => Promise<T>
    setImmediate: <T>(value?: T, options?: { signal?: AbortSignal; ref?: boolean }) => Promise<T>
    setInterval: <T>(
      delay?: number,
      value?: T,
      options?: { signal?: AbortSignal; ref?: boolean },
    ) => AsyncGenerator<T, void, unknown>
    scheduler: {
      wait: (delay: number, options?: { signal?: AbortSignal }) => Promise<void>
      yield: () => Promise<void>
    }
  }
  abortSignalTimeout: (delay: number) => AbortSignal
}

/** An AbortError as `node:timers/promises` rejects with. */
function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: string }
  err.name = 'AbortError'
  err.code = 'ABORT_ERR'
  return err
}

function checkCallback(callback: unknown): asserts callback is Callback {
  if (typeof callback !== 'function') {
    const err = new TypeError(
      `The "callback" argument must be of type function. Received ${typeof callback}`,
    ) as TypeError & { code: string }
    err.code = 'ERR_INVALID_ARG_TYPE'
    throw err
  }
}

/**
 * Build the timer API of a scheduler. `realClear` clears a timer the virtual API did not create (one made before
 * virtual time was installed, e.g. by the test framework), so that clearing it still works.
 */
export function timerApi(
  scheduler: Scheduler,
  realClear: { timeout(t: unknown): void; immediate(t: unknown): void },
): TimerApi {
  const ids = new Map<number, VirtualTimer>()
  const make = (delay: number, repeat: boolean, callback: Callback, args: unknown[]): VirtualTimer => {
    let timer: VirtualTimer | undefined
    const run = args.length === 0 ? () => callback() : () => callback(...args)
    const entry = scheduler.schedule(
      delay,
      () => {
        if (!repeat) timer?.clear()
        run()
      },
      repeat ? delay : null,
    )
    timer = new VirtualTimer(scheduler, entry, delay, ids)
    return timer
  }
  const clear = (timer: unknown, real: (t: unknown) => void): void => {
    if (timer == null) return
    if (timer instanceof VirtualTimer) {
      timer.clear()
      return
    }
    const known = typeof timer === 'number' || typeof timer === 'string' ? ids.get(Number(timer)) : undefined
    if (known != null) known.clear()
    else real(timer)
  }
  const api: TimerApi = {
    setTimeout: (callback, delay, ...args) => {
      checkCallback(callback)
      return make(clampDelay(delay), false, callback, args)
    },
    setInterval: (callback, delay, ...args) => {
      checkCallback(callback)
      return make(clampDelay(delay), true, callback, args)
    },
    setImmediate: (callback, ...args) => {
      checkCallback(callback)
      return make(0, false, callback, args)
    },
    clearTimeout: (timer) => clear(timer, realClear.timeout),
    clearInterval: (timer) => clear(timer, realClear.timeout),
    clearImmediate: (timer) => clear(timer, realClear.immediate),
    promises: {
      setTimeout: <T>(delay?: number, value?: T, options: { signal?: AbortSignal } = {}) =>
        waitFor(clampDelay(delay), value as T, options.signal),
      setImmediate: <T>(value?: T, options: { signal?: AbortSignal } = {}) => waitFor(0, value as T, options.signal),
      setInterval: <T>(delay?: number, value?: T, options: { signal?: AbortSignal } = {}) =>
        interval(clampDelay(delay), value as T, options.signal),
      scheduler: {
        wait: (delay, options = {}) => waitFor(clampDelay(delay), undefined, options.signal),
        yield: () => waitFor(0, undefined, undefined),
      },
    },
    abortSignalTimeout: (delay) => {
      const controller = new AbortController()
      make(
        clampDelay(delay),
        false,
        () => {
          controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
        },
        [],
      ).unref()
      return controller.signal
    },
  }

  function waitFor<T>(delay: number, value: T, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(abortError(signal))
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        timer.clear()
        reject(abortError(signal!))
      }
      const timer = make(
        delay,
        false,
        () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(value)
        },
        [],
      )
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async function* interval<T>(delay: number, value: T, signal: AbortSignal | undefined): AsyncGenerator<T> {
    for (;;) {
      yield await waitFor(delay, value, signal)
    }
  }

  return api
}
