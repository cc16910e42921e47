import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { Counter, Gauge, Registry } from 'prom-client'
import {
  type CounterName,
  type LabelsOf,
  METRICS,
  type MetricName,
  type Metrics,
  type Sample,
} from '../protocols/metrics.ts'

/**
 * The node's Prometheus registry: libp2p's own metrics (`@libp2p/prometheus-metrics`, with prom-client's process
 * and Node.js metrics: CPU, memory, event-loop delay `nodejs_eventloop_lag_*_seconds`, GC), and Consort's
 * (`protocols/metrics.ts`). One registry per node, never prom-client's global one, so that several nodes in one
 * process (the devnet) each expose only their own counts.
 */
export class NodeMetrics implements Metrics {
  readonly registry = new Registry()
  readonly #counters = new Map<MetricName, Counter<string>>()
  readonly #collectors = new Map<MetricName, Set<() => readonly Sample<MetricName>[]>>()

  constructor() {
    for (const [name, spec] of Object.entries(METRICS) as [MetricName, (typeof METRICS)[MetricName]][]) {
      const collectors = new Set<() => readonly Sample<MetricName>[]>()
      this.#collectors.set(name, collectors)
      const labelNames = [...spec.labels]
      // A collected metric is rebuilt from its collectors at every scrape; a counter that is only incremented is not.
      const collect = function (this: Counter<string> | Gauge<string>) {
        if (collectors.size === 0) return
        this.reset()
        for (const read of collectors) {
          for (const sample of read())
            (this as Gauge<string>).inc(sample.labels as Record<string, string>, sample.value)
        }
      }
      if (spec.type === 'counter') {
        this.#counters.set(
          name,
          new Counter({ name, help: spec.help, labelNames, registers: [this.registry], collect }),
        )
      } else {
        new Gauge({ name, help: spec.help, labelNames, registers: [this.registry], collect })
      }
    }
  }

  /** libp2p's `metrics` option: its own counters, and prom-client's default ones, in this node's registry. */
  libp2pMetrics(statfsLocation?: string) {
    return prometheusMetrics({
      registry: this.registry,
      // The package keeps one process-wide table of libp2p's metric objects; it is cleared here (the default) so that
      // this node's libp2p registers fresh ones in this node's registry rather than reuse another node's.
      ...(statfsLocation != null ? { statfsLocation } : {}),
    })
  }

  increment<N extends CounterName>(name: N, labels: LabelsOf<N>, by = 1): void {
    this.#counters.get(name)?.inc(labels as Record<string, string>, by)
  }

  collect<N extends MetricName>(name: N, read: () => readonly Sample<N>[]): () => void {
    const collectors = this.#collectors.get(name)!
    const reader = read as () => readonly Sample<MetricName>[]
    collectors.add(reader)
    return () => {
      collectors.delete(reader)
    }
  }

  /** The exposition text a scrape receives. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
