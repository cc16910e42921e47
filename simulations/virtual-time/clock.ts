import { createRequire, syncBuiltinESMExports } from 'node:module'
import type { Scheduler } from './scheduler.ts'
import { type TimerApi, timerApi } from './timers.ts'

const require = createRequire(import.meta.url)

/**
 * Puts the whole process on a virtual clock: the global timers and those of `node:timers` and
 * `node:timers/promises`, `AbortSignal.timeout`, `Date` (`Date.now()`, `new Date()`), `performance.now()` and
 * `process.hrtime`. Every library in the process (libp2p, gossipsub, kad-dht, yamux, Helia, the roles) then sees
 * only the simulation's time. ESM named imports of the timer modules follow through `syncBuiltinESMExports()`.
 *
 * `restore()` puts the real functions back; callbacks still queued on the virtual clock are dropped with it.
 */
export interface InstalledClock {
  readonly api: TimerApi
  restore(): void
}

/** What is patched, kept to restore it. */
interface Saved {
  globals: Record<string, unknown>
  timers: Record<string, unknown>
  promises: Record<string, unknown>
  date: DateConstructor
  dateNow: () => number
  performanceNow: PropertyDescriptor | undefined
  hrtime: NodeJS.HRTime
  abortSignalTimeout: (ms: number) => AbortSignal
}

const TIMER_NAMES = ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate']

let installed = false

/** `epochMs` is the wall-clock time (ms since 1970) at virtual time 0. */
export function installClock(scheduler: Scheduler, epochMs: number): InstalledClock {
  if (installed) throw new Error('virtual time is already installed in this process')
  installed = true
  const timers = require('node:timers') as Record<string, unknown>
  const promises = require('node:timers/promises') as Record<string, unknown> & { scheduler?: unknown }
  const g = globalThis as unknown as Record<string, unknown>
  const RealDate = Date
  const saved: Saved = {
    globals: Object.fromEntries(TIMER_NAMES.map((n) => [n, g[n]])),
    timers: Object.fromEntries(TIMER_NAMES.map((n) => [n, timers[n]])),
    promises: {
      setTimeout: promises.setTimeout,
      setImmediate: promises.setImmediate,
      setInterval: promises.setInterval,
      scheduler: promises.scheduler,
    },
    date: RealDate,
    dateNow: RealDate.now,
    performanceNow: Object.getOwnPropertyDescriptor(performance, 'now'),
    hrtime: process.hrtime,
    abortSignalTimeout: AbortSignal.timeout,
  }
  const realClearTimeout = saved.globals.clearTimeout as (t: unknown) => void
  const realClearImmediate = saved.globals.clearImmediate as (t: unknown) => void
  const api = timerApi(scheduler, {
    timeout: (t) => realClearTimeout(t),
    immediate: (t) => realClearImmediate(t),
  })
  for (const name of TIMER_NAMES) {
    const fn = api[name as keyof TimerApi]
    g[name] = fn
    timers[name] = fn
  }
  promises.setTimeout = api.promises.setTimeout
  promises.setImmediate = api.promises.setImmediate
  promises.setInterval = api.promises.setInterval
  promises.scheduler = api.promises.scheduler

  const nowMs = () => epochMs + Math.floor(scheduler.now)
  const VirtualDate = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [nowMs()] : args, newTarget)
    },
    apply() {
      return new RealDate(nowMs()).toString()
    },
  })
  RealDate.now = nowMs
  g.Date = VirtualDate
  Object.defineProperty(performance, 'now', { value: () => scheduler.now, configurable: true, writable: true })
  const hrtime = ((previous?: [number, number]) => {
    const ns = BigInt(Math.round(scheduler.now * 1e6))
    let s = Number(ns / 1_000_000_000n)
    let n = Number(ns % 1_000_000_000n)
    if (previous != null) {
      s -= previous[0]
      n -= previous[1]
      if (n < 0) {
        s--
        n += 1e9
      }
    }
    return [s, n]
  }) as NodeJS.HRTime
  hrtime.bigint = () => BigInt(Math.round(scheduler.now * 1e6))
  process.hrtime = hrtime
  AbortSignal.timeout = api.abortSignalTimeout
  syncBuiltinESMExports()

  return {
    api,
    restore() {
      for (const name of TIMER_NAMES) {
        g[name] = saved.globals[name]
        timers[name] = saved.timers[name]
      }
      Object.assign(promises, saved.promises)
      RealDate.now = saved.dateNow
      g.Date = saved.date
      if (saved.performanceNow != null) Object.defineProperty(performance, 'now', saved.performanceNow)
      else delete (performance as unknown as Record<string, unknown>).now
      process.hrtime = saved.hrtime
      AbortSignal.timeout = saved.abortSignalTimeout
      syncBuiltinESMExports()
      installed = false
    },
  }
}
