import type { Category } from './cpu-profile.ts'

/** What a benchmark receives from the runner. */
export interface BenchOptions {
  /** Rounds per measured figure; each figure is the median over its rounds. */
  rounds: number
  /** A shorter run (fewer rounds, smaller workloads) for smoke tests; figures are less stable. */
  quick: boolean
  /** Progress for a person watching; goes to stderr so that `--json` output stays one object. */
  log(message: string): void
}

/** A baseline measured in the same run, next to the figure it is compared with. */
export interface Baseline {
  name: string
  value: number
}

/** `value op target.value`, where `of` says whether the figure itself or its ratio to the baseline is compared. */
export interface Target {
  op: '>=' | '<='
  value: number
  of: 'value' | 'ratio'
}

/** One figure, exactly as `--json` prints it. */
export interface BenchResult {
  metric: string
  value: number
  unit: string
  baseline: Baseline | null
  /** value / baseline.value, or null without a baseline. */
  ratio: number | null
  target: Target | null
  /** Whether the target is met; true for a figure without a target (there is nothing to miss). */
  met: boolean
}

/** A benchmark module: `bench/benchmarks/<name>.ts` exports these. */
export interface BenchmarkModule {
  /** One line for `npm run bench` without a name. */
  description?: string
  run(options: BenchOptions): Promise<BenchResult[]>
}

/** The one object `npm run bench -- NAME --json` prints. */
export interface BenchReport {
  bench: string
  node: string
  cpus: number
  /** When the run started and ended (ISO 8601). */
  started: string
  ended: string
  /**
   * The machine's load average (1, 5 and 15 minutes) at the start and at the end of the run: the figures of a shared
   * machine mean little without it.
   */
  load: { start: number[]; end: number[] }
  /**
   * The share of one CPU a busy thread of the benchmark's process got for half a second at the start and at the end
   * (`bench/lib/cpu-share.ts`), and whether the kernel shares CPUs between sessions first (`autogroup`): then a niced
   * process in another session competes as if it were not niced, and the load average says little.
   */
  cpuShare: { start: number; end: number; autogroup: boolean | null }
  results: BenchResult[]
}

/** A hot path to profile: `bench/profiles/<name>.ts` exports these (see bench/profile.ts). */
export interface ProfileModule {
  description: string
  /** Stack categories in priority order (a sample goes to the first one any frame of its stack matches). */
  categories: Category[]
  prepare(log: (message: string) => void): Promise<ProfiledPath>
}

export interface ProfiledPath {
  /** What `run` counts (`records`, `reports`, `MB`). */
  unit: string
  /** Warm-up before the profile starts (default 2 s; 0 when `prepare` warms up itself). */
  warmupMs?: number
  /** One batch of the hot path; returns how many units it did (0: the workload is used up, the profile stops). */
  run(): Promise<number>
  dispose(): Promise<void>
}
