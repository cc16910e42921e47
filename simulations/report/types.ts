import type { GossipReport } from '../gossip-tracker.ts'
import type { TimelinePoint } from '../metrics.ts'

/** One invariant or expectation of a run, with what was measured. */
export interface Check {
  name: string
  ok: boolean
  detail: string
}

/** Everything a run measured: written as metrics.json and drawn by the HTML report. */
export interface RunMetrics {
  scenario: string
  description: string
  seed: number
  /** SHA-256 over the planned events: equal for equal scenario and seed. */
  planHash: string
  /** Planned events by kind. */
  plan: Record<string, number>
  durationMs: number
  drainMs: number
  /** How much longer than `drainMs` the run waited for gossip still arriving (0: none was outstanding). */
  drainExtendedMs: number
  nodes: {
    total: number
    honest: number
    /** Up at the end of the run. */
    online: number
    byKind: Record<string, number>
    byGroup: Record<string, number>
    overlayEdges: number
  }
  setup: {
    startMs: number
    meshMs: number
    overlayComponents: number
    /** Honest nodes (at most 1 %) still without a gossip mesh peer when the mesh wait ended. */
    unmeshed: string[]
    startupEventLoopMs: { p50: number; p99: number; max: number; mean: number }
  }
  gossip: GossipReport
  eclipse: {
    victim: string
    messagesReceived: number
    connections: number
    honestConnections: number
    attackerConnections: number
  } | null
  market: unknown
  system: {
    rssBytes: number
    peakRssBytes: number
    rssPerNodeMb: number
    peakRssPerNodeMb: number
    eventLoopMs: { p50: number; p99: number; max: number; mean: number }
    cpu: { cpuMs: number; wallMs: number; nodeSeconds: number; coreShare: number }
    /** The link fabric: most chunks in flight at once, and how far behind schedule a delivery ran (overload). */
    fabric: { maxChunks: number; maxLagMs: number }
    cpus: number
    /** The machine's 1, 5 and 15 minute load averages at the end (other work on a shared machine shows here). */
    loadAverage: number[]
    node: string
  }
  timeline: TimelinePoint[]
  checks: Check[]
  ok: boolean
}
