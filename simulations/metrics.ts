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
  /** For charts: upper bound of each bucket and the count of samples in it (empty buckets left out). */
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
    return {
      count: this.count,
      mean: round(this.count === 0 ? 0 : this.#histogram.mean / 1000),
      p50: round(this.percentile(50)),
      p90: round(this.percentile(90)),
      p99: round(this.percentile(99)),
      max: round(this.count === 0 ? 0 : this.#histogram.maxValue / 1000),
      buckets: [...this.#buckets]
        .sort((a, b) => a[0] - b[0])
        .map(([i, n]) => [round(FIRST_BUCKET_MS * 2 ** (i / BUCKETS_PER_DOUBLING)), n]),
    }
  }

  destroy(): void {
    this.#histogram.destroy()
  }
}

/** One second of the run, for the charts over time. */
export interface TimelinePoint {
  /** Seconds since the workload started (negative during start-up). */
  t: number
  onlineNodes: number
  rssMb: number
  heapMb: number
  /** CPU time the process used in this second, as a share of one core (can exceed 1 on 2 cores). */
  cpu: number
  eventLoopP99Ms: number
  eventLoopMaxMs: number
  /** Counters the run's parts add to during the second (messages published, delivered, bytes fetched…). */
  counters: Record<string, number>
  /** Levels read at the end of the second (chunks in flight in the fabric…). */
  gauges: Record<string, number>
}

/** Samples the process once a second: event-loop delay, CPU, memory, and counters that the run increments. */
export class SystemSampler {
  readonly #whole = monitorEventLoopDelay({ resolution: 10 })
  readonly #window = monitorEventLoopDelay({ resolution: 10 })
  readonly #points: TimelinePoint[] = []
  readonly #counters = new Map<string, number>()
  readonly #origin: () => number
  readonly #online: () => number
  #timer: ReturnType<typeof setInterval> | null = null
  #cpu = process.cpuUsage()
  #last = performance.now()
  #peakRss = 0
  #cpuTotalMs = 0
  #startedAt = 0
  #nodeSeconds = 0

  readonly #gauges: () => Record<string, number>

  /** `origin()` is the performance.now() the timeline counts from; `online()` the nodes up now. */
  constructor(origin: () => number, online: () => number, gauges: () => Record<string, number> = () => ({})) {
    this.#origin = origin
    this.#online = online
    this.#gauges = gauges
  }

  start(): void {
    this.#whole.enable()
    this.#window.enable()
    this.#cpu = process.cpuUsage()
    this.#last = performance.now()
    this.#startedAt = this.#last
    this.#timer = setInterval(() => this.sample(), 1000)
    this.#timer.unref()
  }

  /** The timeline's origin moved `seconds` later: earlier points become negative times. */
  shift(seconds: number): void {
    for (const p of this.#points) p.t = Math.round((p.t - seconds) * 10) / 10
  }

  /** Reset the whole-run event-loop histogram (start-up is reported apart from the steady state). */
  resetEventLoop(): void {
    this.#whole.reset()
  }

  add(counter: string, value = 1): void {
    this.#counters.set(counter, (this.#counters.get(counter) ?? 0) + value)
  }

  sample(): void {
    const now = performance.now()
    const cpu = process.cpuUsage(this.#cpu)
    this.#cpu = process.cpuUsage()
    const elapsed = Math.max(1, now - this.#last)
    const cpuMs = (cpu.user + cpu.system) / 1000
    this.#cpuTotalMs += cpuMs
    this.#nodeSeconds += (this.#online() * elapsed) / 1000
    this.#last = now
    const memory = process.memoryUsage()
    this.#peakRss = Math.max(this.#peakRss, memory.rss)
    this.#points.push({
      t: Math.round((now - this.#origin()) / 100) / 10,
      onlineNodes: this.#online(),
      rssMb: Math.round(memory.rss / 1e5) / 10,
      heapMb: Math.round(memory.heapUsed / 1e5) / 10,
      cpu: Math.round((cpuMs / elapsed) * 100) / 100,
      eventLoopP99Ms: Math.round(this.#window.percentile(99) / 1e4) / 100,
      eventLoopMaxMs: Math.round(this.#window.max / 1e4) / 100,
      counters: Object.fromEntries(this.#counters),
      gauges: this.#gauges(),
    })
    this.#counters.clear()
    this.#window.reset()
  }

  stop(): void {
    if (this.#timer != null) clearInterval(this.#timer)
    this.#timer = null
    this.sample()
    this.#whole.disable()
    this.#window.disable()
  }

  get timeline(): readonly TimelinePoint[] {
    return this.#points
  }

  /** Event-loop delay since the last reset, in ms. */
  eventLoop(): { p50: number; p99: number; max: number; mean: number } {
    const ms = (ns: number) => Math.round(ns / 1e4) / 100
    return {
      p50: ms(this.#whole.percentile(50)),
      p99: ms(this.#whole.percentile(99)),
      max: ms(this.#whole.max),
      mean: ms(this.#whole.mean),
    }
  }

  get peakRssBytes(): number {
    return this.#peakRss
  }

  /** CPU milliseconds per node-second of the run so far (how much of a core one node costs). */
  cpuPerNode(): { cpuMs: number; wallMs: number; nodeSeconds: number; coreShare: number } {
    const wall = performance.now() - this.#startedAt
    return {
      cpuMs: Math.round(this.#cpuTotalMs),
      wallMs: Math.round(wall),
      nodeSeconds: Math.round(this.#nodeSeconds),
      coreShare: this.#nodeSeconds === 0 ? 0 : Math.round((this.#cpuTotalMs / 1000 / this.#nodeSeconds) * 1e4) / 1e4,
    }
  }
}
