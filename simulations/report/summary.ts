import type { RunMachine, RunMetrics } from './types.ts'

/** The rows of the summary a run prints: figure, value. */
export function summaryRows(m: RunMetrics): Array<[string, string]> {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`
  const rows: Array<[string, string]> = [
    ['scenario', `${m.scenario} (seed ${m.seed})`],
    [
      'plan',
      `${
        Object.entries(m.plan)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ') || 'empty'
      } — sha256 ${m.planHash.slice(0, 16)}…`,
    ],
    [
      'time',
      m.timeModel.cpu == null
        ? 'virtual; CPU work takes no simulated time'
        : `virtual; CPU cost model: ${m.timeModel.cpu.perChunkUs} µs per chunk + ${m.timeModel.cpu.perKiBUs} µs per KiB received`,
    ],
    [
      'nodes',
      `${m.nodes.total} (${Object.entries(m.nodes.byKind)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}), ${m.nodes.overlayEdges} overlay links`,
    ],
    [
      'start-up',
      `${(m.setup.startMs / 1000).toFixed(1)} s to start and connect, mesh in ${(m.setup.meshMs / 1000).toFixed(1)} s`,
    ],
    [
      'gossip reliability',
      `${pct(m.gossip.reliability)} of (message, honest node) pairs over ${m.gossip.messages} honest message(s), every honest node up and following the topic counted; min reach ${pct(m.gossip.minReach)}`,
    ],
    [
      'reachable / not',
      `${pct(m.gossip.reachable.reliability)} of the ${m.gossip.reachable.pairs} pair(s) reachable from the publisher at publish time; ${m.gossip.unreachable.pairs} pair(s) unreachable then (partition, no path), ${m.gossip.unreachable.deliveredLater} of them delivered later`,
    ],
    [
      'gossip latency',
      `p50 ${m.gossip.latencyMs.p50} ms, p99 ${m.gossip.latencyMs.p99} ms, max ${m.gossip.latencyMs.max} ms`,
    ],
    ['duplicates', `${m.gossip.duplicatesPerMessage} per message (${m.gossip.duplicatesPerDelivery} per delivery)`],
  ]
  if (m.drainExtendedMs > 0)
    rows.push([
      'drain',
      `${m.drainMs} ms, then ${m.drainExtendedMs} ms more while gossip deliveries were still arriving`,
    ])
  if (m.setup.unmeshed.length > 0)
    rows.push(['without a mesh at start', `${m.setup.unmeshed.join(', ')} (still expected to receive every message)`])
  if (m.gossip.transition.messages > 0)
    rows.push([
      'right after changes',
      `${pct(m.gossip.transition.reliability)} over ${m.gossip.transition.messages} message(s) published within 3 s of a heal or a rejoin (counted above too)`,
    ])
  if (m.gossip.publishedWithoutMesh > 0)
    rows.push([
      'published without mesh',
      `${m.gossip.publishedWithoutMesh} honest message(s) (their publisher had no mesh peer)`,
    ])
  if (m.gossip.excusedByChurn > 0 || m.gossip.cutInFlight > 0)
    rows.push([
      'churn and cuts',
      `${m.gossip.excusedByChurn} pair(s) not counted (the node went down before the message could reach it); ${m.gossip.cutInFlight} counted pair(s) a partition separated while the message spread`,
    ])
  if (m.catchUp.pairs > 0)
    rows.push([
      'catch-up',
      `${m.catchUp.caughtUp} of ${m.catchUp.pairs} record(s) missed while away reached their node after it came back; ${Object.entries(
        m.catchUp.byType,
      )
        .map(([type, t]) => `${type.replace('consort/', '')} ${t.caughtUp}/${t.pairs}, p99 ${t.p99 ?? '-'} ms`)
        .join('; ')}`,
    ])
  if (m.gossip.adversarial.published > 0)
    rows.push([
      'adversarial messages',
      `${m.gossip.adversarial.published} published, ${m.gossip.adversarial.acceptedByHonest} accepted by honest nodes`,
    ])
  const refusals = Object.entries(m.gossip.refusals)
  if (refusals.length > 0)
    rows.push([
      'refused by honest nodes',
      refusals
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => `${code} ${n}`)
        .join(', '),
    ])
  if (m.eclipse != null)
    rows.push([
      'eclipse victim',
      `${m.eclipse.victim}: ${m.eclipse.messagesReceived} message(s) received; ${m.eclipse.honestConnections} honest / ${m.eclipse.attackerConnections} attacker connection(s)`,
    ])
  const market = m.market as { summary?: Array<[string, string]> } | null
  if (market?.summary != null) rows.push(...market.summary)
  rows.push(['link fabric', `at most ${m.fabric.maxChunksInFlight} chunk(s) in flight at once`])
  for (const c of m.checks) rows.push([`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}`, c.detail])
  return rows
}

/** The summary as aligned text. */
export function summaryText(m: RunMetrics): string {
  const rows = summaryRows(m)
  const width = Math.max(...rows.map(([k]) => k.length))
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`)
  lines.push('', m.ok ? 'PASSED' : `FAILED — rerun with --seed ${m.seed} to reproduce the same plan`)
  return lines.join('\n')
}

/** What the run cost this machine, as lines (printed after the summary; not part of the run's results). */
export function machineText(m: RunMachine, nodes: number): string {
  const rows: Array<[string, string]> = [
    [
      'wall time',
      `${(m.wallMs / 1000).toFixed(1)} s, CPU ${(m.cpuMs / 1000).toFixed(1)} s (load average ${m.loadAverage.map((x) => x.toFixed(1)).join(' ')} on ${m.cpus} cpus)`,
    ],
    [
      'memory',
      `peak RSS ${(m.peakRssBytes / 1e6).toFixed(0)} MB for ${nodes} nodes (${m.peakRssPerNodeMb} MB per node)`,
    ],
    ['event loop', `blocked p50 ${m.eventLoopMs.p50} ms, p99 ${m.eventLoopMs.p99} ms, max ${m.eventLoopMs.max} ms`],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}
