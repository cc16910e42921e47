/**
 * `npm run bench -- idle`: what an idle node costs, by the interval of libp2p's connection monitor (decision 0019).
 *
 * Each round starts one child process per configuration at once (`bench/lib/idle-nodes-process.ts`): `NODES` real
 * nodes without roles on TCP over loopback, each connected to about eight others, settled, then measured over an
 * idle window of one minute — a whole number of every interval measured, so that each connection pings exactly
 * `60 s / interval` times from each end. The configurations run side by side under the same load; each process's
 * own CPU is counted. Figures: CPU per connection end per minute (pings are per connection end; a process whose
 * dials partly failed under load holds fewer) for the node's default interval, for libp2p's (10 s, the baseline) and
 * with no pings at all, each the median over the rounds; and the same per node.
 *
 * `IDLE_BENCH_INTERVALS=10000,30000,60000,300000,none` measures other intervals beside them (exploration).
 */
import { fork } from 'node:child_process'
import { DEFAULT_PING_INTERVAL_MS } from '../../node/libp2p-options.ts'
import type { IdleAnswer, IdleRequest } from '../lib/idle-nodes-process.ts'
import { result } from '../lib/result.ts'
import { median } from '../lib/stats.ts'
import type { BenchOptions, BenchResult } from '../lib/types.ts'

export const description = "an idle node's CPU by the connection monitor's ping interval (10 s, the default, none)"

const CHILD = new URL('../lib/idle-nodes-process.ts', import.meta.url)
/** libp2p's own interval: the baseline. */
const LIBP2P_PING_INTERVAL_MS = 10_000
/** Longer than any window: no ping is ever due (setInterval's longest delay is 2^31 − 1 ms). */
const NO_PINGS = 2 ** 31 - 1
const WINDOW_MS = 60_000
/** The longest a configuration may take: start-up, settling, the window, stopping. */
const CHILD_DEADLINE_MS = 5 * 60_000

async function idleRun(request: IdleRequest): Promise<IdleAnswer> {
  const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  try {
    return await new Promise<IdleAnswer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('idle nodes did not answer in time')), CHILD_DEADLINE_MS)
      child.once('message', (answer) => {
        clearTimeout(timer)
        resolve(answer as IdleAnswer)
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`idle nodes exited with ${code}`))
      })
      child.send(request)
    })
  } finally {
    if (child.exitCode === null) child.kill()
  }
}

/** CPU ms per node per minute of idle time. */
const perNodeMinute = (a: IdleAnswer) => (a.cpuMs / a.nodes) * (60_000 / a.windowMs)
/** CPU ms per connection end per minute of idle time. */
const perEndMinute = (a: IdleAnswer) => (a.cpuMs / Math.max(1, a.connections)) * (60_000 / a.windowMs)

function configurations(): Array<{ name: string; interval: number }> {
  const base = [
    { name: 'default', interval: DEFAULT_PING_INTERVAL_MS },
    { name: 'libp2p-10s', interval: LIBP2P_PING_INTERVAL_MS },
    { name: 'none', interval: NO_PINGS },
  ]
  const extra = (process.env.IDLE_BENCH_INTERVALS ?? '')
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => (s.trim() === 'none' ? NO_PINGS : Number(s)))
    .filter((n) => Number.isInteger(n) && n > 0 && !base.some((b) => b.interval === n))
    .map((interval) => ({ name: `${interval / 1000}s`, interval }))
  return [...base, ...extra]
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const nodes = options.quick ? 12 : 30
  // Each round is a minute of idle time plus start-up: three at most keep the benchmark near five minutes.
  const rounds = options.quick ? 1 : Math.min(options.rounds, 3)
  const configs = configurations()
  const perEnd = new Map<string, number[]>(configs.map((c) => [c.name, []]))
  const perNode = new Map<string, number[]>(configs.map((c) => [c.name, []]))
  const connections = new Map<string, number[]>(configs.map((c) => [c.name, []]))
  for (let round = 0; round < rounds; round++) {
    options.log(`round ${round + 1}/${rounds}: ${configs.length} processes of ${nodes} idle nodes, side by side`)
    const answers = await Promise.all(
      configs.map((c) => idleRun({ nodes, pingIntervalMs: c.interval, settleMs: 10_000, windowMs: WINDOW_MS })),
    )
    answers.forEach((answer, i) => {
      const name = configs[i]!.name
      perEnd.get(name)!.push(perEndMinute(answer))
      perNode.get(name)!.push(perNodeMinute(answer))
      connections.get(name)!.push(answer.connections / answer.nodes)
      options.log(
        `  ${name}: ${perEndMinute(answer).toFixed(2)} ms CPU per connection end-minute, ` +
          `${perNodeMinute(answer).toFixed(1)} per node-minute, ${answer.connections} ends, ${answer.cpuMs.toFixed(0)} ms`,
      )
    })
  }
  const figure = (map: Map<string, number[]>, name: string) => median(map.get(name)!)
  const baseline = { name: 'pings every 10 s (libp2p default)', value: figure(perEnd, 'libp2p-10s') }
  const nodeBaseline = { name: 'pings every 10 s (libp2p default)', value: figure(perNode, 'libp2p-10s') }
  const defaultName = `default_${DEFAULT_PING_INTERVAL_MS / 1000}s`
  const out: BenchResult[] = [
    result({
      metric: `idle.cpu_per_connection_end_minute.${defaultName}`,
      value: figure(perEnd, 'default'),
      unit: 'ms',
      baseline,
      // The default must cut at least 40 % of an idle node's CPU at libp2p's interval; the rest (gossipsub's
      // heartbeat, catch-up rounds, yamux keep-alives) does not depend on the pings (decision 0019).
      target: { op: '<=', value: 0.6, of: 'ratio' },
    }),
    result({ metric: 'idle.cpu_per_connection_end_minute.pings_10s', value: baseline.value, unit: 'ms' }),
    result({
      metric: 'idle.cpu_per_connection_end_minute.no_pings',
      value: figure(perEnd, 'none'),
      unit: 'ms',
      baseline,
    }),
  ]
  for (const c of configs.slice(3)) {
    out.push(
      result({
        metric: `idle.cpu_per_connection_end_minute.pings_${c.name}`,
        value: figure(perEnd, c.name),
        unit: 'ms',
        baseline,
      }),
    )
  }
  out.push(
    result({
      metric: `idle.cpu_per_node_minute.${defaultName}`,
      value: figure(perNode, 'default'),
      unit: 'ms',
      baseline: nodeBaseline,
    }),
    result({ metric: 'idle.cpu_per_node_minute.pings_10s', value: nodeBaseline.value, unit: 'ms' }),
    result({
      metric: 'idle.cpu_per_node_minute.no_pings',
      value: figure(perNode, 'none'),
      unit: 'ms',
      baseline: nodeBaseline,
    }),
    result({ metric: 'idle.connections_per_node', value: figure(connections, 'default'), unit: 'connections' }),
  )
  return out
}
