import { SeededRandom } from '../keys/random.ts'

/**
 * Every decision of a run draws from its own stream, derived from the run's seed and the purpose's name: adding a
 * fault does not change the topology, and the same seed always gives the same keys, links, workload and faults.
 */
export function stream(seed: number, purpose: string): SeededRandom {
  return new SeededRandom(`${seed}/${purpose}`)
}

/** A uniform integer in [min, max]. */
export function between(random: SeededRandom, min: number, max: number): number {
  return min + random.int(max - min + 1)
}

export function pick<T>(random: SeededRandom, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('pick from an empty list')
  return items[random.int(items.length)]!
}

/** A Fisher–Yates shuffled copy. */
export function shuffled<T>(random: SeededRandom, items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/**
 * The times of a Poisson process of `ratePerSec` over [0, durationMs), rounded to milliseconds: the gaps are
 * exponential, as for independent users.
 */
export function poissonTimes(random: SeededRandom, ratePerSec: number, durationMs: number, limit: number): number[] {
  const times: number[] = []
  if (ratePerSec <= 0) return times
  let t = 0
  for (;;) {
    t += (-Math.log(1 - random.float()) / ratePerSec) * 1000
    if (t >= durationMs || times.length >= limit) return times
    times.push(Math.floor(t))
  }
}
