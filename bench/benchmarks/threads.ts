/**
 * `npm run bench -- threads`: do raw Ed25519 verifies scale across cores here, and across what — worker threads of one
 * process, or processes? The clearinghouse verifies usage reports on worker threads; in the clearing benchmark each
 * worker's event loop was busy all the time while its thread used a third of a core. This tells the machine's load
 * (involuntary context switches: the kernel gave the core away) from waiting inside the process (voluntary ones: a
 * lock, such as OpenSSL's) and from CPU spent on contention (more CPU per verify with two threads than with one).
 *
 * Each round runs one verifying loop on this thread, then as many loops as cores on worker threads at once, then as many
 * in child processes at once. Figures: each layout's total rate, its ratio to one thread's rate of the same round, and
 * the CPU per verify relative to one thread's.
 */
import { fork } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { result } from '../lib/result.ts'
import { median } from '../lib/stats.ts'
import type { BenchOptions, BenchResult } from '../lib/types.ts'
import { type LoopResult, verifyLoop } from '../lib/verify-loop.ts'

export const description = 'raw Ed25519 verifies on one thread, on worker threads and in processes, side by side'

const LOOP = new URL('../lib/verify-loop.ts', import.meta.url)

async function onThreads(n: number, ms: number): Promise<LoopResult[]> {
  const flag = new Int32Array(new SharedArrayBuffer(4))
  const workers = Array.from({ length: n }, () => new Worker(LOOP, { workerData: { verifyLoop: true, ms, flag } }))
  try {
    const online = workers.map((w) => new Promise((resolve) => w.once('online', resolve)))
    const answers = workers.map(
      (w) =>
        new Promise<LoopResult>((resolve, reject) => {
          w.once('message', resolve)
          w.once('error', reject)
        }),
    )
    await Promise.all(online)
    // Give each a moment to reach its wait before the flag goes up (a late one would start late, not wrongly).
    await new Promise((r) => setTimeout(r, 50))
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
    return await Promise.all(answers)
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}

async function inProcesses(n: number, ms: number): Promise<LoopResult[]> {
  const children = Array.from({ length: n }, () =>
    fork(LOOP, [], {
      env: { ...process.env, CONSORT_VERIFY_LOOP: '1' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    }),
  )
  try {
    await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))))
    const answers = children.map(
      (c) =>
        new Promise<LoopResult>((resolve, reject) => {
          c.once('message', (m) => resolve(m as LoopResult))
          c.once('error', reject)
        }),
    )
    for (const c of children) c.send(ms)
    return await Promise.all(answers)
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill()
  }
}

interface Layout {
  rate: number
  cpuPerVerify: number
  voluntary: number
  involuntary: number
  /** CPU used over wall time, per loop (1: the loop had its core all the time). */
  share: number
}

function summarise(loops: LoopResult[]): Layout {
  const verifies = loops.reduce((s, l) => s + l.verifies, 0)
  const cpu = loops.reduce((s, l) => s + l.cpuUs, 0)
  return {
    rate: loops.reduce((s, l) => s + (l.verifies / l.ms) * 1000, 0),
    cpuPerVerify: cpu / verifies,
    voluntary: loops.reduce((s, l) => s + l.voluntary, 0),
    involuntary: loops.reduce((s, l) => s + l.involuntary, 0),
    share: loops.reduce((s, l) => s + l.cpuUs / 1000 / l.ms, 0) / loops.length,
  }
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const n = availableParallelism()
  const ms = options.quick ? 300 : 1000
  const one: Layout[] = []
  const threads: Layout[] = []
  const processes: Layout[] = []
  verifyLoop(300)
  for (let round = 0; round < options.rounds; round++) {
    one.push(summarise([verifyLoop(ms)]))
    threads.push(summarise(await onThreads(n, ms)))
    processes.push(summarise(await inProcesses(n, ms)))
    const line = (name: string, l: Layout) =>
      `${name} ${Math.round(l.rate)}/s (${(l.rate / one.at(-1)!.rate).toFixed(2)} ×), ` +
      `${l.cpuPerVerify.toFixed(1)} µs CPU each, cores held ${l.share.toFixed(2)}, ` +
      `switches voluntary ${l.voluntary} involuntary ${l.involuntary}`
    options.log(
      `round ${round + 1}: ${line('one thread', one.at(-1)!)}; ${line(`${n} threads`, threads.at(-1)!)}; ` +
        `${line(`${n} processes`, processes.at(-1)!)}`,
    )
  }
  const baseline = { name: 'node:crypto ed25519 verify, one thread', value: median(one.map((l) => l.rate)) }
  const cpuOne = median(one.map((l) => l.cpuPerVerify))
  return [
    result({ metric: 'verify.one_thread', value: baseline.value, unit: 'verifies/s' }),
    result({
      metric: `verify.${n}_worker_threads`,
      value: median(threads.map((l) => l.rate)),
      unit: 'verifies/s',
      baseline,
    }),
    result({
      metric: `verify.${n}_processes`,
      value: median(processes.map((l) => l.rate)),
      unit: 'verifies/s',
      baseline,
    }),
    result({
      metric: 'verify.cpu_per_verify.worker_threads',
      value: median(threads.map((l) => l.cpuPerVerify)),
      unit: 'µs',
      baseline: { name: 'one thread', value: cpuOne },
    }),
    result({
      metric: 'verify.cpu_per_verify.processes',
      value: median(processes.map((l) => l.cpuPerVerify)),
      unit: 'µs',
      baseline: { name: 'one thread', value: cpuOne },
    }),
    result({
      metric: 'verify.worker_threads.voluntary_switches',
      value: median(threads.map((l) => l.voluntary)),
      unit: 'per round',
    }),
    result({
      metric: 'verify.worker_threads.cores_held',
      value: median(threads.map((l) => l.share)),
      unit: 'of a core each',
    }),
    result({
      metric: 'verify.processes.cores_held',
      value: median(processes.map((l) => l.share)),
      unit: 'of a core each',
    }),
  ]
}
