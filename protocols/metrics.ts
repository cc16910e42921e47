/**
 * Metrics as a component, like the clock. The node injects a `Metrics` that feeds its Prometheus endpoint when
 * the operator turned one on, and `noMetrics` otherwise; the topic bus, the segments service and the roles only
 * call the two methods below, so that what they count stays one line where it happens and the exposition lives in
 * `node/metrics.ts`. Every metric is named here once, with its type, help and label names: a name ends in its unit
 * (`_total` for counts, `_bytes`, `_seconds`), and no part of the code invents one of its own.
 */

export const METRICS = {
  consort_gossip_messages_total: {
    type: 'counter',
    help: 'Gossip messages validated by the topic bus, by topic, verdict (accept, ignore, reject) and refusal code',
    labels: ['topic', 'verdict', 'code'],
  },
  consort_gossip_dropped_total: {
    type: 'counter',
    help: 'Gossip messages accepted and then dropped from a full delivery queue before any subscriber saw them, by topic',
    labels: ['topic'],
  },
  consort_segment_fetches_total: {
    type: 'counter',
    help: 'Multi-source segment fetches finished, by outcome (done, failed)',
    labels: ['outcome'],
  },
  consort_segment_fetch_bytes_total: {
    type: 'counter',
    help: 'Block bytes fetched, by how the serving peer was found (given, connected, dht)',
    labels: ['source'],
  },
  consort_segment_fetch_wasted_bytes_total: {
    type: 'counter',
    help: 'Block bytes received and thrown away: duplicates of blocks already in, and blocks that failed their CID',
    labels: ['reason'],
  },
  consort_segment_cached_blocks_total: {
    type: 'counter',
    help: 'Blocks a fetch found already in the local blockstore',
    labels: [],
  },
  consort_purchases_total: {
    type: 'counter',
    help: 'Purchases a retailer finished, by outcome (licensed, voided, refunded, refused before any money was held)',
    labels: ['outcome'],
  },
  consort_usage_reports_total: {
    type: 'counter',
    help: 'Usage reports a clearinghouse answered, by status (settled, held, duplicate, refused, busy)',
    labels: ['status'],
  },
  consort_ledger_transfers_total: {
    type: 'counter',
    help: 'Ledger transfers committed by this process (pending, posted, voided, expired, single-phase)',
    labels: [],
  },
  consort_queue_depth_items: {
    type: 'gauge',
    help: 'Work waiting in a bounded queue of this node, by queue',
    labels: ['queue'],
  },
  consort_node_info: {
    type: 'gauge',
    help: 'Always 1: the node peer id, network and roles as labels',
    labels: ['peer_id', 'network', 'roles'],
  },
} as const

export type MetricName = keyof typeof METRICS
export type CounterName = { [N in MetricName]: (typeof METRICS)[N]['type'] extends 'counter' ? N : never }[MetricName]
export type LabelsOf<N extends MetricName> = { readonly [L in (typeof METRICS)[N]['labels'][number]]: string }

/** One sample a collector reads when the endpoint is scraped. */
export interface Sample<N extends MetricName> {
  labels: LabelsOf<N>
  value: number
}

export interface Metrics {
  /** Add `by` (default 1) to a counter. */
  increment<N extends CounterName>(name: N, labels: LabelsOf<N>, by?: number): void
  /**
   * Read a value only when the endpoint is scraped (queue depths, totals another object keeps). Several
   * collectors may feed one metric; their samples with the same labels add up. Returns a function that stops it.
   */
  collect<N extends MetricName>(name: N, read: () => readonly Sample<N>[]): () => void
}

/** What runs when the operator asked for no metrics: nothing. */
export const noMetrics: Metrics = {
  increment: () => {},
  collect: () => () => {},
}
