import type { CatchUpReport, GossipReport } from '../gossip-tracker.ts'
import type { MachinePoint, MachineSummary, TimelinePoint } from '../metrics.ts'

/** One invariant or expectation of a run, with what was measured. */
export interface Check {
  name: string
  ok: boolean
  detail: string
}

/**
 * Everything a run measured: written as metrics.json and drawn by the HTML report. Every figure follows from the
 * scenario, the seed and the code: two runs give the same bytes (what the machine spent is in `RunMachine`).
 */
export interface RunMetrics {
  scenario: string
  description: string
  seed: number
  /**
   * SHA-256 over the whole plan: the scenario as run (defaults filled in), the seed, every node with its keys and
   * link settings, the overlay, and every planned event with its time. Equal for equal scenario and seed.
   */
  planHash: string
  /** The command that runs this scenario and seed again (from the project's folder). */
  reproduce: string
  /**
   * How time passed: always the virtual clock; `cpu` is the scenario's CPU cost model, or null when CPU work takes
   * no simulated time.
   */
  timeModel: { clock: 'virtual'; cpu: { perChunkUs: number; perKiBUs: number } | null }
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
  }
  gossip: GossipReport
  /** Records nodes missed while cut off or down, and how long after coming back they had them, by record type. */
  catchUp: CatchUpReport
  eclipse: {
    victim: string
    messagesReceived: number
    connections: number
    honestConnections: number
    attackerConnections: number
  } | null
  market: unknown
  /** The link fabric: most chunks in flight at once. */
  fabric: { maxChunksInFlight: number; connectionsOpened: number }
  timeline: TimelinePoint[]
  /** Faults and phases of the run, for the charts' markers (also `events.csv`). */
  events: Array<{ t: number; kind: string; detail: string }>
  checks: Check[]
  ok: boolean
}

/** What a run cost the machine that ran it (`system.json`): wall time, CPU, memory, event-loop blocking, load. */
export interface RunMachine extends MachineSummary {
  timeline: MachinePoint[]
  /** Simulated milliseconds the run covered, callbacks the virtual world ran, and turns it waited on real work. */
  virtualMs?: number
  events?: number
  realWaits?: number
}
