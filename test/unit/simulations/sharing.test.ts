import assert from 'node:assert/strict'
import { stream } from '../../../simulations/rng.ts'
import { parseScenario } from '../../../simulations/scenario.ts'
import { GroundTruth } from '../../../simulations/workloads/ground-truth.ts'
import { inDegrees, shareGraph } from '../../../simulations/workloads/share-graph.ts'

const terms = (unit: bigint | null) => ({
  distributor: 'distributor:d',
  currency: 'EUR',
  unit,
  perPlay: null,
  shares: [
    { participant: 'rightsholder:a', bps: 6000 },
    { participant: 'rightsholder:b', bps: 4000 },
  ],
})

describe('simulations: sharing ground truth and share graph (decision 0811)', () => {
  it('draws k distinct recipients per player, never itself, the same for the same seed', () => {
    const graph = shareGraph(16, 3, stream(6, 'sharing/graph'))
    assert.equal(graph.length, 16)
    for (const [i, targets] of graph.entries()) {
      assert.equal(new Set(targets).size, 3)
      assert.ok(!targets.includes(i) && targets.every((t) => t >= 0 && t < 16))
    }
    assert.deepEqual(graph, shareGraph(16, 3, stream(6, 'sharing/graph')))
    assert.notDeepEqual(graph, shareGraph(16, 3, stream(7, 'sharing/graph')))
    assert.equal(
      inDegrees(graph).reduce((a, b) => a + b, 0),
      48,
    )
    assert.throws(() => shareGraph(3, 3, stream(1, 'x')), /need at least 4 players/)
  })

  it('credits bps of the price capped at the payer’s share, from the retailer or the distributor (decision 0512)', () => {
    // Fee 1 % on 129: 1. Wholesale 69. Retailer's margin 59.
    const truth = new GroundTruth({ feeBps: 100, feeParticipant: 'fee:f', gatewayParticipant: 'external:g' })
    const sell = (price: bigint, bps: number, from: 'retailer' | 'distributor') =>
      truth.sale({
        wallet: 'wallet:buyer',
        retailer: 'retailer:r',
        price,
        terms: terms(69n),
        referral: { referrer: 'wallet:friend', bps, from },
      })
    assert.equal(sell(129n, 1000, 'retailer'), 12n, '⌊129 × 10 %⌋')
    assert.equal(sell(129n, 9000, 'distributor'), 69n, '⌊129 × 90 %⌋ = 116, capped at the wholesale of 69')
    const none = sell(60n, 1000, 'retailer')
    assert.equal(none, 0n, 'a retailer selling below cost has no margin to pay from')
    const b = truth.balances()
    assert.equal(b.get('wallet:friend'), 81n)
    assert.equal(b.get('retailer:r'), 59n - 12n + 59n + (60n - 0n - 69n))
    // The rights holders split 69, then 69 − 69, then 69 by 60/40, largest remainder first (41.4 / 27.6 → 41 / 28).
    assert.equal(b.get('rightsholder:a'), 41n + 0n + 41n)
    assert.equal(b.get('rightsholder:b'), 28n + 0n + 28n)
    assert.equal(truth.referralCredits, 2)
    assert.equal(
      [...b.values()].reduce((x, y) => x + y, 0n),
      0n,
      'money is only moved',
    )
  })

  it('refuses sharing that cannot happen, naming the field', () => {
    const scenario = (sharing: Record<string, unknown>, players = 3, purchasesPerSec = 0.1) => ({
      version: 1,
      name: 'shares',
      durationMs: 1000,
      groups: [
        { name: 'all', count: 1, roles: ['production', 'reference', 'retailer', 'delivery'] },
        { name: 'player', count: players, roles: ['player'] },
      ],
      topology: { kind: 'random', degree: 1 },
      workload: { market: { releases: 1, purchasesPerSec, sharing } },
    })
    const ok = { recipients: 2, buyProbability: 0.5, referral: { download: { bps: 500 } } }
    const parsed = parseScenario(scenario(ok)).workload.market?.sharing
    assert.deepEqual(parsed?.referral, { download: { bps: 500, from: 'retailer' }, stream: null })
    assert.equal(parsed?.maxHops, 2)
    assert.throws(
      () => parseScenario(scenario(ok, 2)),
      /sharing\.recipients: 2 recipient\(s\) per player need at least 3 players/,
    )
    assert.throws(
      () => parseScenario(scenario({ ...ok, referral: { stream: { bps: 500, from: 'distributor' } } })),
      /sharing\.referral\.stream\.from: the stream deal has no per-unit wholesale price/,
    )
    assert.throws(
      () => parseScenario(scenario({ ...ok, delayMs: { min: 5, max: 1 } })),
      /sharing\.delayMs\.max: must not be below min/,
    )
    assert.throws(() => parseScenario(scenario(ok, 3, 0)), /sharing: sharing needs purchases/)
    assert.throws(() => parseScenario(scenario({ ...ok, buyProbability: 2 })), /sharing\.buyProbability/)
    assert.throws(() => parseScenario(scenario({ ...ok, recipients: 0 })), /sharing\.recipients/)
  })
})
