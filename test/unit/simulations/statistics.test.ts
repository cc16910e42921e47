import assert from 'node:assert/strict'
import { ScenarioError } from '../../../simulations/errors.ts'
import { percentile, summarise, t975 } from '../../../simulations/statistics.ts'
import { parseSeeds } from '../../../simulations/sweep.ts'

describe('simulations: sweeps and their statistics', () => {
  it('reads seed lists and ranges, and refuses anything else', () => {
    assert.deepEqual(parseSeeds('7'), [7])
    assert.deepEqual(parseSeeds('1..4'), [1, 2, 3, 4])
    assert.deepEqual(parseSeeds('1..3,10, 2'), [1, 2, 3, 10])
    for (const bad of ['', 'a', '3..1', '1..', '-1', '1..5000'])
      assert.throws(() => parseSeeds(bad), ScenarioError, `refuses "${bad}"`)
  })

  it('gives the mean, the sample standard deviation and a Student-t 95 % interval', () => {
    // Ten values 1..10: mean 5.5, sd 3.0277, t(9) = 2.262, half-width 2.262 × 3.0277 / √10 = 2.1659.
    const s = summarise([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.equal(s.n, 10)
    assert.equal(s.mean, 5.5)
    assert.ok(Math.abs(s.sd - 3.02765) < 1e-4)
    assert.ok(Math.abs(s.ci95Low! - 3.3341) < 1e-3 && Math.abs(s.ci95High! - 7.6659) < 1e-3)
    assert.equal(summarise([4]).ci95Low, null, 'one run has no interval')
    assert.equal(t975(1), 12.706)
    assert.equal(t975(10_000), 1.96)
    assert.equal(percentile([1, 2, 3, 4], 50), 2.5)
    assert.equal(percentile([5, 1, 9], 100), 9)
  })
})
