import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { ScenarioError } from '../../../simulations/errors.ts'
import { Distribution } from '../../../simulations/metrics.ts'
import { poissonTimes, stream } from '../../../simulations/rng.ts'
import { simulateScenario } from '../../../simulations/runner.ts'
import { loadScenario, parseScenario, SCENARIO_DIR } from '../../../simulations/scenario.ts'
import { buildTopology, components } from '../../../simulations/topology.ts'

const base = {
  version: 1,
  name: 'tiny',
  durationMs: 3000,
  drainMs: 3000,
  groups: [
    { name: 'retailer', count: 1 },
    { name: 'listener', count: 5, dhtServer: false },
  ],
  topology: { kind: 'ring', chords: 1 },
  links: { latencyMs: { min: 2, max: 10 } },
  start: { batchSize: 6, pauseMs: 0, meshTimeoutMs: 30_000, settleMs: 500 },
  workload: { gossip: [{ topic: 'offers', publishers: 'retailer', ratePerSec: 4 }] },
}

describe('simulations: scenarios, plans and the runner', function () {
  this.timeout(120_000)

  it('refuses a wrong scenario and names the field', () => {
    const cases: Array<[unknown, string]> = [
      [{ ...base, groups: [{ name: 'a', count: 0 }] }, 'scenario.groups.0.count'],
      [{ ...base, colour: 'blue' }, 'scenario'],
      [{ ...base, workload: { gossip: [{ topic: 'offers', publishers: 'nobody', ratePerSec: 1 }] } }, 'publishers'],
      [{ ...base, faults: [{ kind: 'partition', atMs: 10, healAtMs: 5, minority: 0.5 }] }, 'healAtMs'],
      [{ ...base, topology: { kind: 'small-world', neighbours: 3, rewire: 0.1 } }, 'neighbours'],
    ]
    for (const [value, field] of cases) {
      assert.throws(
        () => parseScenario(value),
        (err: unknown) => err instanceof ScenarioError && err.field.includes(field),
        `expected an error naming ${field}`,
      )
    }
  })

  it('parses every shipped scenario', () => {
    const files = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.json'))
    assert.ok(files.length >= 5)
    for (const file of files) {
      const { scenario } = loadScenario(join(SCENARIO_DIR, file))
      assert.equal(`${scenario.name}.json`, file)
    }
  })

  it('draws the same topology and workload times from the same seed, and others from another', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 2, max: 60 }), (seed, n) => {
        const spec = { kind: 'random' as const, degree: 3 }
        const a = buildTopology(spec, n, stream(seed, 'topology'))
        const b = buildTopology(spec, n, stream(seed, 'topology'))
        assert.deepEqual(a, b)
        for (const [x, y] of a) assert.ok(x < y && y < n)
        assert.deepEqual(
          poissonTimes(stream(seed, 'w'), 5, 10_000, 1000),
          poissonTimes(stream(seed, 'w'), 5, 10_000, 1000),
        )
      }),
      { numRuns: 50 },
    )
    const ring = buildTopology({ kind: 'ring', chords: 0 }, 10, stream(1, 't'))
    assert.equal(ring.length, 10)
    assert.equal(components(10, ring), 1)
    const times = poissonTimes(stream(7, 'rate'), 10, 100_000, 100_000)
    assert.ok(times.length > 900 && times.length < 1100, `about 1000 events at 10/s over 100 s, got ${times.length}`)
  })

  it('summarises distributions with percentiles and log buckets', () => {
    const d = new Distribution()
    for (let i = 1; i <= 1000; i++) d.record(i)
    const s = d.summary()
    assert.equal(s.count, 1000)
    assert.ok(Math.abs(s.p50 - 500) <= 1 && Math.abs(s.p99 - 990) <= 1, JSON.stringify(s))
    assert.equal(
      s.buckets.reduce((n, [, c]) => n + c, 0),
      1000,
    )
    d.destroy()
  })

  it('runs a small gossip network: every honest node gets every offer, the plan is reproducible', async () => {
    const scenario = parseScenario(base)
    const first = await simulateScenario(scenario, { seed: 11 })
    const m = first.metrics
    assert.deepEqual(first.failures, [], `seed 11: ${first.failures.join('; ')}`)
    assert.equal(m.nodes.total, 6)
    assert.ok(m.gossip.messages > 0)
    assert.equal(m.gossip.reliability, 1)
    assert.ok(m.gossip.latencyMs.count >= m.gossip.messages * 5)
    assert.ok(m.timeline.length > 0)
    const short = parseScenario({ ...base, durationMs: 1000, drainMs: 500 })
    const [again, other] = [await simulateScenario(short, { seed: 11 }), await simulateScenario(short, { seed: 12 })]
    const again2 = await simulateScenario(short, { seed: 11 })
    assert.equal(again.metrics.planHash, again2.metrics.planHash, 'same seed, same plan')
    assert.notEqual(again.metrics.planHash, other.metrics.planHash, 'another seed, another plan')
  })

  it('counts junk as refused, never as accepted, and keeps honest delivery under spam', async () => {
    const scenario = parseScenario({
      ...base,
      name: 'tiny-spam',
      adversaries: [{ kind: 'sybil-spam', perHonest: 1, ratePerSec: 2 }],
    })
    const { metrics, failures } = await simulateScenario(scenario, { seed: 3 })
    assert.deepEqual(failures, [], `seed 3: ${failures.join('; ')}`)
    assert.equal(metrics.nodes.byKind.sybil, 6)
    assert.ok(metrics.gossip.adversarial.published > 0)
    assert.equal(metrics.gossip.adversarial.acceptedByHonest, 0)
    assert.ok(Object.values(metrics.gossip.refusals).reduce((a, b) => a + b, 0) > 0)
    assert.equal(metrics.gossip.reliability, 1)
  })

  it('cuts and heals a partition: nothing crosses the cut, everything reachable is delivered', async () => {
    const scenario = parseScenario({
      ...base,
      name: 'tiny-partition',
      durationMs: 6000,
      groups: [
        { name: 'retailer', count: 2 },
        { name: 'listener', count: 6, dhtServer: false },
      ],
      faults: [{ kind: 'partition', atMs: 1000, healAtMs: 3500, minority: 0.5 }],
    })
    const { metrics, failures } = await simulateScenario(scenario, { seed: 4 })
    assert.deepEqual(failures, [], `seed 4: ${failures.join('; ')}`)
    assert.ok(metrics.gossip.cutOffByPartition > 0, 'some messages were published while the network was cut')
    assert.equal(metrics.gossip.reliability, 1)
  })
})
