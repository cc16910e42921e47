import assert from 'node:assert/strict'
import { SeededRandom } from '../../../keys/random.ts'
import { contractBody } from '../../../roles/production/bodies.ts'
import { contractFromCreate, contractFromUpdate } from '../../../roles/production/contracts.ts'

const labelKey = new Uint8Array(32).fill(9)
const defaults = { now: Date.UTC(2026, 0, 1), labelKey, party: 'label', random: new SeededRandom(1) }
const request = {
  contractId: 'paid',
  content: ['isrc:USRC17607839'],
  commercialModel: 'pay-as-you-go',
  useTypes: ['PermanentDownload'],
  wholesale: [{ currency: 'EUR', amount: '0.69' }],
}

describe("production: a contract's delivery fee (decision 0511)", () => {
  it('is signed into the contract in minor units when the terms name it, and absent otherwise', () => {
    const paid = contractFromCreate(
      { ...request, delivery: { perGB: [{ currency: 'EUR', amount: '40.00' }], saleBps: 500 } },
      defaults,
    )
    assert.deepEqual(paid.terms.delivery, { perGB: [{ currency: 'EUR', amount: 4000n }], saleBps: 500 })
    const body = contractBody('testnet', defaults.now, 0, 'paid', labelKey, paid.terms, paid.content)
    assert.deepEqual(body.delivery, paid.terms.delivery)
    const unpaid = contractFromCreate(request, defaults)
    assert.equal('delivery' in contractBody('testnet', defaults.now, 0, 'x', labelKey, unpaid.terms, ['isrc:X']), false)
  })

  it('is kept, changed or removed by an update as it names it', () => {
    const created = contractFromCreate({ ...request, delivery: { saleBps: 300 } }, defaults)
    const current = contractBody('testnet', defaults.now, 0, 'paid', labelKey, created.terms, created.content)
    assert.deepEqual(current.delivery, { perGB: [], saleBps: 300 }, 'omitted parts default to nothing')
    const kept = contractFromUpdate(current as never, { territories: ['DE'] })
    assert.deepEqual(kept.terms.delivery, current.delivery, 'an update that does not name it keeps it')
    const changed = contractFromUpdate(current as never, { delivery: { perGB: [{ currency: 'EUR', amount: '1' }] } })
    assert.deepEqual(changed.terms.delivery, { perGB: [{ currency: 'EUR', amount: 100n }], saleBps: 0 })
    const removed = contractFromUpdate(current as never, { delivery: null })
    assert.equal(removed.terms.delivery, undefined, 'null removes it: delivery is no longer paid')
    assert.throws(
      () => contractFromUpdate(current as never, { delivery: { saleBps: -1 } }),
      /contract\.delivery\.saleBps/,
    )
  })

  it('carries a referral clause (decision 0512) into the contract, and an update keeps, changes or removes it', () => {
    const referral = { bps: 500, from: 'retailer', referrers: ['account', 'retailer'] }
    const created = contractFromCreate({ ...request, referral }, defaults)
    assert.deepEqual(created.terms.referral, referral)
    const current = contractBody('testnet', defaults.now, 0, 'paid', labelKey, created.terms, created.content)
    assert.deepEqual(current.referral, referral)
    assert.deepEqual(contractFromUpdate(current as never, { territories: ['DE'] }).terms.referral, referral)
    const changed = contractFromUpdate(current as never, { referral: { ...referral, from: 'distributor' } })
    assert.equal(changed.terms.referral?.from, 'distributor')
    assert.equal(contractFromUpdate(current as never, { referral: null }).terms.referral, undefined)
    assert.throws(
      () => contractFromCreate({ ...request, referral: { ...referral, from: 'label' } }, defaults),
      /contract\.referral\.from/,
    )
    assert.throws(
      () => contractFromCreate({ ...request, referral: { ...referral, referrers: [] } }, defaults),
      /contract\.referral\.referrers/,
    )
  })
})
