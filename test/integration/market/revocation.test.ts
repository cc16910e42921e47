import assert from 'node:assert/strict'
import type { CID } from 'multiformats/cid'
import { recordId, signRecord } from '../../../protocols/records/envelope.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import type { OfferView, RetailerService } from '../../../roles/retailer/index.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'
import { connectToPublisher, createMarket, type Market, RELEASE, TRACK_A, TRACK_B } from './market.ts'

/**
 * Contract changes reach the offers across the network: an update that lowers the territory list revokes exactly
 * the offers outside it, on every node; a takedown (the contract's revocation) revokes every offer under it.
 */
describe('market: contract changes revoke exactly the offers that no longer conform, everywhere', () => {
  let market: Market

  before(async () => {
    market = await createMarket({ retailers: 2, observers: 3 })
  })

  after(async () => {
    await market?.stop()
  })

  async function everyObserverAccepted(views: OfferView[]) {
    await waitUntil(() => market.observers.every((o) => views.every((v) => o.accepted.has(v.offer))), {
      message: 'every observer accepted every certified offer',
    })
  }

  const certificationOf = (view: OfferView) => market.observers[0]!.accepted.get(view.offer)!.id

  /** Does every node that follows offers know this offer is revoked: observers, retailers and the reference? */
  async function revokedOnEveryNode(role: RetailerService, view: OfferView): Promise<boolean> {
    const { offer } = await role.offers.records(view.offerId)
    const certification = certificationOf(view)
    return (
      market.observers.every((o) => o.isRevoked(offer) && o.node.trust.isRevoked(certification)) &&
      market.retailers.every((r) => r.role.isOfferRevoked(offer) && r.node.trust.isRevoked(certification)) &&
      market.reference.trust.isRevoked(certification)
    )
  }

  it('an update that lowers the territory list revokes exactly the offers outside it, on every node', async () => {
    const contract = await market.publishContract({ territories: ['DE', 'FR', 'GB', 'US'], excludedTerritories: [] })
    const [shopA, shopB] = market.retailers
    const base = {
      contract: contract.id.toString(),
      price: { amount: 99n, currency: 'EUR' },
      useType: 'PermanentDownload' as const,
    }
    const inDE = await shopA!.role.offers.create({ ...base, offerId: 'de', content: [TRACK_A], territories: ['DE'] })
    const inFR = await shopA!.role.offers.create({ ...base, offerId: 'fr', content: [TRACK_A], territories: ['FR'] })
    const inDEUS = await shopB!.role.offers.create({
      ...base,
      offerId: 'de-us',
      content: [TRACK_B],
      territories: ['DE', 'US'],
    })
    const inDEGB = await shopB!.role.offers.create({
      ...base,
      offerId: 'de-gb',
      content: [RELEASE],
      territories: ['DE', 'GB'],
    })
    for (const view of [inDE, inFR, inDEUS, inDEGB])
      assert.equal(view.status, 'certified', JSON.stringify(view.failures))
    await everyObserverAccepted([inDE, inFR, inDEUS, inDEGB])

    const revoked = nextEvent<{ offers: CID[] }>(market.referenceRole, 'revoked')
    await market.publishContract({
      contractId: contract.body.contractId,
      seq: 1,
      territories: ['DE', 'GB'],
      excludedTerritories: [],
    })
    const event = await revoked
    assert.deepEqual(new Set(event.offers.map(String)), new Set([inFR.offer, inDEUS.offer]))

    await waitUntil(
      async () => (await revokedOnEveryNode(shopA!.role, inFR)) && (await revokedOnEveryNode(shopB!.role, inDEUS)),
      { message: 'every node learns both revocations' },
    )
    assert.equal(await revokedOnEveryNode(shopA!.role, inDE), false)
    assert.equal(await revokedOnEveryNode(shopB!.role, inDEGB), false)
    for (const o of market.observers) {
      assert.equal(o.node.trust.isRevoked(certificationOf(inDE)), false)
      assert.equal(o.node.trust.isRevoked(certificationOf(inDEGB)), false)
    }
    // The retailers take theirs off sale; the others stay.
    await waitUntil(async () => (await shopA!.role.offers.get('fr')).status === 'revoked')
    await waitUntil(async () => (await shopB!.role.offers.get('de-us')).status === 'revoked')
    assert.equal((await shopA!.role.offers.get('de')).status, 'certified')
    assert.equal((await shopB!.role.offers.get('de-gb')).status, 'certified')

    // The market answers accordingly: nothing for A in France any more, the German offer still there.
    assert.equal(
      (await market.referenceRole.query({ content: TRACK_A, territory: 'FR', at: null, limit: 10 })).length,
      0,
    )
    assert.equal(
      (await market.referenceRole.query({ content: TRACK_A, territory: 'DE', at: null, limit: 10 })).length,
      1,
    )
  })

  it('a takedown (the contract revoked by its distributor) revokes every offer for the release', async () => {
    const contract = await market.publishContract({ content: [RELEASE, TRACK_A] })
    const [shopA, shopB] = market.retailers
    const base = {
      contract: contract.id.toString(),
      price: { amount: 150n, currency: 'EUR' },
      useType: 'PermanentDownload' as const,
    }
    const views = [
      await shopA!.role.offers.create({ ...base, offerId: 'album-a', content: [RELEASE], territories: ['DE'] }),
      await shopB!.role.offers.create({ ...base, offerId: 'album-b', content: [RELEASE], territories: ['FR', 'DE'] }),
      await shopB!.role.offers.create({
        ...base,
        offerId: 'album-stream',
        content: [RELEASE],
        territories: ['GB'],
        useType: 'OnDemandStream',
      }),
    ]
    for (const view of views) assert.equal(view.status, 'certified', JSON.stringify(view.failures))
    await everyObserverAccepted(views)

    const revoked = nextEvent<{ offers: CID[] }>(market.referenceRole, 'revoked')
    await market.revokeContract(contract)
    const event = await revoked
    assert.deepEqual(new Set(event.offers.map(String)), new Set(views.map((v) => v.offer)))
    await waitUntil(
      async () =>
        (await revokedOnEveryNode(shopA!.role, views[0]!)) &&
        (await revokedOnEveryNode(shopB!.role, views[1]!)) &&
        (await revokedOnEveryNode(shopB!.role, views[2]!)),
      { message: 'every node learns the takedown' },
    )
    const taken = new Set(views.map((v) => v.offer))
    for (const territory of ['DE', 'FR', 'GB']) {
      for (const listed of await market.referenceRole.query({ content: RELEASE, territory, at: null, limit: 10 })) {
        const id = recordId(listed.offer).toString()
        assert.ok(!taken.has(id), `offer ${id} is still listed in ${territory}`)
      }
    }
    // A retailer cannot put it back on sale under the revoked contract.
    const again = await shopA!.role.offers.update('album-a', { price: { amount: 160n, currency: 'EUR' } })
    assert.equal(again.status, 'refused')
    assert.ok(again.failures.some((f) => f.clause === 'revoked'))
  })

  it('refuses revocations of offers and contracts by anyone but their signer or a reference service', async () => {
    const contract = await market.publishContract()
    const [shopA, shopB] = market.retailers
    const view = await shopA!.role.offers.create({
      offerId: 'guarded',
      content: [TRACK_A],
      contract: contract.id.toString(),
      price: { amount: 99n, currency: 'EUR' },
      useType: 'PermanentDownload',
      territories: ['DE'],
    })
    assert.equal(view.status, 'certified')
    await everyObserverAccepted([view])
    const { offer } = await shopA!.role.offers.records('guarded')
    // Every node judges the claim first-hand: the reference service and the observers, which run no role at all. A
    // publisher floods its own message to every peer it knows follows the topic, mesh or not.
    const judges = [market.reference, ...market.observers.map((o) => o.node)]
    const revocationsTopic = topicString(market.net.name, 'revocations')
    await connectToPublisher(shopB!.node, judges, revocationsTopic)
    const refusals = judges.map((node) =>
      nextEvent<{ code: string; result: string }>(node.topics, 'refused', (r) => r.code === 'ERR_UNAUTHORISED'),
    )
    const forged = signRecord(
      'consort/revocation',
      {
        network: market.net.name,
        created: market.clock.now(),
        targets: [
          { kind: 'offer', id: offer.id },
          { kind: 'contract', id: contract.id },
        ],
        reason: 'a rival retailer',
      },
      shopB!.keys.signer,
    )
    await shopB!.node.topics.publish('revocations', forged, shopB!.node.credentials.attachments())
    // Each knows whose offer it is (the offers topic told it): the same verdict everywhere, blaming no one.
    for (const refusal of await Promise.all(refusals)) assert.equal(refusal.result, 'ignore')
    assert.equal(await market.referenceRole.store.revokedBy(offer.id), undefined)
    assert.equal((await shopA!.role.offers.get('guarded')).status, 'certified')
    for (const o of market.observers) {
      assert.equal(o.isRevoked(offer), false)
      assert.ok(!o.revocations.some((r) => r.id.equals(forged.id)))
    }
  })
})
