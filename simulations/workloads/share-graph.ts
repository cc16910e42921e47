import type { SeededRandom } from '../../keys/random.ts'
import { shuffled } from '../rng.ts'

/**
 * The share graph (decision 0811): who each player shares with, drawn once from the seed — a random directed graph in
 * which every one of `n` players has exactly `k` out-neighbours, distinct and never itself (each chosen uniformly
 * among the others). In-degrees vary (binomial-like around `k`): some listeners hear of more music than others.
 */
export function shareGraph(n: number, k: number, random: SeededRandom): number[][] {
  if (k > n - 1) throw new RangeError(`${k} recipients per player need at least ${k + 1} players, not ${n}`)
  return Array.from({ length: n }, (_, i) =>
    shuffled(
      random,
      Array.from({ length: n }, (_, j) => j).filter((j) => j !== i),
    )
      .slice(0, k)
      .sort((a, b) => a - b),
  )
}

/** In-degrees of a graph given by out-neighbours: how many players share with each. */
export function inDegrees(graph: readonly (readonly number[])[]): number[] {
  const out = new Array<number>(graph.length).fill(0)
  for (const targets of graph) for (const t of targets) out[t]!++
  return out
}
