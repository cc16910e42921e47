import assert from 'node:assert/strict'
import { PROVIDE_TIMEOUT_MS } from '../../../protocols/segments/announcer.ts'
import { simulateScenario } from '../../../simulations/runner.ts'
import { parseScenario } from '../../../simulations/scenario.ts'
import type { MarketMetrics } from '../../../simulations/workloads/market.ts'

/**
 * A corrupt seeder is a delivery node: it joins through the network record's anchors, as any delivery node does. With
 * only its random peers (here one, a listener: a DHT client, with seed 1) its DHT routing table stayed empty, every
 * announcement of what it seeded waited out its 60 s time-out, root after root, and the market's set-up waited for
 * them: 256 s of `market-faults`' set-up, 12 minutes once the hostile buyers joined it (and every node's timers ran
 * meanwhile). Seeding must take seconds, not time-outs.
 */
describe('simulations: a corrupt seeder joins through the anchors', function () {
  this.timeout(300_000)

  it('seeds and announces without waiting out a DHT time-out', async () => {
    const scenario = parseScenario({
      version: 1,
      name: 'corrupt-seeder-join',
      durationMs: 2000,
      drainMs: 2000,
      groups: [
        { name: 'label', count: 1, roles: ['production', 'delivery'] },
        { name: 'registrar', count: 1, roles: ['registration'] },
        { name: 'reference', count: 1, roles: ['reference'] },
        { name: 'retailer', count: 1, roles: ['retailer'] },
        { name: 'listener', count: 4, dhtServer: false },
      ],
      topology: { kind: 'random', degree: 2 },
      bootstrapGroups: ['reference', 'registrar'],
      adversaryDegree: 1,
      links: { latencyMs: { min: 2, max: 20 } },
      workload: { market: { releases: 1, tracksPerRelease: 1, trackBytes: 65536, fetchesPerSec: 0.5 } },
      adversaries: [{ kind: 'corrupt-seeders', nodes: 1 }],
    })
    const { metrics } = await simulateScenario(scenario, { seed: 1 })
    const market = metrics.market as MarketMetrics
    assert.equal(market.seeds.complete, 2, 'the label and the corrupt seeder seeded the release')
    // Under a second on nine nodes with these links; a time-out is tens of seconds (55 s before the fix).
    assert.ok(
      market.seeds.seedMs < PROVIDE_TIMEOUT_MS / 6,
      `seeding took ${market.seeds.seedMs} ms of simulated time (an announcement's time-out is ${PROVIDE_TIMEOUT_MS} ms)`,
    )
  })
})
