#!/usr/bin/env node
/**
 * `npm run bench -- NAME [--json] [--rounds N] [--quick] [--check]`: run one benchmark of `bench/benchmarks/`.
 * With --json, stdout is exactly one JSON object (progress goes to stderr). See bench/README.md.
 */
import { readdirSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { measureCpuShare } from './lib/cpu-share.ts'
import { formatReport } from './lib/format.ts'
import type { BenchmarkModule, BenchReport } from './lib/types.ts'

/** Rounds per figure unless --rounds says otherwise: enough for a stable median on a shared machine. */
const DEFAULT_ROUNDS = 7
const QUICK_ROUNDS = 3
const EXIT = { ok: 0, targetMissed: 1, usage: 2 } as const

/** The 1, 5 and 15 minute load averages, two decimals. */
function loadAverage(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100)
}

const benchmarksDir = join(dirname(fileURLToPath(import.meta.url)), 'benchmarks')

/** Every module in bench/benchmarks/ is a benchmark, named by its file. */
export function knownBenchmarks(): string[] {
  return readdirSync(benchmarksDir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => file.slice(0, -3))
    .sort()
}

/** A benchmark by its name, one of `knownBenchmarks()` (the import names its folder, for the import-table test). */
async function loadBenchmark(name: string): Promise<BenchmarkModule> {
  const module = (await import(`./benchmarks/${name}.ts`)) as Partial<BenchmarkModule>
  if (typeof module.run !== 'function') throw new TypeError(`bench/benchmarks/${name}.ts does not export run()`)
  return module as BenchmarkModule
}

async function usage(message: string): Promise<number> {
  const lines = [
    message,
    '',
    'usage: npm run bench -- NAME [--json] [--rounds N] [--quick] [--check]',
    '',
    'benchmarks:',
  ]
  for (const name of knownBenchmarks()) {
    let description: string
    try {
      description = (await loadBenchmark(name)).description ?? ''
    } catch (err) {
      description = `(does not load: ${(err as Error).message})`
    }
    lines.push(`  ${name.padEnd(12)} ${description}`.trimEnd())
  }
  process.stderr.write(`${lines.join('\n')}\n`)
  return EXIT.usage
}

const OPTIONS = {
  json: { type: 'boolean' },
  rounds: { type: 'string' },
  quick: { type: 'boolean' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true })
  } catch (err) {
    return usage((err as Error).message)
  }
  const { values, positionals } = parsed
  const name = positionals[0]
  if (values.help === true || name == null) return usage('which benchmark?')
  if (positionals.length > 1) return usage(`one benchmark at a time (got ${positionals.join(', ')})`)
  if (!knownBenchmarks().includes(name)) return usage(`unknown benchmark ${JSON.stringify(name)}`)
  const quick = values.quick === true
  const rounds = values.rounds != null ? Number(values.rounds) : quick ? QUICK_ROUNDS : DEFAULT_ROUNDS
  if (!Number.isSafeInteger(rounds) || rounds < 1) return usage(`--rounds: not a positive integer: ${values.rounds}`)

  const benchmark = await loadBenchmark(name)
  const started = new Date().toISOString()
  const loadStart = loadAverage()
  const shareStart = measureCpuShare()
  process.stderr.write(
    `[${name}] load average at the start: ${loadStart.join(' ')}; a busy thread gets ${shareStart.share} of a CPU\n`,
  )
  const results = await benchmark.run({
    rounds,
    quick,
    log: (message) => process.stderr.write(`[${name}] ${message}\n`),
  })
  const loadEnd = loadAverage()
  const shareEnd = measureCpuShare()
  process.stderr.write(
    `[${name}] load average at the end: ${loadEnd.join(' ')}; a busy thread gets ${shareEnd.share} of a CPU\n`,
  )
  const report: BenchReport = {
    bench: name,
    node: process.version,
    cpus: availableParallelism(),
    started,
    ended: new Date().toISOString(),
    load: { start: loadStart, end: loadEnd },
    cpuShare: { start: shareStart.share, end: shareEnd.share, autogroup: shareStart.autogroup },
    results,
  }
  process.stdout.write(values.json === true ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`)
  return values.check === true && results.some((r) => !r.met) ? EXIT.targetMissed : EXIT.ok
}

process.exitCode = await main(process.argv.slice(2))
