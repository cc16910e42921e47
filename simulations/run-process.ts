#!/usr/bin/env node
/**
 * One simulation run in a process of its own: `node simulations/run-process.ts SCENARIO_FILE --seed N --out DIR
 * [--quiet] [--json]`. `consort sim` starts it (once per seed of a sweep).
 *
 * The virtual world is installed before any other module of the simulator or the node is loaded, so that every
 * library's timers, clocks and randomness are the simulation's from their first use; a fresh process also starts
 * every module-level counter from zero. The same scenario, seed and code then write the same bytes.
 *
 * Exit codes: 0 the run passed its checks, 1 a check failed, 2 the scenario or the command line is wrong, 3 the run
 * could not complete (set-up failed, the simulation stalled).
 */
import { parseArgs } from 'node:util'
import { writeHeapSnapshot } from 'node:v8'
import { isError } from '../protocols/errors.ts'
import { ScenarioError } from './errors.ts'
import { VirtualWorld, wallClockNow } from './virtual-time/world.ts'

/** Virtual time 0 of every run, as a wall-clock date (also `SIM_EPOCH_MS` in runner.ts). */
const EPOCH_MS = Date.UTC(2026, 10, 1)

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string' },
    out: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})

// Libraries use errors as control flow on hot paths: libp2p's job queue makes an `AbortError` for every job it
// finishes, Noise's length decoder throws a `RangeError` at every emptied buffer. Capturing their stacks was a tenth of
// a 233-node market's CPU. Nothing in a run reads a stack (they only ever reach stderr and debug logs), so a run
// captures none; CONSORT_SIM_STACKS=1 brings them back for debugging.
Error.stackTraceLimit = process.env.CONSORT_SIM_STACKS === '1' ? 10 : 0

// CONSORT_SIM_BUFFER_POOL_BYTES=N: Node's shared Buffer pool for this run (Node 24.18 and later: 64 KiB). Every
// `Buffer.from`/`allocUnsafe` under half of it is a slice of a shared slab, and a small slice kept for minutes (a
// store's key, a peer id's digest, a decoded field) keeps its whole slab alive: most of a large run's ArrayBuffers.
// 8192 (Node's size before 24.18) halved them in a 153-node market but cost 7-20 % more CPU, most of it garbage
// collection, so the default stays Node's; a run short of memory rather than CPU may take the smaller pool. The same events and bytes either way (decision 0813).
const bufferPool = Number(process.env.CONSORT_SIM_BUFFER_POOL_BYTES ?? Number.NaN)
if (Number.isSafeInteger(bufferPool) && bufferPool >= 0) Buffer.poolSize = bufferPool

// Every libp2p logger (one per connection, stream and service, three debug functions each) asked the kernel whether
// stderr is a terminal when it was made, to colour its output: `tty.isatty` was 1 % of a 65-node market's CPU samples,
// for logs that are off. Said once here, before any logger's module loads; DEBUG_COLORS set by the caller wins.
process.env.DEBUG_COLORS ??= process.stderr.isTTY === true ? '1' : '0'

const world = VirtualWorld.install({ seed: 'consort/sim/boot', epochMs: EPOCH_MS })
const wallStart = wallClockNow()
let code = 3
try {
  code = await main()
} catch (err) {
  process.stderr.write(`simulation failed: ${(err as Error)?.stack ?? String(err)}\n`)
  code = isError(err, ScenarioError) ? 2 : 3
} finally {
  world.close()
}
process.exit(code)

async function main(): Promise<number> {
  const { loadScenario } = await import('./scenario.ts')
  const { runScenario } = await import('./runner.ts')
  const { writeReport } = await import('./report/write.ts')
  const { summaryText, machineText } = await import('./report/summary.ts')
  const { progressLine } = await import('./report/progress.ts')
  const [name] = positionals
  if (name == null) {
    process.stderr.write('usage: run-process.ts SCENARIO --seed N --out DIR [--quiet] [--json]\n')
    return 2
  }
  const { scenario, path } = loadScenario(name)
  const seed = values.seed == null ? scenario.seed : Number(values.seed)
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) {
    process.stderr.write(`--seed: ${values.seed} is not an integer from 0 to 2^32-1\n`)
    return 2
  }
  const out = values.out ?? `sim-out/${scenario.name}-seed${seed}`
  const quiet = values.quiet || values.json
  world.reseed(`consort/sim/run/${seed}`)
  // CONSORT_SIM_HEAP_PROFILE=FILE: a sampling heap profile of what is live at the end of the drain (every node still
  // up), for "where does the memory go" (Chrome DevTools opens it; so does simulations/tools/heap-by-package.ts).
  const heapProfile = process.env.CONSORT_SIM_HEAP_PROFILE
  const heap = heapProfile != null && heapProfile !== '' ? await startHeapSampling() : null
  // CONSORT_SIM_HEAP_SNAPSHOT=FILE: a full heap snapshot at the same moment (ArrayBuffers' backing stores included,
  // with what retains them: simulations/tools/buffer-holders.ts reads it).
  const snapshotFile = process.env.CONSORT_SIM_HEAP_SNAPSHOT
  const snapshot = snapshotFile != null && snapshotFile !== '' ? snapshotFile : null
  const beforeChecks =
    heap != null || snapshot != null
      ? async () => {
          if (heap != null) await heap.write(heapProfile!)
          if (snapshot != null) writeSnapshot(snapshot)
        }
      : null
  // CONSORT_SIM_STOP_AFTER=STEP: end the process as soon as the market's set-up step STEP (the start of its progress
  // line: "releases seeded") is done, after the snapshot above if one is asked for; `--cpu-prof` then profiles the
  // run up to that step. For measuring one step of a large run; no results are written.
  const stopAfterStep = process.env.CONSORT_SIM_STOP_AFTER
  const stopAfter = stopAfterStep != null && stopAfterStep !== '' ? stopAfterStep : null
  const stopHere = (step: string) => {
    if (snapshot != null) writeSnapshot(snapshot)
    const memory = process.memoryUsage()
    const cpu = process.cpuUsage()
    process.stderr.write(
      `stopped after "${step}" (CONSORT_SIM_STOP_AFTER): ${(world.stats.virtualMs / 1000).toFixed(1)} s simulated, ${world.stats.events} events, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU, rss ${(memory.rss / 1e6).toFixed(0)} MB, heap used ${(memory.heapUsed / 1e6).toFixed(0)} MB, array buffers ${(memory.arrayBuffers / 1e6).toFixed(0)} MB\n`,
    )
    process.exit(3)
  }
  const result = await world.run(() =>
    runScenario(scenario, {
      seed,
      source: path,
      ...(beforeChecks != null ? { beforeChecks } : {}),
      onProgress: (event) => {
        if (
          stopAfter != null &&
          event.phase === 'market' &&
          event.step.startsWith(stopAfter) &&
          event.done >= event.total
        )
          stopHere(event.step)
        if (quiet) return
        const line = progressLine(event)
        if (line != null) process.stderr.write(`${line}\n`)
      },
    }),
  )
  const stats = world.stats
  const machine = {
    ...result.machine,
    wallMs: wallClockNow() - wallStart,
    virtualMs: stats.virtualMs,
    events: stats.events,
    realWaits: stats.realWaits,
  }
  const files = writeReport({ metrics: result.metrics, tables: result.tables, machine, scenario }, out)
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ ok: result.metrics.ok, seed, planHash: result.metrics.planHash, failures: result.failures, files })}\n`,
    )
  } else {
    process.stdout.write(
      `${summaryText(result.metrics)}\n\n${machineText(machine, result.metrics.nodes.total)}\n\nresults  ${out}\n`,
    )
  }
  return result.metrics.ok ? 0 : 1
}

/** A full heap snapshot (V8's `.heapsnapshot`), with what `process.memoryUsage()` says beside it. */
function writeSnapshot(file: string): void {
  const before = process.memoryUsage()
  writeHeapSnapshot(file)
  const mb = (n: number) => (n / 1e6).toFixed(1)
  process.stderr.write(
    `heap snapshot written to ${file} (heap used ${mb(before.heapUsed)} MB, array buffers ${mb(before.arrayBuffers)} MB, rss ${mb(before.rss)} MB)\n`,
  )
}

/** The inspector's sampling heap profiler, started now; `write` saves what is live at that moment. */
async function startHeapSampling(): Promise<{ write(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector')
  const { writeFileSync } = await import('node:fs')
  const session = new Session()
  session.connect()
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (err, result) => (err != null ? reject(err) : resolve(result))),
    )
  await post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024 })
  return {
    async write(file) {
      const { profile } = (await post('HeapProfiler.getSamplingProfile')) as { profile: unknown }
      writeFileSync(file, JSON.stringify(profile))
      process.stderr.write(`heap profile written to ${file}\n`)
    },
  }
}
