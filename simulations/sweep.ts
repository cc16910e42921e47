import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ScenarioError } from './errors.ts'
import { type Cell, mapRows, writeTable } from './report/tables.ts'
import { loadScenario, parseJsoncText, parseScenario, type Scenario } from './scenario.ts'
import { type Summary, summarise } from './statistics.ts'

/**
 * Several runs of a scenario: one per seed (`consort sim SCENARIO --seeds 1..10`) and, with a sweep file, one per
 * combination of parameter values. Every run is a process of its own (`run-process.ts`), writing its results into
 * `OUT/<variant>/seed-<n>/`; the sweep then collects every run's `metrics.csv` into `runs.csv` (one row per variant,
 * seed and metric) and `summary.csv` (per variant and metric: n, mean, standard deviation, 95 % confidence interval
 * of the mean, min, max).
 *
 * A sweep file (JSON or JSONC):
 *
 * ```jsonc
 * {
 *   "scenario": "market-faults",          // a shipped scenario or a path (relative to the sweep file)
 *   "seeds": "1..10",                     // or [1, 2, 3]
 *   "vary": { "links.lossRate": [0, 0.01, 0.05], "groups.6.count": [20, 40] }  // every combination
 * }
 * ```
 */

/** Runs one sweep may make (variants × seeds): each is a whole simulation. */
export const MAX_SWEEP_RUNS = 1000
const RUN_PROCESS = fileURLToPath(new URL('./run-process.ts', import.meta.url))

export interface Variant {
  /** `v1`, `v2`…, or `base` without a `vary`. */
  id: string
  settings: Array<{ path: string; value: unknown }>
  scenario: Scenario
}

export interface SweepPlan {
  seeds: number[]
  variants: Variant[]
}

/** `7`, `1..10`, `1,3,5`, `1..5,10`: the seeds of a sweep, in order, without repeats. */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = []
  for (const part of text.split(',')) {
    const range = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(part)
    if (range == null) throw new ScenarioError('--seeds', `"${part.trim()}" is neither a seed nor a range like 1..10`)
    const from = Number(range[1])
    const to = range[2] == null ? from : Number(range[2])
    if (to < from) throw new ScenarioError('--seeds', `${part.trim()}: the range runs backwards`)
    if (to > 2 ** 32 - 1) throw new ScenarioError('--seeds', `${to} is above 2^32-1`)
    if (to - from + 1 > MAX_SWEEP_RUNS) throw new ScenarioError('--seeds', `more than ${MAX_SWEEP_RUNS} seeds`)
    for (let s = from; s <= to; s++) if (!seeds.includes(s)) seeds.push(s)
  }
  return seeds
}

/** A plan of seeds over one scenario. */
export function seedSweep(scenario: Scenario, seeds: number[]): SweepPlan {
  return { seeds, variants: [{ id: 'base', settings: [], scenario }] }
}

/** Read a sweep file: its scenario, seeds and the combinations of `vary`, each checked as a scenario. */
export function loadSweep(path: string): SweepPlan {
  const file = resolve(path)
  if (!existsSync(file)) throw new ScenarioError(path, 'no such sweep file')
  const raw = parseJsoncText(readFileSync(file, 'utf8'), file) as Record<string, unknown>
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ScenarioError(file, 'a sweep file is an object')
  const unknown = Object.keys(raw).filter((k) => !['scenario', 'seeds', 'vary'].includes(k))
  if (unknown.length > 0) throw new ScenarioError(file, `unknown setting(s) ${unknown.join(', ')}`)
  if (typeof raw.scenario !== 'string') throw new ScenarioError(`${file}.scenario`, 'name a scenario or its file')
  const scenarioRef = /^[a-z][a-z0-9-]*$/.test(raw.scenario) ? raw.scenario : resolve(dirname(file), raw.scenario)
  const { scenario } = loadScenario(scenarioRef)
  const seeds =
    raw.seeds == null
      ? [scenario.seed]
      : typeof raw.seeds === 'string'
        ? parseSeeds(raw.seeds)
        : Array.isArray(raw.seeds) && raw.seeds.every((s) => Number.isSafeInteger(s) && s >= 0)
          ? [...new Set(raw.seeds as number[])]
          : (() => {
              throw new ScenarioError(`${file}.seeds`, 'a range like "1..10" or a list of integers')
            })()
  const vary = (raw.vary ?? {}) as Record<string, unknown>
  if (typeof vary !== 'object' || Array.isArray(vary)) throw new ScenarioError(`${file}.vary`, 'an object of paths')
  let combos: Array<Array<{ path: string; value: unknown }>> = [[]]
  for (const [path, values] of Object.entries(vary)) {
    if (!Array.isArray(values) || values.length === 0)
      throw new ScenarioError(`${file}.vary.${path}`, 'a non-empty list of values')
    combos = combos.flatMap((c) => values.map((value) => [...c, { path, value }]))
  }
  if (combos.length * seeds.length > MAX_SWEEP_RUNS)
    throw new ScenarioError(file, `${combos.length} variant(s) × ${seeds.length} seed(s) exceed ${MAX_SWEEP_RUNS} runs`)
  const variants = combos.map((settings, i): Variant => {
    const copy = structuredClone(scenario) as unknown as Record<string, unknown>
    for (const { path, value } of settings) setPath(copy, path, value, file)
    return {
      id: settings.length === 0 ? 'base' : `v${i + 1}`,
      settings,
      scenario: parseScenario(
        copy,
        `${file} (${settings.map((s) => `${s.path}=${JSON.stringify(s.value)}`).join(', ')})`,
      ),
    }
  })
  return { seeds, variants }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown, file: string): void {
  const keys = path.split('.')
  let node: unknown = target
  for (const key of keys.slice(0, -1)) {
    node = (node as Record<string, unknown> | undefined)?.[key]
    if (node == null || typeof node !== 'object')
      throw new ScenarioError(`${file}.vary.${path}`, `the scenario has nothing at ${key}`)
  }
  ;(node as Record<string, unknown>)[keys.at(-1)!] = value
}

export interface RunOutcome {
  variant: Variant
  seed: number
  dir: string
  /** run-process's exit code: 0 passed, 1 a check failed, 2 bad input, 3 could not complete. */
  code: number
}

export interface SweepOptions {
  out: string
  quiet: boolean
  /** Runs at once (each a process; 1 by default: a run already keeps a core busy). */
  jobs?: number
  onRun?: (run: RunOutcome, done: number, total: number) => void
}

/** Run every (variant, seed) and write `runs.csv` and `summary.csv`; answers every run's outcome. */
export async function runSweep(plan: SweepPlan, options: SweepOptions): Promise<RunOutcome[]> {
  const out = resolve(options.out)
  mkdirSync(out, { recursive: true })
  const queue: Array<{ variant: Variant; seed: number }> = []
  for (const variant of plan.variants) {
    const dir = join(out, variant.id)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'scenario.json'), `${JSON.stringify(variant.scenario, null, 2)}\n`)
    for (const seed of plan.seeds) queue.push({ variant, seed })
  }
  const outcomes: RunOutcome[] = []
  let next = 0
  const worker = async () => {
    while (next < queue.length) {
      const { variant, seed } = queue[next++]!
      const dir = join(out, variant.id, `seed-${seed}`)
      const args = [join(out, variant.id, 'scenario.json'), '--seed', String(seed), '--out', dir, '--quiet']
      const code = await runSimulationProcess(args, 'ignore')
      const outcome = { variant, seed, dir, code }
      outcomes.push(outcome)
      options.onRun?.(outcome, outcomes.length, queue.length)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs ?? 1, queue.length)) }, worker))
  outcomes.sort((a, b) => cmp(a.variant.id, b.variant.id) || a.seed - b.seed)
  writeSweepTables(plan, outcomes, out)
  return outcomes
}

/** Heap a run may use: most of the machine's memory (a 1,000-node run needs several gigabytes). */
export function heapLimitMb(): number {
  return Math.max(2048, Math.floor((totalmem() * 0.8) / 2 ** 20))
}

/**
 * V8's largest semi-space for a run (MB; the young generation is two). A large run's nodes make short-lived objects
 * at every chunk, frame and stream beside a heap of gigabytes, and garbage collection was 10–50 % of its CPU samples
 * with Node's default young generation. 128 MB: the 153-node cut of `market-1000` to its offers took 123 s of CPU
 * against 138 s (two runs each, alternated, the same 1,226,797 events; peak RSS the same within ±3 %). Decision 0814.
 */
export const SEMI_SPACE_MB = 128

/** Run `run-process.ts` with these arguments; resolves with its exit code. */
export function runSimulationProcess(args: string[], stdio: 'inherit' | 'ignore' = 'inherit'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      [`--max-old-space-size=${heapLimitMb()}`, `--max-semi-space-size=${SEMI_SPACE_MB}`, RUN_PROCESS, ...args],
      {
        stdio: ['ignore', stdio, 'inherit'],
      },
    )
    const stop = () => child.kill('SIGTERM')
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolvePromise(code ?? (signal != null ? 128 : 3))
    })
  })
}

/** Numeric metrics of one run (its metrics.csv), or null when the run wrote none. */
function runMetrics(dir: string): Map<string, number> | null {
  const path = join(dir, 'metrics.csv')
  if (!existsSync(path)) return null
  const values = new Map<string, number>()
  for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
    const comma = line.lastIndexOf(',')
    if (comma < 0) continue
    const value = line.slice(comma + 1)
    if (value === '' || Number.isNaN(Number(value))) continue
    values.set(line.slice(0, comma), Number(value))
  }
  return values
}

function writeSweepTables(plan: SweepPlan, outcomes: RunOutcome[], out: string): void {
  const byVariant = new Map<string, Array<{ seed: number; metrics: Map<string, number> }>>()
  for (const o of outcomes) {
    const metrics = runMetrics(o.dir)
    if (metrics == null) continue
    metrics.set('run.exitCode', o.code)
    const list = byVariant.get(o.variant.id) ?? []
    list.push({ seed: o.seed, metrics })
    byVariant.set(o.variant.id, list)
  }
  const settingPaths = [...new Set(plan.variants.flatMap((v) => v.settings.map((s) => s.path)))]
  const settingCells = (variant: Variant): Cell[] =>
    settingPaths.map((p) => {
      const v = variant.settings.find((s) => s.path === p)?.value
      return v == null ? null : typeof v === 'object' ? JSON.stringify(v) : (v as Cell)
    })
  writeTable(out, {
    name: 'runs',
    row: 'one figure of one run (variant, seed)',
    columns: ['variant', ...settingPaths, 'seed', 'metric', 'value'],
    rows: function* () {
      for (const variant of plan.variants)
        for (const run of byVariant.get(variant.id) ?? [])
          for (const [metric, value] of run.metrics)
            yield [variant.id, ...settingCells(variant), run.seed, metric, value]
    },
  })
  writeTable(out, {
    name: 'summary',
    row: 'one figure of one variant over its seeds: mean, standard deviation, 95 % confidence interval (Student t)',
    columns: ['variant', ...settingPaths, 'metric', 'n', 'mean', 'sd', 'ci95_low', 'ci95_high', 'min', 'max'],
    rows: () =>
      mapRows(summaryRows(plan, byVariant), ([variant, metric, s]) => [
        variant.id,
        ...settingCells(variant),
        metric,
        s.n,
        round(s.mean),
        round(s.sd),
        s.ci95Low == null ? null : round(s.ci95Low),
        s.ci95High == null ? null : round(s.ci95High),
        round(s.min),
        round(s.max),
      ]),
  })
}

function* summaryRows(
  plan: SweepPlan,
  byVariant: Map<string, Array<{ seed: number; metrics: Map<string, number> }>>,
): Generator<[Variant, string, Summary]> {
  for (const variant of plan.variants) {
    const runs = byVariant.get(variant.id) ?? []
    const metrics = new Set(runs.flatMap((r) => [...r.metrics.keys()]))
    for (const metric of metrics) {
      const values = runs.flatMap((r) => (r.metrics.has(metric) ? [r.metrics.get(metric)!] : []))
      yield [variant, metric, summarise(values)]
    }
  }
}

/** The sweep's summary for a person: a few figures per variant, mean and 95 % CI. */
export function sweepText(plan: SweepPlan, outcomes: RunOutcome[], out: string): string {
  const figures = [
    'gossip.reliability',
    'gossip.reachable.reliability',
    'gossip.latencyMs.p50',
    'gossip.latencyMs.p99',
    'market.fetches.completed',
    'market.purchases.bought',
    'market.purchases.plays.licensed',
  ]
  const lines: string[] = []
  for (const variant of plan.variants) {
    const runs = outcomes.filter((o) => o.variant === variant)
    const passed = runs.filter((o) => o.code === 0).length
    const label =
      variant.settings.length === 0
        ? variant.scenario.name
        : variant.settings.map((s) => `${s.path}=${JSON.stringify(s.value)}`).join(', ')
    lines.push(`${variant.id}  ${label}: ${passed}/${runs.length} run(s) passed (seeds ${plan.seeds.join(',')})`)
    const metrics = runs.flatMap((o) => {
      const m = runMetrics(o.dir)
      return m == null ? [] : [m]
    })
    for (const figure of figures) {
      const values = metrics.flatMap((m) => (m.has(figure) ? [m.get(figure)!] : []))
      if (values.length === 0) continue
      const s = summarise(values)
      const ci = s.ci95Low == null ? '' : ` (95% CI ${round(s.ci95Low)} – ${round(s.ci95High!)})`
      lines.push(`    ${figure.padEnd(34)} mean ${round(s.mean)}${ci}, sd ${round(s.sd)}, n ${s.n}`)
    }
  }
  lines.push('', `runs     ${join(out, 'runs.csv')}`, `summary  ${join(out, 'summary.csv')}`)
  return lines.join('\n')
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
