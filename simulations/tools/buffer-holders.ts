#!/usr/bin/env node
/**
 * Who holds a simulation's ArrayBuffers: `node simulations/tools/buffer-holders.ts SNAPSHOT [ROWS]` reads a V8
 * heap snapshot (`CONSORT_SIM_HEAP_SNAPSHOT=FILE npm run sim -- …`) and sums the bytes of every ArrayBuffer's backing
 * store (memory outside V8's heap: `process.memoryUsage().arrayBuffers`) by the path that keeps it alive — the
 * shortest chain of retainers from the roots, with runs of anonymous arrays, contexts and tree nodes folded — and
 * says how many of those buffers several typed arrays view (a pool slab shared by small slices).
 *
 * V8 refuses to parse a string past about 512 MB, so snapshots of runs of up to a hundred-odd nodes only.
 */
import { readFileSync } from 'node:fs'

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }
    node_count: number
  }
  nodes: number[]
  edges: number[]
  strings: string[]
}

/** Retainers not worth a line of their own: one such step is kept, a run of them is folded into it. */
const FOLDED = new Set([
  'array:',
  'object:Array',
  'array:(object elements)',
  'object:RBNode',
  'object:system / Context',
])
/** Steps followed up from a backing store. */
const DEPTH = 14

const [file, rowsArg] = process.argv.slice(2)
if (file == null) {
  process.stderr.write('usage: buffer-holders.ts SNAPSHOT [ROWS]\n')
  process.exit(2)
}
const rows = Number(rowsArg ?? 20)
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
const { meta } = snap.snapshot
const nodeFields = meta.node_fields.length
const edgeFields = meta.edge_fields.length
const nodeTypes = meta.node_types[0]
const edgeTypes = meta.edge_types[0]
const { nodes, edges, strings } = snap
const count = nodes.length / nodeFields
const weak = edgeTypes.indexOf('weak')
const named = new Set(['context', 'property', 'internal', 'shortcut'].map((t) => edgeTypes.indexOf(t)))

const firstEdge = new Uint32Array(count + 1)
for (let i = 0; i < count; i++) firstEdge[i + 1] = firstEdge[i]! + nodes[i * nodeFields + 4]! * edgeFields

const typeOf = (i: number) => nodeTypes[nodes[i * nodeFields]!]!
const nameOf = (i: number) => strings[nodes[i * nodeFields + 1]!]!
const sizeOf = (i: number) => nodes[i * nodeFields + 3]!
const label = (i: number) => `${typeOf(i)}:${nameOf(i).slice(0, 60)}`

// Distance from the roots (breadth first, weak edges ignored), and every node's retainers.
const distance = new Uint32Array(count).fill(0xffffffff)
const retainerCount = new Uint32Array(count + 1)
for (let e = 0; e < edges.length; e += edgeFields)
  if (edges[e] !== weak) retainerCount[edges[e + 2]! / nodeFields + 1]!++
for (let i = 0; i < count; i++) retainerCount[i + 1]! += retainerCount[i]!
const retainers = new Uint32Array(retainerCount[count]!)
const retainerEdge = new Uint32Array(retainerCount[count]!)
const filled = new Uint32Array(count)
for (let i = 0; i < count; i++)
  for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += edgeFields) {
    if (edges[e] === weak) continue
    const to = edges[e + 2]! / nodeFields
    const slot = retainerCount[to]! + filled[to]!++
    retainers[slot] = i
    retainerEdge[slot] = e
  }
distance[0] = 0
let queue = [0]
while (queue.length > 0) {
  const next: number[] = []
  for (const i of queue)
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += edgeFields) {
      if (edges[e] === weak) continue
      const to = edges[e + 2]! / nodeFields
      if (distance[to] === 0xffffffff) {
        distance[to] = distance[i]! + 1
        next.push(to)
      }
    }
  queue = next
}

const edgeName = (e: number) => (named.has(edges[e]!) ? strings[edges[e + 1]!]! : String(edges[e + 1]!)) // element and hidden edges are indices

const bytesByPath = new Map<string, { bytes: number; buffers: number; shared: number }>()
let total = 0
let stores = 0
for (let i = 0; i < count; i++) {
  if (typeOf(i) !== 'native' || nameOf(i) !== 'system / JSArrayBufferData') continue
  const size = sizeOf(i)
  total += size
  stores++
  const path: string[] = []
  const seen = new Set<number>([i])
  let current = i
  let views = 0
  let previous = ''
  for (let step = 0; step < DEPTH; step++) {
    let best = -1
    let bestEdge = -1
    for (let r = retainerCount[current]!; r < retainerCount[current + 1]!; r++) {
      const from = retainers[r]!
      if (seen.has(from)) continue
      if (best < 0 || distance[from]! < distance[best]!) {
        best = from
        bestEdge = retainerEdge[r]!
      }
    }
    if (best < 0) break
    if (step === 0) {
      for (let r = retainerCount[best]!; r < retainerCount[best + 1]!; r++)
        if (edgeName(retainerEdge[r]!) === 'buffer') views++
    }
    seen.add(best)
    current = best
    const here = label(best)
    if (FOLDED.has(here) && previous === here) continue
    previous = here
    const name = edgeName(bestEdge)
    path.push(/^\d+$/.test(name) || name === 'left' || name === 'right' ? here : `${name}<${here}`)
    if (typeOf(best) === 'synthetic') break
  }
  const key = path.join(' | ')
  const entry = bytesByPath.get(key) ?? { bytes: 0, buffers: 0, shared: 0 }
  entry.bytes += size
  entry.buffers++
  if (views > 1) entry.shared++
  bytesByPath.set(key, entry)
}

const mb = (n: number) => (n / 1e6).toFixed(2)
process.stdout.write(`array buffers: ${mb(total)} MB in ${stores} backing stores\n\n`)
const sorted = [...bytesByPath].sort((a, b) => b[1].bytes - a[1].bytes)
for (const [path, { bytes, buffers, shared }] of sorted.slice(0, rows))
  process.stdout.write(
    `${mb(bytes).padStart(8)} MB ${String(buffers).padStart(6)} buffers (${shared} with several views, ${((bytes / buffers) | 0).toString().padStart(7)} B each)\n  ${path}\n`,
  )
