import assert from 'node:assert/strict'
import { parseScenario } from '../../../simulations/scenario.ts'
import {
  DeliveryCaps,
  deliveryDue,
  encryptedTrackBytes,
  SEGMENT_TAG_BYTES,
} from '../../../simulations/workloads/delivery-truth.ts'
import { PaidDelivery } from '../../../simulations/workloads/paid-delivery.ts'

describe('simulations: paid delivery ground truth (decision 0811)', () => {
  it('prices bytes by decision 0511: ⌊b·perGB/10⁹⌋ + ⌊P·bps·b/(10⁴·S)⌋, each part rounded down', () => {
    const size = encryptedTrackBytes({ byteSize: 524_288, segments: new Array(8) })
    assert.equal(size, 524_288 + 8 * SEGMENT_TAG_BYTES)
    // 397,084 bytes of a 524,416-byte track sold at €1.29, at €50/GB and 5 %: 1 (1.985…) + 4 (4.884…).
    assert.equal(deliveryDue({ perGB: 5000n, saleBps: 500 }, 129n, 397_084, size), 1n + 4n)
    assert.equal(deliveryDue({ perGB: 0n, saleBps: 500 }, 129n, size, size), 6n, 'the whole track: 5 % of the sale')
    assert.equal(deliveryDue({ perGB: 5000n, saleBps: 0 }, 129n, 65_552, size), 0n, 'rounds down to nothing')
    assert.equal(deliveryDue({ perGB: 5000n, saleBps: 500 }, 129n, 0, size), 0n)
  })

  it('pays one track per licence and track, whoever served it', () => {
    const caps = new DeliveryCaps()
    assert.equal(caps.take('p1', 'm1', 600, 1000), 600)
    assert.equal(caps.take('p1', 'm1', 600, 1000), 400, 'cut to what is left of the track')
    assert.equal(caps.take('p1', 'm1', 10, 1000), 0)
    assert.equal(caps.take('p1', 'm2', 10, 1000), 10, 'another track of the licence')
    assert.equal(caps.take('p2', 'm1', 1000, 1000), 1000, 'another licence')
  })

  it('writes the fee as the production role reads deals', () => {
    assert.deepEqual(PaidDelivery.dealTerms({ perGBMinor: 5005, saleBps: 300, paysListeners: false }), {
      perGB: [{ currency: 'EUR', amount: '50.05' }],
      saleBps: 300,
    })
    assert.deepEqual(PaidDelivery.dealTerms({ perGBMinor: 0, saleBps: 300, paysListeners: false }).perGB, [])
  })

  it('refuses a fee that pays nothing, or paid delivery without purchases, naming the field', () => {
    const scenario = (market: Record<string, unknown>) => ({
      version: 1,
      name: 'paid',
      durationMs: 1000,
      groups: [{ name: 'all', count: 1, roles: ['production', 'reference', 'retailer', 'delivery'] }],
      topology: { kind: 'random', degree: 1 },
      workload: { market: { releases: 1, purchasesPerSec: 0.1, ...market } },
    })
    assert.equal(parseScenario(scenario({ delivery: { perGBMinor: 100 } })).workload.market?.delivery?.saleBps, 0)
    assert.throws(
      () => parseScenario(scenario({ delivery: { perGBMinor: 0, saleBps: 0 } })),
      /workload\.market\.delivery: a delivery fee of 0 per GB and 0 bps pays nothing/,
    )
    assert.throws(
      () => parseScenario(scenario({ purchasesPerSec: 0, delivery: { perGBMinor: 100 } })),
      /workload\.market\.delivery: paid delivery needs purchases/,
    )
    assert.throws(
      () => parseScenario(scenario({ delivery: { perGBMinor: -1 } })),
      /workload\.market\.delivery\.perGBMinor/,
    )
    assert.throws(() => parseScenario(scenario({ delivery: { perGB: 1 } })), /workload\.market\.delivery/)
  })
})
