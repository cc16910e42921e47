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
