import assert from 'node:assert/strict'
import { simulateScenario } from '../../../simulations/runner.ts'
import { loadScenario } from '../../../simulations/scenario.ts'
import type { MarketMetrics } from '../../../simulations/workloads/market.ts'

/** The checks each of issue 11's attackers must pass, by the name the run gives them. */
const ATTACK_CHECKS = [
  'void races got no licence',
  'inflated plays held beyond the licence',
  'wiped stores regained no plays',
  'territory lies sold nothing',
]

/**
 * CI runs the shipped `hostile-buyers` scenario: the honest market buys and plays while issue 11's attackers go at the
 * money paths with real nodes — a buyer that voids its own authorisation and races the retailer and the registrar, a
 * device that signs a report of three times its pass's plays (some back-dated), a player that wipes its store and
 * fetches its licence again, a buyer that claims a territory its registrar did not attest. Each gains nothing (its own
 * check), and the clearinghouse's books still equal the ground truth to the cent with them running.
 */
describe('simulations: hostile-buyers (issue 11)', function () {
  this.timeout(300_000)

  it('gives the attackers on the money paths nothing, and the ledger still equals the ground truth to the cent', async () => {
    const { scenario } = loadScenario('hostile-buyers')
    const seed = Number(process.env.CONSORT_SIM_SEED ?? scenario.seed)
    const { metrics, failures } = await simulateScenario(scenario, { seed })
    assert.deepEqual(failures, [], `seed ${seed}`)
    const names = metrics.checks.map((c) => c.name)
    // Their usage reports are valid records honest nodes accept: not junk (before the tracker left them out, this
    // scenario had to switch the junk check off).
    for (const name of [
      ...ATTACK_CHECKS,
      'ledger equals ground truth',
      'every licensed play settled exactly once',
      'no junk accepted',
    ])
      assert.ok(names.includes(name), `${name} was checked: ${names.join(', ')}`)

    // The attacks ran (a check over nothing would prove nothing).
    const market = metrics.market as MarketMetrics
    const hostile = market.hostileBuyers!
    const racers = hostile.voidRacers
    assert.ok(racers.races > 0 && racers.licences === 0)
    const inflaters = hostile.playInflaters
    assert.ok(inflaters.passes > 0 && inflaters.claimed > inflaters.allowed)
    const wipers = hostile.storeWipers
    assert.ok(wipers.wipes > 0 && wipers.playsBeforeWipe > 0)
    const liars = hostile.territoryLiars
    assert.ok(liars.lies > 0 && liars.accepted === 0)
    // Their real sales (the inflater's and the wiper's passes) are in the ground truth the ledger was held against.
    assert.equal(market.purchases!.boughtByAttackers, inflaters.passes + wipers.wipes)
  })
})
