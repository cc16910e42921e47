import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { type Clock, systemClock } from '../protocols/clock.ts'
import { signRecord } from '../protocols/records/envelope.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import { topicString } from '../protocols/topics/names.ts'
import { junkMessage } from './adversaries/junk.ts'
import { Cluster, type NodeKind, type SimNode, type SimNodeSpec } from './cluster.ts'
import { SimulationSetupError } from './errors.ts'
import { draw } from './fabric/distributions.ts'
import { Fabric } from './fabric/fabric.ts'
import { GossipTracker } from './gossip-tracker.ts'
import { MachineMonitor, Timeline } from './metrics.ts'
import { Plan } from './plan.ts'
import { mapRows, seconds, type Table } from './report/tables.ts'
import type { Check, RunMachine, RunMetrics } from './report/types.ts'
import { between, pick, poissonTimes, shuffled, stream } from './rng.ts'
import { type GroupSpec, SCENARIO_DIR, type Scenario } from './scenario.ts'
import { buildTopology, components } from './topology.ts'
import { simulate, wallClockNow } from './virtual-time/world.ts'
import { GossipWorkload } from './workloads/gossip.ts'
import { MarketWorkload } from './workloads/market.ts'
import { PurchaseWorkload } from './workloads/purchases.ts'
import { certificationOf, offerBody, placeholderRecordCid, simIsrc } from './workloads/records.ts'

const log = logger('consort:sim:runner')

/** Largest chunk a simulated connection puts on the wire at once (a socket write of 64 KiB). */
export const MAX_CHUNK_BYTES = 64 * 1024
/** Dials in flight at once while the overlay is built (each is a Noise handshake and an identify exchange). */
export const MAX_CONCURRENT_DIALS = 16
/**
 * Start-up dials that fail are made again this many rounds. libp2p lets at most 10 inbound connections be in their
 * handshake at once on a node (`maxIncomingPendingConnections`) and resets the rest: a batch of nodes dialling the
 * anchors together lost most of those links (236 of 300 in the first 100 nodes of `market-1000`), and nothing dialled
 * them again, where a real node's bootstrap list would. `DIALS_PER_TARGET` now keeps those resets away; a dial can
 * still fail to a node that is busy with connections of its own making.
 */
export const OVERLAY_REDIAL_ROUNDS = 5
/**
 * Dials in flight at once towards one node: below libp2p's 10 pending inbound handshakes, so a batch dialling the
 * same anchors queues at each anchor instead of being reset, while dials to other nodes go on beside them.
 */
export const DIALS_PER_TARGET = 8
/** Plan steps running at once; the scheduler waits for one to finish beyond this (bounded work in flight). */
export const MAX_IN_FLIGHT_STEPS = 2000
/** While waiting for the mesh, nodes still without one re-dial their overlay links this often. */
export const OVERLAY_REPAIR_MS = 5000
/** During the run, nodes left without any connection re-dial their overlay links this often. */
export const OVERLAY_WATCH_MS = 5000
/**
 * After the drain, while honest messages are still on their way to nodes that are up and deliveries keep arriving,
 * the run waits longer, at most this much: on an overloaded machine the fabric runs seconds behind schedule, and a
 * fixed window would count late deliveries as lost (decision 0806).
 */
export const MAX_DRAIN_EXTENSION_MS = 60_000
/** The drain extension ends when no outstanding delivery arrived for this long. */
export const DRAIN_STALL_MS = 5000
/** How long a gossip message has to reach a node before that node's departure excuses a miss. */
export const CHURN_GRACE_MS = 10_000
/** Virtual time 0 of every run is this wall-clock time (what `Date.now()` answers at the start). */
export const SIM_EPOCH_MS = Date.UTC(2026, 10, 1)

/** Roles whose nodes a churn fault leaves alone unless the scenario names their group. */
const SERVICE_ROLES: readonly RoleName[] = ['registration', 'reference', 'clearinghouse', 'production', 'retailer']

export type SimProgress =
  | { phase: 'plan'; nodes: number; events: number; planHash: string; seed: number }
  | {
      phase: 'starting'
      started: number
      total: number
      /** Simulated time since the first node started. */
      simulatedMs: number
      /** Connections the fabric opened so far, and those open now (a connection counted once, not per end). */
      connectionsOpened: number
      connectionsOpen: number
    }
  | { phase: 'mesh'; waitedMs: number }
  /** One of the market's long steps (set-up or drain): how many of how many done, at what simulated time (since the run's start). */
  | { phase: 'market'; step: string; done: number; total: number; simulatedMs: number }
  | { phase: 'running'; t: number; durationMs: number; done: number; events: number }
  | { phase: 'draining'; drainMs: number }
  | { phase: 'fault'; t: number; kind: FaultEventKind; label: string }
  | { phase: 'stopping' }

/** What changed the network during a run (the charts' markers, `events.csv`). */
export type FaultEventKind = 'partition' | 'heal' | 'kill' | 'restart' | 'leave' | 'rejoin'

/** A marker on the run's timeline: a fault, or a phase of the run starting. */
export interface RunEvent {
  /** Seconds since the workload started. */
  t: number
  kind: FaultEventKind | 'workload' | 'drain'
  detail: string
}

export interface RunOptions {
  seed?: number
  /** The scenario file (a shipped scenario's name is used in the reproduce command; other paths are not). */
  source?: string
  onProgress?: (event: SimProgress) => void
  /**
   * Called after the drain, before anything is measured or checked, with the nodes still running: tests use it to
   * check the settlement invariants themselves and then to break one on purpose (the run must then fail).
   */
  beforeChecks?: (run: { cluster: Cluster; settlementChecks(): Promise<Check[]> }) => Promise<void>
}

export interface RunResult {
  metrics: RunMetrics
  /** The raw traces: deliveries, messages, fetches, purchases, plays, nodes per interval, events, timeline. */
  tables: Table[]
  /** What the run cost this machine (wall time, CPU, memory): not part of the results, which do not depend on it. */
  machine: RunMachine
  /** Invariants and expectations that failed (empty when the run passed). */
  failures: string[]
}

/**
 * Run one scenario: plan it from the seed, bring up the network, run the plan, drain, measure, check every
 * invariant over the whole network, and stop everything. Call it inside a virtual world (`simulate()` in
 * `virtual-time/world.ts`, or the `run-process.ts` entry): every timer and clock then follows the simulation, and
 * the same scenario, seed and code give the same metrics on any machine.
 */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const seed = options.seed ?? scenario.seed
  const events: Array<{ at: number; kind: RunEvent['kind']; detail: string }> = []
  const progress = (event: SimProgress) => {
    if (event.phase === 'fault') events.push({ at: performance.now(), kind: event.kind, detail: event.label })
    options.onProgress?.(event)
  }
  // Every node reads the process's clock, which the virtual world owns.
  const clock: Clock = systemClock
  const specs = nodeSpecs(scenario)
  if (scenario.workload.market != null) await PurchaseWorkload.prepare(specs, seed)
  const honestCount = specs.filter((s) => s.kind === 'honest').length
  const fabric = new Fabric({
    coreLatency: coreLatencies(scenario, seed),
    sendBufferBytes: scenario.links.sendBufferKiB * 1024,
    minRtoMs: scenario.links.minRtoMs,
    maxChunkBytes: MAX_CHUNK_BYTES,
    cpu: scenario.cpu,
    seed: `${seed}`,
  })
  const cluster = await Cluster.create({
    scenario,
    seed,
    clock,
    keyRandom: stream(seed, 'keys'),
    fabric,
    specs,
    accessLatency: (index, spec) => draw(spec.link.accessLatencyMs, () => stream(seed, `access/${index}`).float()),
  })
  let origin = performance.now()
  let lastDelivered = 0
  const machine = new MachineMonitor(wallClockNow)
  const sampler = new Timeline(
    () => cluster.online().length,
    () => {
      const delivered = fabric.deliveredBytes
      let connections = 0
      for (const n of cluster.nodes)
        if (n.node != null && n.online) connections += n.node.libp2p.getConnections().length
      const gauges = {
        connections,
        'fabric.inFlight': fabric.inFlight,
        'fabric.kB': Math.round((delivered - lastDelivered) / 1000),
      }
      lastDelivered = delivered
      return gauges
    },
  )
  const tracker = new GossipTracker(
    cluster,
    scenario.measureTopics,
    (name, n) => sampler.add(name, n),
    () => origin,
    (a, b) => fabric.blocked(a, b),
  )

  // The overlay is the honest nodes' (they find each other through their bootstrap lists and the DHT); every
  // adversary but the eclipse attackers then dials `adversaryDegree` random nodes of the whole network, as an
  // attacker joining a network would. Eclipse attackers dial only their victim.
  const overlay = cluster.nodes.filter((n) => n.honest)
  const overlayEdges = buildTopology(scenario.topology, overlay.length, stream(seed, 'topology'))
  const edges = overlayEdges.map(([a, b]) => [overlay[a]!.index, overlay[b]!.index] as const)
  const bootstrap = overlay.filter((n) => scenario.bootstrapGroups.includes(n.spec.group))
  const seen = new Set(edges.map(([a, b]) => `${a},${b}`))
  for (const sim of overlay) {
    for (const anchor of bootstrap) {
      if (anchor === sim) continue
      const [a, b] = sim.index < anchor.index ? [sim.index, anchor.index] : [anchor.index, sim.index]
      if (!seen.has(`${a},${b}`)) edges.push([a, b] as const)
      seen.add(`${a},${b}`)
    }
  }
  const joinRandom = stream(seed, 'topology/adversaries')
  const reachable = cluster.nodes.filter((n) => n.spec.kind !== 'eclipser')
  for (const sim of reachable) {
    if (sim.honest) continue
    const targets = new Set<number>()
    while (targets.size < Math.min(scenario.adversaryDegree, reachable.length - 1)) {
      const other = pick(joinRandom, reachable)
      if (other !== sim) targets.add(other.index)
    }
    // Corrupt seeders are delivery nodes that want to be found: they join through the network record's anchors as
    // any delivery node does. Without a DHT server among their random peers their routing table stays empty, and
    // every announcement waits out its time-out (60 s each, one root after another, while the market's set-up waits).
    if (sim.spec.kind === 'corrupt-seeder') for (const anchor of bootstrap) targets.add(anchor.index)
    for (const t of targets) edges.push(t < sim.index ? ([t, sim.index] as const) : ([sim.index, t] as const))
  }
  const neighbours = new Map<number, number[]>()
  for (const [a, b] of edges) {
    neighbours.set(a, [...(neighbours.get(a) ?? []), b])
    neighbours.set(b, [...(neighbours.get(b) ?? []), a])
  }
  const peersByIndex = (i: number) => cluster.nodes[i]!
  /**
   * A node whose gossipsub never got its own stream to a connected peer (the stream negotiation timed out on a busy
   * machine) cannot mesh with it until the connection is opened again: hang those up, then re-dial the overlay.
   */
  const repairMesh = async (sim: SimNode): Promise<void> => {
    if (!sim.online) return
    const pubsub = (sim.started.libp2p.services as { pubsub: PubSubInternals }).pubsub
    for (const other of (neighbours.get(sim.index) ?? []).map(peersByIndex)) {
      const connected = sim.started.libp2p.getConnections().find((c) => c.remotePeer.toString() === other.peerId)
      if (connected != null && pubsub.streamsOutbound?.has(other.peerId) === false) {
        sampler.add('overlay.kicked')
        await connected.close().catch(() => {})
      }
    }
    await redialNeighbours(sim)
  }
  const redialNeighbours = async (sim: SimNode): Promise<void> => {
    if (!sim.online) return
    await dialAll(
      cluster,
      (neighbours.get(sim.index) ?? []).map((o) => [sim.index, o] as const),
    )
  }
  const market = scenario.workload.market != null ? new MarketWorkload(scenario, cluster, seed, clock, sampler) : null
  if (market != null)
    market.progress.listener = (step, done, total) =>
      progress({ phase: 'market', step, done, total, simulatedMs: Math.round(performance.now()) })
  const plan = buildPlan(scenario, seed, cluster, clock, fabric, tracker, neighbours, market, progress)
  plan.describe('scenario', scenario)
  plan.describe('seed', seed)
  plan.describe(
    'nodes',
    cluster.nodes.map((n) => [n.name, n.spec.kind, n.spec.roles, n.peerId, n.spec.link]),
  )
  plan.describe('overlay', edges)
  const planHash = plan.hash()
  progress({ phase: 'plan', nodes: cluster.nodes.length, events: plan.size, planHash, seed })

  const setup = {
    startMs: 0,
    meshMs: 0,
    overlayComponents: components(overlay.length, overlayEdges),
    unmeshed: [] as string[],
  }
  const failures: string[] = []
  let watch: ReturnType<typeof setInterval> | null = null
  // Once a virtual second: the run's timeline (deterministic) and what the machine spent on it (not).
  const sampleSecond = () => {
    const t = (performance.now() - origin) / 1000
    sampler.sample(t)
    machine.sample(t)
  }
  let sampling: ReturnType<typeof setInterval> | null = null
  // Every nodeIntervalMs: one row per node (nodes.csv).
  const nodeRows: NodeRow[] = []
  const lastTraffic = new Map<number, { sent: number; received: number; retransmitted: number }>()
  const measured = scenario.measureTopics.map((t) => topicString(cluster.network.name, t))
  const sampleNodes = () => {
    const at = performance.now()
    for (const sim of cluster.nodes) {
      const traffic = fabric.traffic(sim.peerId)
      const last = lastTraffic.get(sim.index) ?? { sent: 0, received: 0, retransmitted: 0 }
      lastTraffic.set(sim.index, {
        sent: traffic.sentBytes,
        received: traffic.receivedBytes,
        retransmitted: traffic.retransmitted,
      })
      const up = sim.online
      let mesh = 0
      if (up) {
        const pubsub = (sim.started.libp2p.services as { pubsub: PubSubInternals }).pubsub
        for (const topic of measured) mesh += pubsub.getMeshPeers(topic).length
      }
      nodeRows.push([
        at,
        sim.index,
        up,
        up ? sim.started.libp2p.getConnections().length : 0,
        mesh,
        traffic.sentBytes - last.sent,
        traffic.receivedBytes - last.received,
        traffic.retransmitted - last.retransmitted,
      ])
    }
  }
  let nodeSampling: ReturnType<typeof setInterval> | null = null
  let stepErrors = 0
  const stepErrorSamples: string[] = []
  try {
    sampling = setInterval(sampleSecond, 1000)
    nodeSampling = setInterval(sampleNodes, scenario.output.nodeIntervalMs)
    // Start in batches, dialling each node's overlay edges as soon as both ends are up.
    const t0 = performance.now()
    const dialQueue: Array<readonly [number, number]> = []
    for (let i = 0; i < cluster.nodes.length; i += scenario.start.batchSize) {
      const batch = cluster.nodes.slice(i, i + scenario.start.batchSize)
      await Promise.all(
        batch.map(async (sim) => {
          await cluster.start(sim)
          tracker.attach(sim)
          adversaryAttach(sim)
        }),
      )
      for (const sim of batch)
        for (const other of neighbours.get(sim.index) ?? [])
          if (other < sim.index || !batch.includes(cluster.nodes[other]!)) {
            if (cluster.nodes[other]!.online) dialQueue.push([sim.index, other])
          }
      const refused = await dialAll(cluster, dialQueue.splice(0), scenario.start.dialConcurrency)
      for (let round = 0; refused.length > 0 && round < OVERLAY_REDIAL_ROUNDS; round++) {
        const again = refused.splice(0).filter(([a, b]) => cluster.nodes[a]!.online && cluster.nodes[b]!.online)
        refused.push(...(await dialAll(cluster, again, scenario.start.dialConcurrency)))
      }
      progress({
        phase: 'starting',
        started: Math.min(i + batch.length, cluster.nodes.length),
        total: cluster.nodes.length,
        simulatedMs: Math.round(performance.now() - t0),
        connectionsOpened: fabric.connectionsOpened,
        connectionsOpen:
          cluster.nodes.reduce((n, sim) => n + (sim.online ? sim.started.libp2p.getConnections().length : 0), 0) / 2,
      })
      if (scenario.start.pauseMs > 0) await sleep(scenario.start.pauseMs)
    }
    setup.startMs = Math.round(performance.now() - t0)
    // Eclipse attackers connect to their victim only.
    for (const sim of cluster.nodes) {
      if (sim.spec.kind !== 'eclipser') continue
      const victim = eclipseVictim(scenario, cluster)
      if (victim != null) await cluster.dial(sim, victim, false)
    }
    const t1 = performance.now()
    setup.unmeshed = await waitForMesh(cluster, scenario, tracker, (sim) => repairMesh(sim))
    setup.meshMs = Math.round(performance.now() - t1)
    progress({ phase: 'mesh', waitedMs: setup.meshMs })
    if (market != null) await market.setup()
    if (scenario.start.settleMs > 0) await sleep(scenario.start.settleMs)

    // Run the plan: each step at its time after the workload's start.
    const newOrigin = performance.now()
    sampler.shift((newOrigin - origin) / 1000)
    origin = newOrigin
    events.push({ at: origin, kind: 'workload', detail: 'the workload starts' })
    const inFlight = new Set<Promise<void>>()
    let done = 0
    // An honest node left with no connection at all (dropped under load, or its neighbours churned) re-dials its
    // overlay links, as its bootstrap list would make it.
    watch = setInterval(() => {
      for (const sim of cluster.nodes) {
        if (sim.honest && sim.online && sim.started.libp2p.getConnections().length === 0) {
          sampler.add('overlay.redials')
          redialNeighbours(sim).catch(() => {})
        }
      }
    }, OVERLAY_WATCH_MS)
    const steps = plan.events
    let lastReport = 0
    for (const event of steps) {
      const wait = origin + event.t - performance.now()
      if (wait > 0) await sleep(wait)
      const step = event
        .run()
        .catch((err) => {
          stepErrors++
          if (stepErrorSamples.length < 20) stepErrorSamples.push(`${event.label}: ${(err as Error).message}`)
          log('step %s failed: %e', event.label, err)
        })
        .finally(() => {
          inFlight.delete(step)
          done++
        })
      inFlight.add(step)
      if (inFlight.size >= MAX_IN_FLIGHT_STEPS) await Promise.race(inFlight)
      if (event.t - lastReport >= 1000) {
        lastReport = event.t
        progress({ phase: 'running', t: event.t, durationMs: scenario.durationMs, done, events: steps.length })
      }
    }
    const tail = origin + scenario.durationMs - performance.now()
    if (tail > 0) await sleep(tail)
    progress({ phase: 'draining', drainMs: scenario.drainMs })
    events.push({ at: performance.now(), kind: 'drain', detail: 'the workload ends; the drain starts' })
    const drainUntil = performance.now() + scenario.drainMs
    await Promise.race([Promise.all(inFlight), sleep(scenario.drainMs)])
    if (market != null) await market.drain(Math.max(0, drainUntil - performance.now()))
    const rest = drainUntil - performance.now()
    if (rest > 0) await sleep(rest)
    const drainExtendedMs = await extendDrain(tracker)
    sampleSecond()
    if (options.beforeChecks != null)
      await options.beforeChecks({
        cluster,
        settlementChecks: async () => (market != null ? await market.settlementChecks() : []),
      })

    const gossip = tracker.report(CHURN_GRACE_MS)
    const marketReport = market != null ? await market.report() : null
    if (sampling != null) clearInterval(sampling)
    sampling = null
    if (nodeSampling != null) clearInterval(nodeSampling)
    nodeSampling = null
    sampleNodes()
    const online = cluster.online().length
    const checks: Check[] = []
    const expect = scenario.expect
    checks.push({
      name: 'gossip reliability',
      ok: gossip.reliability >= expect.gossipReliabilityMin,
      detail: `${(gossip.reliability * 100).toFixed(3)}% of (message, honest node) pairs delivered, every honest node up and following the topic counted (minimum ${(expect.gossipReliabilityMin * 100).toFixed(1)}%); ${gossip.unreachable.pairs} pair(s) unreachable at publish time, ${gossip.unreachable.deliveredLater} of them delivered later`,
    })
    if (expect.gossipReachableReliabilityMin != null)
      checks.push({
        name: 'gossip reliability (reachable)',
        ok: gossip.reachable.reliability >= expect.gossipReachableReliabilityMin,
        detail: `${(gossip.reachable.reliability * 100).toFixed(3)}% of the ${gossip.reachable.pairs} pair(s) reachable at publish time delivered (minimum ${(expect.gossipReachableReliabilityMin * 100).toFixed(1)}%); ${gossip.unreachable.pairs} unreachable, ${gossip.unreachable.deliveredLater} of them delivered later`,
      })
    const catchUp = tracker.catchUp()
    if (expect.catchUpMin != null)
      checks.push({
        name: 'catch-up',
        ok: catchUp.pairs > 0 && catchUp.caughtUp >= expect.catchUpMin * catchUp.pairs,
        detail: `${catchUp.caughtUp} of ${catchUp.pairs} record(s) nodes missed while cut off or down reached them after they came back (minimum ${(expect.catchUpMin * 100).toFixed(1)}%)`,
      })
    if (expect.catchUpP99MaxMs != null) {
      const limit = expect.catchUpP99MaxMs
      const slow = Object.values(catchUp.byType).filter((t) => (t.p99 ?? 0) > limit)
      checks.push({
        name: 'catch-up p99',
        ok: slow.length === 0,
        detail: `p99 from a node's return to its holding a record it missed, by record type: ${
          Object.entries(catchUp.byType)
            .map(([type, t]) => `${type} ${t.p99 ?? '-'} ms (${t.caughtUp}/${t.pairs} caught up)`)
            .join(', ') || 'none missed'
        } (at most ${limit} ms)`,
      })
    }
    if (expect.gossipLatencyP99MaxMs != null)
      checks.push({
        name: 'gossip latency p99',
        ok: gossip.latencyMs.p99 <= expect.gossipLatencyP99MaxMs,
        detail: `${gossip.latencyMs.p99} ms (at most ${expect.gossipLatencyP99MaxMs} ms)`,
      })
    if (expect.noJunkAccepted)
      checks.push({
        name: 'no junk accepted',
        ok: gossip.adversarial.acceptedByHonest === 0,
        detail: `${gossip.adversarial.acceptedByHonest} acceptance(s) of ${gossip.adversarial.published} adversarial message(s) by honest nodes`,
      })
    checks.push({
      name: 'plan steps ran',
      ok: stepErrors === 0,
      detail: stepErrors === 0 ? `${done} step(s)` : `${stepErrors} step(s) failed: ${stepErrorSamples.join(' | ')}`,
    })
    if (marketReport != null) checks.push(...marketReport.checks)
    for (const c of checks) if (!c.ok) failures.push(`${c.name}: ${c.detail}`)

    const metrics: RunMetrics = {
      scenario: scenario.name,
      description: scenario.description,
      seed,
      planHash,
      reproduce: reproduceCommand(scenario.name, seed, options.source),
      timeModel: { clock: 'virtual', cpu: scenario.cpu },
      plan: plan.counts(),
      durationMs: scenario.durationMs,
      drainMs: scenario.drainMs,
      drainExtendedMs,
      nodes: {
        total: cluster.nodes.length,
        honest: honestCount,
        online,
        byKind: countBy(cluster.nodes, (n) => n.spec.kind),
        byGroup: countBy(cluster.nodes, (n) => n.spec.group),
        overlayEdges: edges.length,
      },
      setup,
      gossip,
      catchUp,
      eclipse: eclipseReport(scenario, cluster, tracker),
      market: marketReport?.metrics ?? null,
      fabric: { maxChunksInFlight: fabric.maxInFlight, connectionsOpened: fabric.connectionsOpened },
      timeline: [...sampler.points],
      events: events.map((e) => ({ t: seconds(e.at, origin), kind: e.kind, detail: e.detail })),
      checks,
      ok: failures.length === 0,
    }
    const machineSummary = machine.summary(
      cluster.nodes.length,
      cpus().length,
      loadavg().map((x) => Math.round(x * 100) / 100),
    )
    const workloadStart = origin
    const names = cluster.nodes
    const tables: Table[] = [
      ...tracker.tables(workloadStart, CHURN_GRACE_MS),
      ...(market?.tables(workloadStart) ?? []),
      {
        name: 'nodes',
        row: `one node every ${scenario.output.nodeIntervalMs} ms: up or not, its connections and gossip mesh peers, the bytes it sent and received since the previous row`,
        columns: [
          't_s',
          'node',
          'group',
          'kind',
          'up',
          'connections',
          'mesh_peers',
          'sent_bytes',
          'received_bytes',
          'retransmitted_chunks',
        ],
        rows: () =>
          mapRows(nodeRows, ([at, index, up, connections, mesh, sent, received, retransmitted]) => {
            const n = names[index]!
            return [
              seconds(at, workloadStart),
              n.name,
              n.spec.group,
              n.spec.kind,
              up,
              connections,
              mesh,
              sent,
              received,
              retransmitted,
            ]
          }),
      },
      {
        name: 'events',
        row: 'one change to the network (partition, heal, kill, restart, leave, rejoin) or phase of the run',
        columns: ['t_s', 'kind', 'detail'],
        rows: () => mapRows(events, (e) => [seconds(e.at, workloadStart), e.kind, e.detail]),
      },
      {
        name: 'timeline',
        row: 'one simulated second of the whole run: nodes up, counters and gauges',
        columns: ['t_s', 'metric', 'value'],
        rows: function* () {
          for (const p of sampler.points) {
            yield [p.t, 'nodes.up', p.onlineNodes]
            for (const [k, v] of Object.entries(p.counters)) yield [p.t, k, v]
            for (const [k, v] of Object.entries(p.gauges)) yield [p.t, k, v]
          }
        },
      },
    ]
    return { metrics, failures, tables, machine: { ...machineSummary, timeline: [...machine.points] } }
  } finally {
    if (watch != null) clearInterval(watch)
    if (sampling != null) clearInterval(sampling)
    if (nodeSampling != null) clearInterval(nodeSampling)
    machine.stop()
    progress({ phase: 'stopping' })
    if (market != null) await market.close()
    await cluster.stopAll()
  }

  function adversaryAttach(sim: SimNode): void {
    if (sim.spec.kind === 'eclipser') {
      // An eclipse attacker follows the topics (to sit in its victim's mesh) and forwards nothing.
      const pubsub = (sim.started.libp2p.services as { pubsub: PubSubInternals }).pubsub
      for (const topic of scenario.measureTopics) {
        const name = topicString(cluster.network.name, topic)
        pubsub.topicValidators.set(name, () => 'ignore')
        pubsub.subscribe(name)
      }
    }
    const relay = scenario.adversaries.some((a) => a.kind === 'sybil-spam' && a.relay)
    if ((sim.spec.kind === 'sybil' && relay) || sim.spec.kind === 'forger' || sim.spec.kind === 'overpricer') {
      // Relaying attackers follow the topics, as a player would, so that they sit in honest meshes.
      const pubsub = (sim.started.libp2p.services as { pubsub: PubSubInternals }).pubsub
      for (const topic of scenario.measureTopics) pubsub.subscribe(topicString(cluster.network.name, topic))
    }
    market?.attach(sim)
  }
}

/** One sample of one node: when, which, up, connections, mesh peers, bytes sent/received, chunks retransmitted. */
type NodeRow = [number, number, boolean, number, number, number, number, number]

interface PubSubInternals {
  topicValidators: Map<string, () => 'accept' | 'ignore' | 'reject'>
  subscribe(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<unknown>
  getMeshPeers(topic: string): string[]
  getSubscribers(topic: string): unknown[]
  /** gossipsub's own stream to each peer (internal; absent in other implementations). */
  streamsOutbound?: Map<string, unknown>
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1
  return out
}

/**
 * Run a scenario in a virtual world of its own, installed for the run and removed after: what tests do in process.
 * (`run-process.ts` installs the world before loading anything, in a fresh process: that is what makes two runs
 * byte-identical; in a process that already ran other code the verdicts hold, byte equality is not promised.)
 */
export async function simulateScenario(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
  const seed = options.seed ?? scenario.seed
  const { value } = await simulate({ seed: `consort/sim/run/${seed}`, epochMs: SIM_EPOCH_MS }, () =>
    runScenario(scenario, options),
  )
  return value
}

/**
 * The command that runs a scenario and seed again. A shipped scenario is named; any other is the copy of the
 * scenario written beside the results (`scenario.json`), whose path only the reader knows.
 */
export function reproduceCommand(name: string, seed: number, source: string | undefined): string {
  const shipped = source == null || resolve(source) === resolve(SCENARIO_DIR, `${name}.json`)
  return shipped
    ? `npm run sim -- ${name} --seed ${seed}`
    : `npm run sim -- RESULTS/scenario.json --seed ${seed}   (RESULTS: this run's results folder)`
}

/** Every node of the run, honest groups first, then the adversaries the scenario adds. */
export function nodeSpecs(scenario: Scenario): SimNodeSpec[] {
  const specs: SimNodeSpec[] = []
  const publisherRoles = new Map<string, RoleName[]>()
  for (const g of scenario.workload.gossip) {
    const role: RoleName = g.topic === 'offers' ? 'retailer' : 'production'
    publisherRoles.set(g.publishers, [...(publisherRoles.get(g.publishers) ?? []), role])
  }
  const roleOptions: NonNullable<SimNodeSpec['roleOptions']> =
    scenario.workload.market != null ? MarketWorkload.roleOptions(scenario.workload.market) : {}
  // Worker threads would finish when the machine gets to them: a simulated clearinghouse verifies on its own thread.
  roleOptions.clearinghouse = { ...(roleOptions.clearinghouse ?? {}), verifyWorkers: 0 }
  // Likewise a simulated label packages on its own thread (AES awaited through the off-thread guard).
  roleOptions.production = { ...(roleOptions.production ?? {}), packagingWorkers: 0 }
  for (const g of scenario.groups) {
    const certRoles = [...new Set([...g.roles, ...(publisherRoles.get(g.name) ?? [])])]
    for (let i = 0; i < g.count; i++)
      specs.push({
        group: g.name,
        kind: 'honest',
        roles: [...g.roles],
        certRoles,
        dhtServer: g.dhtServer,
        persistent: g.persistent,
        link: groupLink(scenario, g),
        ...((g.maxConnections ?? scenario.libp2p.maxConnections) != null
          ? { maxConnections: g.maxConnections ?? scenario.libp2p.maxConnections }
          : {}),
        roleOptions,
      })
  }
  const honest = specs.length
  const adversary = (
    group: string,
    kind: NodeKind,
    count: number,
    certRoles: RoleName[],
    roles: RoleName[] = [],
    options: SimNodeSpec['roleOptions'] = {},
  ) => {
    for (let i = 0; i < count; i++)
      specs.push({
        group,
        kind,
        roles,
        roleOptions: options,
        certRoles,
        dhtServer: false,
        persistent: false,
        link: groupLink(scenario, null),
        ...(scenario.libp2p.maxConnections != null ? { maxConnections: scenario.libp2p.maxConnections } : {}),
      })
  }
  for (const a of scenario.adversaries) {
    switch (a.kind) {
      case 'sybil-spam':
        adversary('sybil', 'sybil', Math.round(a.perHonest * honest), ['player'])
        break
      case 'forged-offers':
        adversary('forger', 'forger', a.nodes, ['retailer'])
        break
      case 'overpriced-offers':
        adversary('overpricer', 'overpricer', a.nodes, ['retailer'])
        break
      case 'replay-usage':
        adversary('replayer', 'replayer', a.nodes, ['player'])
        break
      case 'hostile-buyers':
        // Plain certified nodes speaking the protocols as buyers, but the store wipers: the real player role.
        adversary('void-racer', 'void-racer', a.voidRacers, ['player'])
        adversary('play-inflater', 'play-inflater', a.playInflaters, ['player'])
        adversary('store-wiper', 'store-wiper', a.storeWipers, ['player'], ['player'])
        adversary('territory-liar', 'territory-liar', a.territoryLiars, ['player'])
        break
      case 'corrupt-seeders':
        // Real delivery nodes with the segments server's fault injection: every block they serve is corrupt.
        adversary('corrupt-seeder', 'corrupt-seeder', a.nodes, ['delivery'], ['delivery'], {
          delivery: { faultInjection: { corruptBlocks: true } },
        })
        break
      case 'eclipse':
        adversary('eclipser', 'eclipser', a.attackers, ['player'])
        break
    }
  }
  return specs
}

/** A node's link settings: its group's own, else the scenario's (adversaries take the scenario's). */
function groupLink(scenario: Scenario, group: GroupSpec | null): SimNodeSpec['link'] {
  const own = group?.links
  const pick = <T>(...values: Array<T | undefined>): T => values.find((v) => v !== undefined) as T
  return {
    uplinkMbps: pick(own?.uplinkMbps, group?.uplinkMbps, scenario.links.uplinkMbps),
    downlinkMbps: pick(own?.downlinkMbps, group?.downlinkMbps, scenario.links.downlinkMbps),
    accessLatencyMs: own?.accessLatencyMs ?? 0,
    jitterMs: own?.jitterMs !== undefined ? own.jitterMs : scenario.links.jitterMs,
    lossRate: own?.lossRate ?? scenario.links.lossRate,
    cpuFactor: group?.cpuFactor ?? 1,
  }
}

/**
 * Core one-way latency between two nodes (by index), drawn once per pair from the scenario's distribution and the
 * seed (symmetric). Kept for the pairs that talk, not as an n² matrix: 5,000 nodes would make that 200 MB.
 */
function coreLatencies(scenario: Scenario, seed: number): (a: number, b: number) => number {
  const dist = scenario.links.latencyMs
  const drawn = new Map<number, number>()
  if (typeof dist === 'number') return () => dist
  return (a, b) => {
    const lo = Math.min(a, b)
    const hi = Math.max(a, b)
    const key = lo * 1_000_003 + hi
    let value = drawn.get(key)
    if (value === undefined) {
      const random = stream(seed, `latency/${lo}/${hi}`)
      value = draw(dist, () => random.float())
      drawn.set(key, value)
    }
    return value
  }
}

/** Wait while outstanding gossip deliveries keep arriving (bounded); answers how long it waited. */
async function extendDrain(tracker: GossipTracker): Promise<number> {
  const start = performance.now()
  let outstanding = tracker.outstanding()
  let progressAt = start
  while (outstanding > 0 && performance.now() - start < MAX_DRAIN_EXTENSION_MS) {
    if (performance.now() - progressAt >= DRAIN_STALL_MS) break
    await sleep(250)
    const now = tracker.outstanding()
    if (now < outstanding) progressAt = performance.now()
    outstanding = now
  }
  return Math.round(performance.now() - start)
}

/** Dial every pair (a → b), `concurrency` at a time; answers the pairs whose dial failed. */
async function dialAll(
  cluster: Cluster,
  pairs: ReadonlyArray<readonly [number, number]>,
  concurrency = MAX_CONCURRENT_DIALS,
): Promise<Array<readonly [number, number]>> {
  const failed: Array<readonly [number, number]> = []
  // Honest peers keep each other; an adversary keeps its targets, who do not keep it.
  const ends = (pair: readonly [number, number]) => {
    const from = cluster.nodes[pair[0]]!
    const to = cluster.nodes[pair[1]]!
    const [dialer, target] = !from.honest || to.honest ? [from, to] : [to, from]
    return { dialer, target, mutual: from.honest && to.honest }
  }
  const waiting = [...pairs]
  const atTarget = new Map<number, number>()
  let running = 0
  await new Promise<void>((resolve) => {
    // Start, in the pairs' order, every dial whose target has room, up to `concurrency` in all.
    const pump = (): void => {
      for (let i = 0; i < waiting.length && running < concurrency; ) {
        const pair = waiting[i]!
        const { dialer, target, mutual } = ends(pair)
        const busy = atTarget.get(target.index) ?? 0
        if (busy >= DIALS_PER_TARGET) {
          i++
          continue
        }
        waiting.splice(i, 1)
        running++
        atTarget.set(target.index, busy + 1)
        void cluster.dial(dialer, target, mutual).then((ok) => {
          if (!ok) failed.push(pair)
          running--
          atTarget.set(target.index, atTarget.get(target.index)! - 1)
          pump()
        })
      }
      if (running === 0 && waiting.length === 0) resolve()
    }
    pump()
  })
  return failed
}

/** Wait until every honest node has a gossip mesh peer on every measured topic (bounded by the scenario). */
async function waitForMesh(
  cluster: Cluster,
  scenario: Scenario,
  tracker: GossipTracker,
  repair: (sim: SimNode) => Promise<void>,
): Promise<string[]> {
  const deadline = performance.now() + scenario.start.meshTimeoutMs
  const topics = scenario.measureTopics.map((t) => tracker.topicString(t))
  let nextRepair = performance.now() + OVERLAY_REPAIR_MS
  // A node counts once it has been seen with a mesh peer on a topic: meshes are rebuilt at every heartbeat, and
  // on a busy machine some node somewhere is always between two meshes.
  const meshed = new Set<string>()
  for (;;) {
    const lonely = cluster.nodes.filter((n) => {
      if (!n.honest || !n.online) return false
      const pubsub = (n.started.libp2p.services as { pubsub: PubSubInternals }).pubsub
      for (const t of topics) if (pubsub.getMeshPeers(t).length > 0) meshed.add(`${n.index} ${t}`)
      return topics.some((t) => !meshed.has(`${n.index} ${t}`))
    })
    if (lonely.length === 0) return []
    if (performance.now() > nextRepair) {
      // Nodes whose links dropped (libp2p's ping monitor closes late connections on a busy machine) dial again.
      nextRepair = performance.now() + OVERLAY_REPAIR_MS
      await Promise.all(lonely.map((sim) => repair(sim)))
    }
    if (performance.now() > deadline) {
      // A straggler or two do not stop the run: they stay expected receivers, so what they miss shows in the figures.
      const honest = cluster.nodes.filter((n) => n.honest && n.online).length
      if (lonely.length <= Math.max(1, Math.floor(honest / 100))) return lonely.map((n) => n.name)
      const byTopic = topics.map((t) => {
        const without = lonely.filter(
          (n) => (n.started.libp2p.services as { pubsub: PubSubInternals }).pubsub.getMeshPeers(t).length === 0,
        ).length
        return `${t}: ${without}`
      })
      const connections = lonely.reduce((sum, n) => sum + n.started.libp2p.getConnections().length, 0)
      throw new SimulationSetupError(
        `${lonely.length} honest node(s) have no gossip mesh peer after ${scenario.start.meshTimeoutMs} ms (e.g. ${lonely
          .slice(0, 5)
          .map((n) => n.name)
          .join(', ')}; without a mesh peer by topic: ${byTopic.join(', ')}; they hold ${connections} connection(s))`,
      )
    }
    await sleep(100)
  }
}

function eclipseVictim(scenario: Scenario, cluster: Cluster): SimNode | undefined {
  const spec = scenario.adversaries.find((a) => a.kind === 'eclipse')
  if (spec == null || spec.kind !== 'eclipse') return undefined
  return cluster.nodes.find((n) => n.honest && n.spec.group === spec.targetGroup)
}

function eclipseReport(scenario: Scenario, cluster: Cluster, tracker: GossipTracker) {
  const victim = eclipseVictim(scenario, cluster)
  if (victim == null) return null
  const received = tracker.arrivalsAt(victim.index).length
  const connections = victim.node?.libp2p.getConnections() ?? []
  const attackers = new Set(cluster.nodes.filter((n) => n.spec.kind === 'eclipser').map((n) => n.peerId))
  const honestPeers = connections.filter((c) => !attackers.has(c.remotePeer.toString())).length
  return {
    victim: victim.name,
    messagesReceived: received,
    connections: connections.length,
    honestConnections: honestPeers,
    attackerConnections: connections.length - honestPeers,
  }
}

/** The plan: the workload's steps, the faults and the attacks, each at a time drawn from the seed. */
function buildPlan(
  scenario: Scenario,
  seed: number,
  cluster: Cluster,
  clock: Clock,
  fabric: Fabric,
  tracker: GossipTracker,
  neighbours: ReadonlyMap<number, number[]>,
  market: MarketWorkload | null,
  progress: (event: SimProgress) => void,
): Plan {
  const plan = new Plan()
  const network = cluster.network.name
  const duration = scenario.durationMs
  const gossip = new GossipWorkload(network, cluster.network.reference.signer)
  const redial = async (sim: SimNode) => {
    const pairs = (neighbours.get(sim.index) ?? []).map((o) => [sim.index, o] as const)
    await dialAll(cluster, pairs)
  }

  // Gossip workload.
  for (const [w, spec] of scenario.workload.gossip.entries()) {
    const random = stream(seed, `gossip/${w}`)
    const publishers = cluster.nodes.filter((n) => n.honest && n.spec.group === spec.publishers)
    for (const t of poissonTimes(random, spec.ratePerSec, duration, Number.MAX_SAFE_INTEGER)) {
      const publisher = pick(random, publishers)
      plan.add(t, `publish ${spec.topic} from ${publisher.name}`, async () => {
        if (!publisher.online) return
        await gossip.publish(spec, publisher, clock.now())
      })
    }
  }
  market?.plan(plan)

  // Faults.
  for (const [f, fault] of scenario.faults.entries()) {
    const random = stream(seed, `fault/${f}`)
    switch (fault.kind) {
      case 'churn': {
        const groups =
          fault.groups ??
          scenario.groups.filter((g) => !g.roles.some((r) => SERVICE_ROLES.includes(r))).map((g) => g.name)
        const candidates = cluster.nodes.filter((n) => n.honest && groups.includes(n.spec.group))
        const leaving = shuffled(random, candidates).slice(0, Math.round(fault.fraction * candidates.length))
        for (const sim of leaving) {
          const at = between(random, fault.leaveAtMs.min, fault.leaveAtMs.max)
          const down = between(random, fault.downMs.min, fault.downMs.max)
          plan.add(at, `leave ${sim.name}`, async () => {
            progress({ phase: 'fault', t: at, kind: 'leave', label: `${sim.name} left` })
            await cluster.stop(sim)
          })
          if (at + down <= duration)
            plan.add(at + down, `rejoin ${sim.name}`, async () => {
              progress({ phase: 'fault', t: at + down, kind: 'rejoin', label: `${sim.name} rejoined` })
              await cluster.start(sim)
              tracker.attach(sim)
              market?.attach(sim)
              await redial(sim)
              tracker.noteTransition()
            })
        }
        break
      }
      case 'partition': {
        const pool = cluster.nodes.filter((n) => n.spec.kind !== 'eclipser')
        const minority =
          fault.minorityGroups != null
            ? pool.filter((n) => fault.minorityGroups!.includes(n.spec.group))
            : fault.minorityNodes != null
              ? pool.filter((n) => fault.minorityNodes!.includes(n.name))
              : shuffled(random, pool).slice(0, Math.round((fault.minority ?? 0) * pool.length))
        const sides = new Map(minority.map((n) => [n.peerId, 1]))
        const names = minority.map((n) => n.name)
        const shown =
          names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`
        plan.add(
          fault.atMs,
          `partition (${fault.mode}) ${minority.length} node(s) off: ${names.join(' ')}`,
          async () => {
            const across = fabric.partition(sides, fault.mode)
            tracker.notePartition(sides)
            progress({
              phase: 'fault',
              t: fault.atMs,
              kind: 'partition',
              label: `partition (${fault.mode}): ${shown} cut off, ${across} connection(s) across the cut`,
            })
          },
        )
        if (fault.healAtMs != null) {
          const healAt = fault.healAtMs
          plan.add(healAt, 'heal partition', async () => {
            fabric.heal()
            tracker.noteHeal()
            tracker.noteTransition()
            progress({ phase: 'fault', t: healAt, kind: 'heal', label: 'partition healed' })
            await Promise.all(minority.map((sim) => redial(sim)))
          })
        }
        break
      }
      case 'kill': {
        const sim = cluster.nodes.filter((n) => n.honest && n.spec.group === fault.group)[fault.index]!
        plan.add(fault.atMs, `kill ${sim.name}`, async () => {
          await cluster.crash(sim)
          progress({ phase: 'fault', t: fault.atMs, kind: 'kill', label: `killed ${sim.name}` })
        })
        if (fault.restartAtMs != null) {
          const at = fault.restartAtMs
          plan.add(at, `restart ${sim.name}`, async () => {
            await cluster.start(sim)
            tracker.attach(sim)
            market?.attach(sim)
            await redial(sim)
            tracker.noteTransition()
            progress({ phase: 'fault', t: at, kind: 'restart', label: `restarted ${sim.name}` })
          })
        }
        break
      }
    }
  }

  // Attacks.
  const messageCap = cluster.network.record.body.caps.messageBytes
  for (const [a, attack] of scenario.adversaries.entries()) {
    const random = stream(seed, `adversary/${a}`)
    switch (attack.kind) {
      case 'sybil-spam': {
        const sybils = cluster.nodes.filter((n) => n.spec.kind === 'sybil')
        let n = 0
        for (const sybil of sybils) {
          for (const t of poissonTimes(random, attack.ratePerSec, duration, Number.MAX_SAFE_INTEGER)) {
            const topic = pick(random, attack.topics)
            const junk = pick(random, attack.junk)
            const k = ++n
            const junkRandom = stream(seed, `junk/${a}/${k}`)
            plan.add(t, `spam ${junk} on ${topic} from ${sybil.name}`, async () => {
              if (!sybil.online) return
              const data = junkMessage(junk, topic, sybil, network, clock.now(), k, junkRandom, messageCap)
              await publishRaw(sybil, topicString(network, topic), data)
            })
          }
        }
        break
      }
      case 'forged-offers': {
        // A certified retailer that certifies its own offers: the certification's signer is no reference service.
        const forgers = cluster.nodes.filter((n) => n.spec.kind === 'forger')
        let n = 0
        for (const forger of forgers) {
          for (const t of poissonTimes(random, attack.ratePerSec, duration, Number.MAX_SAFE_INTEGER)) {
            const k = ++n
            plan.add(t, `forge offer from ${forger.name}`, async () => {
              if (!forger.online) return
              const now = clock.now()
              const offer = signRecord(
                'consort/offer',
                offerBody({
                  network,
                  now,
                  offerId: `forged-${forger.index}-${k}`,
                  content: `isrc:${simIsrc(700_000 + k)}`,
                  contract: placeholderRecordCid('sim-contract'),
                  priceMinor: 1n,
                }),
                forger.keys.signer,
              )
              const node = forger.started
              await node.topics.publish('offers', offer, [
                ...node.credentials.attachments(),
                certificationOf(offer, forger.keys.signer, now),
              ])
            })
          }
        }
        break
      }
      case 'overpriced-offers':
      case 'replay-usage':
      case 'hostile-buyers':
      case 'corrupt-seeders':
        if (market == null)
          throw new SimulationSetupError(`adversary ${attack.kind} needs the market workload (workload.market)`)
        market.planAttack(plan, attack, random)
        break
      case 'eclipse':
        break
    }
  }
  return plan
}

async function publishRaw(sim: SimNode, topic: string, data: Uint8Array): Promise<void> {
  const pubsub = (sim.started.libp2p.services as { pubsub: PubSubInternals }).pubsub
  await pubsub.publish(topic, data)
}
