import assert from 'node:assert/strict'
import type { CID } from 'multiformats/cid'
import type { OfferView } from '../../../roles/retailer/index.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'
import { createMarket, type Market, TRACK_A } from './market.ts'

/**
 * Several reference services: a retailer gets its certification from whichever answers, every node accepts a
 * certification from any service the network record lists, market queries merge their answers, and each service
 * revokes what it certified itself.
 */
describe('market: several reference services', () => {
  let market: Market

  before(async () => {
    market = await createMarket({ references: 2, retailers: 1, observers: 2 })
  })

  after(async () => {
    await market?.stop()
  })

  const shop = () => market.retailers[0]!

  it('certifies through the next reference service when the first does not answer; everyone accepts it', async () => {
    const contract = await market.publishContract({ territories: ['DE', 'FR'], excludedTerritories: [] })
    const [first, second] = market.references
    await first!.role.stop()
    let view: OfferView
    try {
      view = await shop().role.offers.create({
        offerId: 'second-opinion',
        content: [TRACK_A],
        contract: contract.id.toString(),
        price: { amount: 99n, currency: 'EUR' },
        useType: 'PermanentDownload',
        territories: ['FR'],
      })
    } finally {
      await first!.role.start()
    }
    assert.equal(view.status, 'certified', view.note ?? '')
    assert.equal(view.note, 'certified by reference-2')
    const { certification } = await shop().role.offers.records('second-opinion')
    assert.ok(Buffer.compare(certification!.signer, second!.node.keys.signer.publicKey) === 0)
    await waitUntil(() => market.observers.every((o) => o.accepted.has(view.offer)), {
      message: 'observers accept a certification by the second reference service',
    })

    // Both services answer queries for it (the first learned it from the offers topic); the client merges.
    await waitUntil(
      async () => (await first!.role.query({ content: TRACK_A, territory: 'FR', at: null, limit: 10 })).length === 1,
      { message: 'the first reference service lists the offer it learned from gossip' },
    )
    const route = shop().role.controlRoutes.find((r) => r.path === '/market')!
    const answer = (await route.handler({
      params: {},
      query: { content: TRACK_A, territory: 'FR' },
      body: null,
      signal: new AbortController().signal,
    })) as { offers: Array<{ offer: CID; certifier: string }>; unreachable: unknown[] }
    assert.deepEqual(answer.unreachable, [])
    assert.deepEqual(
      answer.offers.map((o) => [o.offer.toString(), o.certifier]),
      [[view.offer, 'reference-2']],
    )

    // A contract change: the service that certified the offer revokes it; the other has nothing of its own to revoke.
    let firstRevoked = 0
    const onFirst = () => firstRevoked++
    first!.role.addEventListener('revoked', onFirst)
    const revoked = nextEvent<{ offers: CID[] }>(second!.role, 'revoked')
    await market.publishContract({
      contractId: contract.body.contractId,
      seq: 1,
      territories: ['DE'],
      excludedTerritories: [],
    })
    assert.deepEqual((await revoked).offers.map(String), [view.offer])
    await waitUntil(() => market.observers.every((o) => o.node.trust.isRevoked(certification!.id)))
    await waitUntil(
      async () => (await first!.role.query({ content: TRACK_A, territory: 'FR', at: null, limit: 10 })).length === 0,
      { message: 'the first reference service drops the revoked offer from its market' },
    )
    first!.role.removeEventListener('revoked', onFirst)
    assert.equal(firstRevoked, 0)
  })
})
