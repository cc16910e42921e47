import * as hdr from 'hdr-histogram-js'

/** Latencies are recorded in microseconds: enough resolution for in-process hops, reported in milliseconds. */
const MICROS_PER_MS = 1000
/** Anything slower than a minute is recorded as a minute (a histogram needs a bound). */
export const MAX_RECORDED_LATENCY_MS = 60_000

/** Latency percentiles over many samples, with HdrHistogram (3 significant digits). */
export class LatencyRecorder {
  readonly #histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_RECORDED_LATENCY_MS * MICROS_PER_MS,
    numberOfSignificantValueDigits: 3,
  })

  record(ms: number): void {
    const micros = Math.round(Math.min(Math.max(ms, 0), MAX_RECORDED_LATENCY_MS) * MICROS_PER_MS)
    this.#histogram.recordValue(Math.max(1, micros))
  }

  get count(): number {
    return this.#histogram.totalCount
  }

  /** The latency at a percentile (0–100), in ms. */
  percentileMs(percentile: number): number {
    return this.#histogram.getValueAtPercentile(percentile) / MICROS_PER_MS
  }

  get maxMs(): number {
    return this.#histogram.maxValue / MICROS_PER_MS
  }

  get meanMs(): number {
    return this.#histogram.mean / MICROS_PER_MS
  }

  destroy(): void {
    this.#histogram.destroy()
  }
}

/**
 * A tail figure measured in repetitions: samples go to the current repetition's recorder (`next()` starts the
 * following one), and a percentile is the median of the repetitions' percentiles, so that one stall of the shared
 * machine moves one repetition's p99, not the figure (issue 17: tail figures are medians over at least three).
 */
export class RepeatedLatency {
  readonly #reps: LatencyRecorder[]
  #current = 0

  constructor(repetitions: number) {
    this.#reps = Array.from({ length: Math.max(1, repetitions) }, () => new LatencyRecorder())
  }

  get repetitions(): number {
    return this.#reps.length
  }

  /** Record into repetition `rep` (default: the current one). */
  record(ms: number, rep = this.#current): void {
    this.#reps[Math.min(rep, this.#reps.length - 1)]!.record(ms)
  }

  /** Move on to the next repetition (the last one keeps collecting). */
  next(): void {
    this.#current = Math.min(this.#current + 1, this.#reps.length - 1)
  }

  get count(): number {
    return this.#reps.reduce((n, r) => n + r.count, 0)
  }

  /** Each repetition's percentile, in ms. */
  each(percentile: number): number[] {
    return this.#reps.map((r) => r.percentileMs(percentile))
  }

  /** The median over the repetitions of each one's percentile, in ms. */
  percentileMs(percentile: number): number {
    const sorted = this.each(percentile).sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  }

  destroy(): void {
    for (const r of this.#reps) r.destroy()
  }
}
