import assert from 'node:assert/strict'
import { ControlApi } from '../../../node/control-api.ts'
import { ControlClient } from '../../../node/control-client.ts'
import { createMarket, type Market, TRACK_A } from './market.ts'

describe('market: any node lists certified offers through its control API', function () {
  this.timeout(120_000)
  let market: Market

  before(async () => {
    market = await createMarket({ retailers: 1, observers: 1 })
  })

  after(async () => {
    await market?.stop()
  })

  it('GET /v1/market on a node without a market role answers re-validated offers, and refuses bad input by field', async () => {
    const contract = await market.publishContract({ territories: ['DE', 'FR'], excludedTerritories: [] })
    const view = await market.retailers[0]!.role.offers.create({
      offerId: 'node-market',
      content: [TRACK_A],
      contract: contract.id.toString(),
      price: { amount: 129n, currency: 'EUR' },
      useType: 'PermanentDownload',
      territories: ['FR'],
    })
    assert.equal(view.status, 'certified', view.note ?? '')
    const observer = market.observers[0]!.node
    const api = new ControlApi(observer)
    try {
      const client = new ControlClient(await api.start())
      const answer = await client.request<{
        offers: Array<{ offerId: string; price: { amount: string; currency: string } }>
      }>('GET', `/v1/market?content=${encodeURIComponent(TRACK_A)}&territory=FR`)
      assert.deepEqual(
        answer.offers.map((o) => [o.offerId, o.price.amount, o.price.currency]),
        [['node-market', '129', 'EUR']],
      )
      const elsewhere = await client.request<{ offers: unknown[] }>(
        'GET',
        `/v1/market?content=${encodeURIComponent(TRACK_A)}&territory=US`,
      )
      assert.equal(elsewhere.offers.length, 0)
      await assert.rejects(client.request('GET', '/v1/market?content=nope&territory=FR'), /content: not a content id/)
    } finally {
      await api.stop()
    }
  })
})
