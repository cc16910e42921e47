#!/usr/bin/env node
/**
 * Where a simulation's memory goes: `node simulations/tools/heap-by-package.ts PROFILE NODES` reads a sampling heap
 * profile (written by `CONSORT_SIM_HEAP_PROFILE=FILE npm run sim -- …` at the end of the drain, every node still up)
 * and prints the live bytes by the package that allocated them (the top frame's file), in total and per node.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  callFrame: { functionName: string; url: string }
  selfSize: number
  children: ProfileNode[]
}

const [file, nodesArg] = process.argv.slice(2)
if (file == null) {
  process.stderr.write('usage: heap-by-package.ts PROFILE [NODES]\n')
  process.exit(2)
}
const nodes = Number(nodesArg ?? 1)
const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode }

/** The package of a script URL (`@libp2p/kad-dht`, `consort:roles/player`, `node:internal/…`). */
function packageOf(url: string, fn: string): string {
  if (url === '') return fn === '' ? '(VM)' : `(${fn})`
  const i = url.lastIndexOf('node_modules/')
  if (i >= 0) {
    const parts = url.slice(i + 'node_modules/'.length).split('/')
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const project = /\/(node|protocols|roles|keys|simulations)\/([^/]+)/.exec(url)
  if (project != null) return `consort:${project[1]}/${project[2]!.replace(/\.ts$/, '')}`
  return url.startsWith('node:') ? url.split('/').slice(0, 2).join('/') : url
}

const bytes = new Map<string, number>()
let total = 0
const stack: ProfileNode[] = [profile.head]
while (stack.length > 0) {
  const n = stack.pop()!
  if (n.selfSize > 0) {
    const key = packageOf(n.callFrame.url, n.callFrame.functionName)
    bytes.set(key, (bytes.get(key) ?? 0) + n.selfSize)
    total += n.selfSize
  }
  stack.push(...n.children)
}
const rows = [...bytes].sort((a, b) => b[1] - a[1])
process.stdout.write(
  `live heap sampled: ${(total / 1e6).toFixed(1)} MB, ${(total / nodes / 1e6).toFixed(2)} MB per node (${nodes} nodes)\n`,
)
for (const [name, b] of rows.slice(0, 30))
  process.stdout.write(
    `${((b / total) * 100).toFixed(1).padStart(5)}%  ${(b / nodes / 1e3).toFixed(0).padStart(7)} kB/node  ${name}\n`,
  )
