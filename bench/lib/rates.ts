import { median } from './stats.ts'

/** Operations whose rates are compared with each other. */
export type Cases = Record<string, () => unknown>

export interface RateOptions {
  /** Rounds; each case's figure is the median of its per-round rates. */
  rounds: number
  /** Time each case runs per slice. */
  sliceMs?: number
  /** Slices per case per round. */
  slicesPerRound?: number
  /** Untimed run of every case first, long enough for V8 to optimise it on a busy machine (default 1 s). */
  warmupMs?: number
}

export interface RateResult {
  /** Median operations per second of each case. */
  median: Record<string, number>
  /** Every round's rate of each case, in order. */
  rounds: Record<string, number[]>
}

/** Run `fn` for about `ms`, in batches so that reading the clock costs little; returns [operations, elapsed ms]. */
function runFor(fn: () => unknown, ms: number): [number, number] {
  let ops = 0
  let batch = 1
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) fn()
    ops += batch
    elapsed = performance.now() - start
    // Aim for about 1 ms per batch.
    if (elapsed < ms / 2 && batch < 1 << 16) batch *= 2
  }
  return [ops, elapsed]
}

/**
 * Measure the rates of several cases side by side. Within a round the cases take turns in short slices (the
 * order rotates each round), so that a noisy neighbour on a shared machine slows all of them alike and their
 * ratio stays meaningful.
 */
export function compareRates(cases: Cases, options: RateOptions): RateResult {
  const names = Object.keys(cases)
  const sliceMs = options.sliceMs ?? 50
  const slices = options.slicesPerRound ?? 4
  for (const name of names) runFor(cases[name]!, options.warmupMs ?? 1000)
  const rounds: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let round = 0; round < options.rounds; round++) {
    const ops: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]))
    const time: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]))
    for (let slice = 0; slice < slices; slice++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round + slice) % names.length]!
        const [n, ms] = runFor(cases[name]!, sliceMs)
        ops[name]! += n
        time[name]! += ms
      }
    }
    for (const name of names) rounds[name]!.push((ops[name]! / time[name]!) * 1000)
  }
  return { median: Object.fromEntries(names.map((n) => [n, median(rounds[n]!)])), rounds }
}
