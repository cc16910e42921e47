import assert from 'node:assert/strict'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import type { GossipDelivery } from '../../../protocols/topics/bus.ts'
import { arrivals, type Market, startMarket } from './market.ts'

describe('production: contracts by hand (create, update, revoke)', function () {
  this.timeout(120_000)
  let market: Market

  before(async () => {
    market = await startMarket()
  })
  after(async () => {
    await market?.stop()
  })

  it('signs, supersedes and revokes a contract, each step on its topic', async () => {
    const { node, role } = await market.startProducer({ init: { party: 'PADPIDA-TEST' } })
    const mine = (d: GossipDelivery) => Buffer.compare(d.record.signer, node.keys.signer.publicKey) === 0
    const created = await role.createContract({
      contractId: 'eu-downloads',
      content: ['isrc:USRC17607839', 'GBAYC1700598'],
      commercialModel: 'pay-as-you-go',
      useTypes: ['PermanentDownload'],
      territories: ['Worldwide'],
      excludedTerritories: ['US'],
      validFrom: '2026-01-01',
      validUntil: '2027-01-01',
      wholesale: [
        { currency: 'EUR', amount: '0.59' },
        { currency: 'JPY', amount: '90', per: 'play' },
      ],
      promotions: { minPrice: [{ currency: 'EUR', amount: '0.29' }] },
      ruleBounds: { maxDevices: 3 },
    })
    assert.deepEqual([created.contractId, created.seq, created.changed], ['eu-downloads', 0, true])
    const [first] = await arrivals(market, 'contracts', mine, 1)
    const body = (first!.record as SignedRecord<'consort/contract'>).body
    assert.deepEqual(body.content, ['isrc:USRC17607839', 'isrc:GBAYC1700598'])
    assert.equal(body.retailer, null)
    assert.deepEqual(body.distributor, node.keys.signer.publicKey)
    assert.equal(body.validFrom, Date.UTC(2026, 0, 1))
    assert.equal(body.validUntil, Date.UTC(2027, 0, 1))
    assert.deepEqual(body.wholesale, [
      { currency: 'EUR', amount: 59n, per: 'unit' },
      { currency: 'JPY', amount: 90n, per: 'play' },
    ])
    assert.deepEqual(body.promotions, { minPrice: [{ currency: 'EUR', amount: 29n }], freeWindows: [] })
    assert.deepEqual(body.ruleBounds, { maxDevices: 3 })
    assert.deepEqual(body.splits, [{ party: 'PADPIDA-TEST', key: node.keys.signer.publicKey, bps: 10_000 }])

    const updated = await role.updateContract('eu-downloads', { territories: ['DE', 'AT'], excludedTerritories: [] })
    assert.equal(updated.seq, 1)
    const versions = await arrivals(market, 'contracts', mine, 2)
    const v1 = (versions[1]!.record as SignedRecord<'consort/contract'>).body
    assert.deepEqual(v1.territories, ['DE', 'AT'])
    assert.deepEqual(v1.wholesale, body.wholesale, 'what the update does not name stays')
    assert.equal(v1.contractId, 'eu-downloads')

    const same = await role.updateContract('eu-downloads', { territories: ['DE', 'AT'] })
    assert.equal(same.changed, false, 'an update that changes nothing signs nothing')

    const { state, record } = await role.contract('eu-downloads')
    assert.equal(state.seq, 1)
    assert.ok(record.id.equals(updated.record))
    assert.deepEqual(
      (await role.contracts()).map((c) => [c.contractId, c.status, c.origin]),
      [['eu-downloads', 'active', 'manual']],
    )

    const revoked = await role.revokeContract('eu-downloads', { reason: 'rights expired' })
    assert.equal(revoked.revocations.length, 1)
    const [revocation] = await arrivals(market, 'revocations', mine, 1)
    const r = (revocation!.record as SignedRecord<'consort/revocation'>).body
    assert.equal(r.reason, 'rights expired')
    assert.deepEqual(
      r.targets.map((t) => [t.kind, t.id.toString()]),
      [
        ['contract', created.record.toString()],
        ['contract', updated.record.toString()],
      ],
    )
    await assert.rejects(role.updateContract('eu-downloads', { territories: ['FR'] }), { name: 'ContractRevokedError' })
    await assert.rejects(role.updateContract('nope', {}), { name: 'NotFoundError' })
  })

  it('refuses terms a contract cannot carry, naming the field', async () => {
    const { role } = await market.startProducer()
    await assert.rejects(
      role.createContract({
        content: ['isrc:USRC17607839'],
        commercialModel: 'pay-as-you-go',
        useTypes: ['PermanentDownload'],
      }),
      /body\.wholesale: a pay-as-you-go contract needs a wholesale price/,
    )
    await assert.rejects(
      role.createContract({
        content: ['isrc:USRC17607839'],
        commercialModel: 'free',
        useTypes: ['OnDemandStream'],
        splits: [
          { party: 'a', bps: 5000 },
          { party: 'b', bps: 4000 },
        ],
      }),
      /shares sum to 9000, not 10000/,
    )
    await assert.rejects(
      role.createContract({ content: ['isrc:USRC17607839'], commercialModel: 'free', useTypes: ['Rental'] }),
      { name: 'InvalidParametersError', message: /contract\.useTypes\.0/ },
    )
    await assert.rejects(
      role.createContract({
        content: ['isrc:USRC17607839'],
        commercialModel: 'pay-as-you-go',
        useTypes: ['PermanentDownload'],
        wholesale: [{ currency: 'EUR', amount: '0.999' }],
      }),
      /contract\.wholesale\.0\.amount \(0\.999 EUR\): .*EUR has only 2 decimal places/,
    )
    assert.deepEqual(await role.contracts(), [])
  })
})
