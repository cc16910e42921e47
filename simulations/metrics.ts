import { monitorEventLoopDelay } from 'node:perf_hooks'
import * as hdr from 'hdr-histogram-js'

/** Anything slower than ten minutes is recorded as ten minutes (a histogram needs a bound). */
export const MAX_RECORDED_MS = 600_000
/** Buckets of a distribution chart: powers of 2^(1/4) ms from 0.25 ms up to MAX_RECORDED_MS. */
const BUCKETS_PER_DOUBLING = 4
const FIRST_BUCKET_MS = 0.25

/** The figures a distribution is summarised by, in its unit (ms unless said otherwise). */
export interface DistributionSummary {
  count: number
  mean: number
  p50: number
  p90: number
  p99: number
  max: number
  /**
   * For charts: upper bound of each log-spaced bucket and the count of samples in it, from the lowest to the
   * highest non-empty bucket, empty buckets between them included (a gap in the data shows as a gap).
   */
  buckets: Array<[number, number]>
}

/**
 * A latency (or any positive quantity) distribution: HdrHistogram for exact-enough percentiles (3 significant
 * digits) in constant memory, and log-spaced buckets for the report's charts.
 */
export class Distribution {
  readonly #histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_RECORDED_MS * 1000,
    numberOfSignificantValueDigits: 3,
  })
  readonly #buckets = new Map<number, number>()

  record(value: number): void {
    const v = Math.min(Math.max(value, 0), MAX_RECORDED_MS)
    this.#histogram.recordValue(Math.max(1, Math.round(v * 1000)))
    const index = v <= FIRST_BUCKET_MS ? 0 : Math.ceil(Math.log2(v / FIRST_BUCKET_MS) * BUCKETS_PER_DOUBLING)
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1)
  }

  get count(): number {
    return this.#histogram.totalCount
  }

  percentile(p: number): number {
    return this.count === 0 ? 0 : this.#histogram.getValueAtPercentile(p) / 1000
  }

  summary(): DistributionSummary {
    const round = (x: number) => Math.round(x * 100) / 100
    const indices = [...this.#buckets.keys()]
    const buckets: Array<[number, number]> = []
    if (indices.length > 0) {
      const lo = Math.min(...indices)
      const hi = Math.max(...indices)
      for (let i = lo; i <= hi; i++)
        buckets.push([round(FIRST_BUCKET_MS * 2 ** (i / BUCKETS_PER_DOUBLING)), this.#buckets.get(i) ?? 0])
    }
    return {
      count: this.count,
      mean: round(this.count === 0 ? 0 : this.#histogram.mean / 1000),
      p50: round(this.percentile(50)),
      p90: round(this.percentile(90)),
      p99: round(this.percentile(99)),
      max: round(this.count === 0 ? 0 : this.#histogram.maxValue / 1000),
      buckets,
    }
  }

  destroy(): void {
    this.#histogram.destroy()
  }
}

/** One second of virtual time, for the charts over time (part of the run's deterministic results). */
export interface TimelinePoint {
  /** Seconds since the workload started (negative during start-up and set-up). */
  t: number
  onlineNodes: number
  /** Counters the run's parts add to during the second (messages published, delivered, bytes fetched…). */
  counters: Record<string, number>
  /** Levels read at the end of the second (connections, bytes through the fabric…). */
  gauges: Record<string, number>
}

/**
 * The run's own timeline, in virtual seconds: counters and gauges of the simulated network. Everything in it follows
 * from the scenario, the seed and the code (nothing about the machine), so it is part of metrics.json.
 */
export class Timeline {
  readonly #points: TimelinePoint[] = []
  readonly #counters = new Map<string, number>()
  readonly #online: () => number
  readonly #gauges: () => Record<string, number>

  constructor(online: () => number, gauges: () => Record<string, number> = () => ({})) {
    this.#online = online
    this.#gauges = gauges
  }

  add(counter: string, value = 1): void {
    this.#counters.set(counter, (this.#counters.get(counter) ?? 0) + value)
  }

  /** Close the current second; `t` is the virtual time (s since the workload started). */
  sample(t: number): void {
    this.#points.push({
      t: Math.round(t * 1000) / 1000,
      onlineNodes: this.#online(),
      counters: Object.fromEntries([...this.#counters].sort((a, b) => (a[0] < b[0] ? -1 : 1))),
      gauges: this.#gauges(),
    })
    this.#counters.clear()
  }

  /** The timeline's origin moved `seconds` later: earlier points become negative times. */
  shift(seconds: number): void {
    for (const p of this.#points) p.t = Math.round((p.t - seconds) * 1000) / 1000
  }

  get points(): readonly TimelinePoint[] {
    return this.#points
  }
}

/** How the machine coped with one virtual second: not part of the run's results (they do not depend on it). */
export interface MachinePoint {
  /** Virtual seconds since the workload started. */
  t: number
  /** Wall-clock milliseconds since the run started. */
  wallMs: number
  rssMb: number
  heapMb: number
  /** CPU time used since the previous point, as a share of one core over the wall time between them. */
  cpu: number
  /** The longest stretch (ms of wall time) the event loop was blocked since the previous point. */
  eventLoopMaxMs: number
}

export interface MachineSummary {
  wallMs: number
  cpuMs: number
  peakRssBytes: number
  peakRssPerNodeMb: number
  rssBytes: number
  rssPerNodeMb: number
  eventLoopMs: { p50: number; p99: number; max: number }
  cpus: number
  loadAverage: number[]
  node: string
}

/**
 * What the run cost this machine: wall time, CPU, memory and event-loop blocking, sampled at every virtual second.
 * Written apart from the run's results (`system.json`): these figures depend on the machine and its load, the
 * results do not.
 */
export class MachineMonitor {
  readonly #loop = monitorEventLoopDelay({ resolution: 10 })
  readonly #window = monitorEventLoopDelay({ resolution: 10 })
  readonly #points: MachinePoint[] = []
  readonly #wallStart: number
  readonly #cpuStart = process.cpuUsage()
  #cpuLast = process.cpuUsage()
  #wallLast: number
  #peakRss = 0
  readonly #realNow: () => number

  /** `realNow` reads the wall clock (the real `Date.now`, not the virtual one). */
  constructor(realNow: () => number) {
    this.#realNow = realNow
    this.#wallStart = realNow()
    this.#wallLast = this.#wallStart
    this.#loop.enable()
    this.#window.enable()
  }

  sample(t: number): void {
    const now = this.#realNow()
    const cpu = process.cpuUsage(this.#cpuLast)
    this.#cpuLast = process.cpuUsage()
    const memory = process.memoryUsage()
    this.#peakRss = Math.max(this.#peakRss, memory.rss)
    this.#points.push({
      t: Math.round(t * 1000) / 1000,
      wallMs: now - this.#wallStart,
      rssMb: Math.round(memory.rss / 1e5) / 10,
      heapMb: Math.round(memory.heapUsed / 1e5) / 10,
      cpu: Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, now - this.#wallLast)) * 100) / 100,
      eventLoopMaxMs: Math.round(this.#window.max / 1e4) / 100,
    })
    this.#wallLast = now
    this.#window.reset()
  }

  get points(): readonly MachinePoint[] {
    return this.#points
  }

  summary(nodes: number, cpus: number, loadAverage: number[]): MachineSummary {
    const rss = process.memoryUsage().rss
    this.#peakRss = Math.max(this.#peakRss, rss)
    const cpu = process.cpuUsage(this.#cpuStart)
    const ms = (ns: number) => Math.round(ns / 1e4) / 100
    return {
      wallMs: this.#realNow() - this.#wallStart,
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      peakRssBytes: this.#peakRss,
      peakRssPerNodeMb: Math.round((this.#peakRss / Math.max(1, nodes) / 1e6) * 100) / 100,
      rssBytes: rss,
      rssPerNodeMb: Math.round((rss / Math.max(1, nodes) / 1e6) * 100) / 100,
      eventLoopMs: { p50: ms(this.#loop.percentile(50)), p99: ms(this.#loop.percentile(99)), max: ms(this.#loop.max) },
      cpus,
      loadAverage,
      node: process.version,
    }
  }

  stop(): void {
    this.#loop.disable()
    this.#window.disable()
  }
}
