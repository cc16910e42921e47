import assert from 'node:assert/strict'
import { runScenario } from '../../../simulations/runner.ts'
import { loadScenario } from '../../../simulations/scenario.ts'

/**
 * CI runs the shipped `market-small` scenario: every role the simulator wires in, real nodes on the memory
 * transport, the plan drawn from the scenario's seed. Any broken invariant fails the test, and the message names the
 * seed that reproduces the plan (`npm run sim -- market-small --seed N`).
 */
describe('simulations: market-small', function () {
  this.timeout(300_000)

  it('runs the whole market with every invariant holding', async () => {
    const { scenario } = loadScenario('market-small')
    const seed = Number(process.env.CONSORT_SIM_SEED ?? scenario.seed)
    const { metrics, failures } = await runScenario(scenario, { seed })
    assert.deepEqual(failures, [], `market-small failed with seed ${seed}: ${failures.join('; ')}`)
    assert.ok(metrics.ok)
    const market = metrics.market as {
      tracks: number
      offers: { expected: number; certified: number }
      fetches: { started: number; completed: number }
      deliveryShare: number
    }
    assert.equal(market.tracks, 4)
    assert.ok(market.offers.certified > 0 && market.offers.certified === market.offers.expected)
    assert.ok(market.fetches.started > 0 && market.fetches.completed === market.fetches.started)
    assert.ok(market.deliveryShare > 0, 'delivery nodes served some of the bytes')
    assert.equal(metrics.gossip.reliability, 1, `seed ${seed}: every offer and release reached every honest node`)
    assert.ok(metrics.gossip.messages > 0)
  })
})
