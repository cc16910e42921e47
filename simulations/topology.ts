import type { SeededRandom } from '../keys/random.ts'
import type { Scenario } from './scenario.ts'

/** An undirected edge between node indices, `a < b`; the node `a` dials `b`. */
export type Edge = readonly [number, number]

/**
 * The dials that build the overlay at start (and that the runner repeats after a heal or a restart, as a node's
 * bootstrap list would). gossipsub then picks its mesh among these connections; the DHT may add more.
 */
export function buildTopology(spec: Scenario['topology'], n: number, random: SeededRandom): Edge[] {
  const edges = new Set<string>()
  const add = (a: number, b: number) => {
    if (a === b) return
    edges.add(a < b ? `${a},${b}` : `${b},${a}`)
  }
  if (n < 2) return []
  switch (spec.kind) {
    case 'random':
      for (let i = 0; i < n; i++) {
        const want = Math.min(spec.degree, n - 1)
        const chosen = new Set<number>()
        while (chosen.size < want) {
          const j = random.int(n)
          if (j !== i) chosen.add(j)
        }
        for (const j of chosen) add(i, j)
      }
      break
    case 'ring':
      for (let i = 0; i < n; i++) {
        add(i, (i + 1) % n)
        for (let c = 0; c < spec.chords; c++) add(i, random.int(n))
      }
      break
    case 'small-world': {
      const half = Math.min(spec.neighbours / 2, Math.floor((n - 1) / 2))
      for (let i = 0; i < n; i++) {
        for (let k = 1; k <= half; k++) {
          if (random.float() < spec.rewire) {
            let j = random.int(n)
            for (let tries = 0; (j === i || edges.has(i < j ? `${i},${j}` : `${j},${i}`)) && tries < 16; tries++)
              j = random.int(n)
            add(i, j)
          } else {
            add(i, (i + k) % n)
          }
        }
      }
      break
    }
  }
  return [...edges].map((e) => e.split(',').map(Number) as unknown as Edge).sort((x, y) => x[0] - y[0] || x[1] - y[1])
}

/** The connected components of a graph over `n` nodes (to warn of a topology that cannot reach everyone). */
export function components(n: number, edges: readonly Edge[]): number {
  const parent = Array.from({ length: n }, (_, i) => i)
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!
      x = parent[x]!
    }
    return x
  }
  for (const [a, b] of edges) parent[find(a)] = find(b)
  return new Set(parent.map((_, i) => find(i))).size
}
