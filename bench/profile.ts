#!/usr/bin/env node
/**
 * `npm exec -- node bench/profile.ts NAME [--seconds N] [--save FILE]`: a CPU profile of one hot path
 * (`bench/profiles/<name>.ts`), summarised as shares by category and by function (Markdown on stdout).
 * `--from FILE` summarises a profile saved before (by `--save`, or by a benchmark) with NAME's categories.
 *
 * The path is prepared and warmed up first (2 s), then profiled with V8's sampling profiler (100 µs) for `--seconds`
 * (default 8) while it runs in a loop. Next to the profile: the wall time, this thread's CPU time and the process's
 * (all threads: workers, libuv's pool), so that work moved off this thread shows as the difference.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { type CpuProfile, formatSummary, summariseProfile } from './lib/cpu-profile.ts'
import type { ProfileModule } from './lib/types.ts'

const WARMUP_MS = 2000
const SAMPLING_INTERVAL_US = 100

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { seconds: { type: 'string' }, save: { type: 'string' }, from: { type: 'string' } },
    allowPositionals: true,
  })
  const name = positionals[0]
  if (name === undefined) {
    process.stderr.write('usage: node bench/profile.ts NAME [--seconds N] [--save FILE.cpuprofile | --from FILE]\n')
    return 2
  }
  const seconds = Number(values.seconds ?? 8)
  const module = (await import(`./profiles/${name}.ts`)) as ProfileModule
  const log = (message: string) => process.stderr.write(`[profile ${name}] ${message}\n`)
  if (values.from !== undefined) {
    const saved = JSON.parse(await readFile(values.from, 'utf8')) as CpuProfile
    process.stdout.write(
      `## ${name}: ${module.description}\n\n${formatSummary(summariseProfile(saved, module.categories))}\n`,
    )
    return 0
  }
  const load = [loadavg()[0]!.toFixed(1)]
  const path = await module.prepare(log)
  try {
    const warmEnd = performance.now() + (path.warmupMs ?? WARMUP_MS)
    while (performance.now() < warmEnd) await path.run()
    const session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US })
    const thread = process.threadCpuUsage()
    const all = process.cpuUsage()
    const start = performance.now()
    await session.post('Profiler.start')
    let ops = 0
    while (performance.now() - start < seconds * 1000) {
      const done = await path.run()
      if (done === 0) break
      ops += done
    }
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile }
    const wallMs = performance.now() - start
    const threadCpu = process.threadCpuUsage(thread)
    const allCpu = process.cpuUsage(all)
    session.disconnect()
    load.push(loadavg()[0]!.toFixed(1))
    if (values.save !== undefined) await writeFile(values.save, JSON.stringify(profile))
    const ms = (u: { user: number; system: number }) => (u.user + u.system) / 1000
    const perOp = (v: number) => ((v * 1000) / ops).toFixed(1)
    process.stdout.write(
      [
        `## ${name}: ${module.description}`,
        '',
        `${new Date().toISOString()}, Node ${process.version}, load average ${load.join(' → ')}, ${seconds} s profiled`,
        '',
        `${ops} ${path.unit} in ${wallMs.toFixed(0)} ms wall: ${((ops / wallMs) * 1000).toFixed(0)} ${path.unit}/s; ` +
          `CPU per ${path.unit.replace(/s$/, '')}: this thread ${perOp(ms(threadCpu))} µs, process ${perOp(ms(allCpu))} µs ` +
          `(${(ms(allCpu) / wallMs).toFixed(2)} cores busy)`,
        '',
        formatSummary(summariseProfile(profile, module.categories), { ops, unit: path.unit }),
        '',
      ].join('\n'),
    )
  } finally {
    await path.dispose()
  }
  return 0
}

process.exitCode = await main()
