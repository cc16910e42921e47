import assert from 'node:assert/strict'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import type { OfferView } from '../../../roles/retailer/index.ts'
import type { ControlRoute } from '../../../roles/role.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { createMarket, DAY, HOUR, type Market, TRACK_A, TRACK_B } from '../../integration/market/market.ts'

/** The retailer's offers on real nodes: create, refuse, update, withdraw, renew, retry, and offers from contracts. */
describe('retailer: offers', () => {
  let market: Market
  let contract: SignedRecord<'consort/contract'>

  before(async () => {
    market = await createMarket({ retailers: 1, observers: 2 })
    contract = await market.publishContract({ contractId: 'shop-deal' })
  })

  after(async () => {
    await market?.stop()
  })

  const shop = () => market.retailers[0]!
  const desk = () => shop().role.offers
  const acceptedEverywhere = (offer: string) =>
    waitUntil(() => market.observers.every((o) => o.accepted.has(offer)), { message: `observers accept ${offer}` })

  function route(method: ControlRoute['method'], path: string): ControlRoute {
    const found = shop().role.controlRoutes.find((r) => r.method === method && r.path === path)
    assert.ok(found, `${method} ${path}`)
    return found
  }

  const call = (
    method: ControlRoute['method'],
    path: string,
    request: Partial<Parameters<ControlRoute['handler']>[0]>,
  ) =>
    route(method, path).handler({
      params: {},
      query: {},
      body: null,
      signal: new AbortController().signal,
      ...request,
    })

  it('creates an offer: signed, certified, gossiped with its certification, listed', async () => {
    const view = (await call('POST', '/offers', {
      body: {
        offerId: 'single',
        content: ['USRC17607839'],
        contract: contract.id.toString(),
        price: '0.99',
        currency: 'EUR',
        useType: 'PermanentDownload',
        territories: ['DE', 'AT'],
      },
    })) as OfferView
    assert.equal(view.status, 'certified', JSON.stringify(view.failures))
    assert.equal(view.onSale, true)
    assert.equal(view.priceText, '0.99 EUR')
    assert.deepEqual(view.price, { amount: 99n, currency: 'EUR' })
    assert.equal(view.certifiedUntil, market.clock.now() + market.net.record.body.policy.certificationTtlMs)
    // Territories given; window and rules from the contract.
    assert.equal(view.validUntil, contract.body.validUntil)
    assert.deepEqual(view.rules, { devices: 5, transfer: false })
    await acceptedEverywhere(view.offer)
    const listed = (await call('GET', '/offers', {})) as OfferView[]
    assert.ok(listed.some((v) => v.offerId === 'single'))
    await assert.rejects(desk().create({ offerId: 'single', content: [TRACK_A], contract: contract.id.toString() }), {
      name: 'OfferExistsError',
    })
  })

  it('shows a refusal with every failed clause, and publishes nothing', async () => {
    const view = await desk().create({
      offerId: 'too-cheap',
      content: [TRACK_A],
      contract: contract.id.toString(),
      price: { amount: 10n, currency: 'EUR' },
      useType: 'PermanentDownload',
      territories: ['DE', 'KP'],
      rules: { devices: 9 },
    })
    assert.equal(view.status, 'refused')
    assert.equal(view.onSale, false)
    assert.deepEqual(view.failures.map((f) => f.clause).sort(), ['price', 'rules', 'territory'])
    assert.match(view.note ?? '', /refused by reference-1/)
    const { offer } = await desk().records('too-cheap')
    for (const o of market.observers) assert.equal(o.accepted.has(offer.id.toString()), false)
  })

  it('names a contract by its id as well as by its CID', async () => {
    const view = await desk().create({
      offerId: 'by-id',
      content: [TRACK_B],
      contract: 'shop-deal',
      price: { amount: 120n, currency: 'EUR' },
      useType: 'OnDemandStream',
    })
    assert.equal(view.status, 'certified', JSON.stringify(view.failures))
    assert.equal(view.contract, contract.id.toString())
    // Territories default to the contract's: Worldwide except KP.
    assert.deepEqual(view.territories, ['Worldwide'])
    assert.deepEqual(view.excludedTerritories, ['KP'])
    await assert.rejects(desk().create({ content: [TRACK_B], contract: 'no-such-deal' }), {
      name: 'ContractUnknownError',
    })
  })

  it('updates an offer as a new version; a refused update leaves the previous version on sale', async () => {
    const before = await desk().get('single')
    const updated = (await call('POST', '/offers/:id', {
      params: { id: 'single' },
      body: { price: '0.89' },
    })) as OfferView
    assert.equal(updated.status, 'certified')
    assert.equal(updated.seq, before.seq + 1)
    assert.equal(updated.priceText, '0.89 EUR')
    assert.notEqual(updated.offer, before.offer)
    await acceptedEverywhere(updated.offer)

    const refused = await desk().update('single', { price: { amount: 1n, currency: 'EUR' } })
    assert.equal(refused.status, 'refused')
    assert.equal(refused.onSale, true, 'the certified version stays on sale')
    assert.equal(refused.offer, updated.offer, 'the view shows the version on sale')
    assert.deepEqual(
      refused.failures.map((f) => f.clause),
      ['price'],
    )
    const again = await desk().update('single', { price: { amount: 79n, currency: 'EUR' } })
    assert.equal(again.status, 'certified')
    assert.equal(again.seq, before.seq + 3, 'a refused attempt used up its sequence number')
  })

  it('withdraws an offer by a revocation every node honours; a withdrawn offer cannot change', async () => {
    const view = await desk().create({
      offerId: 'short-lived',
      content: [TRACK_A],
      contract: contract.id.toString(),
      price: { amount: 99n, currency: 'EUR' },
      useType: 'PermanentDownload',
    })
    await acceptedEverywhere(view.offer)
    const { offer } = await desk().records('short-lived')
    const withdrawn = (await call('DELETE', '/offers/:id', {
      params: { id: 'short-lived' },
      query: { reason: 'sold out' },
    })) as OfferView
    assert.equal(withdrawn.status, 'withdrawn')
    assert.equal(withdrawn.onSale, false)
    await waitUntil(() => market.observers.every((o) => o.isRevoked(offer)), {
      message: 'observers learn the withdrawal',
    })
    await waitUntil(async () => (await market.referenceRole.store.revokedBy(offer.id)) != null)
    assert.deepEqual(
      await market.referenceRole
        .query({ content: TRACK_A, territory: 'FR', at: null, limit: 50 })
        .then((list) => list.filter((l) => Buffer.compare(l.offer, offer.bytes) === 0)),
      [],
    )
    await assert.rejects(desk().update('short-lived', { price: { amount: 100n, currency: 'EUR' } }), {
      name: 'OfferWithdrawnError',
    })
  })

  it('renews certifications nearing expiry on the clock it was given, and gossips the renewal', async () => {
    const before = await desk().get('by-id')
    const ttl = market.net.record.body.policy.certificationTtlMs
    market.clock.advance(ttl / 2)
    assert.deepEqual(await desk().renewDue(), { renewed: 0, retried: 0 }, 'nothing is due at half the TTL')
    market.clock.advance(ttl / 4 + HOUR)
    await shop().role.tick()
    const after = await desk().get('by-id')
    assert.equal(after.offer, before.offer, 'the same offer record')
    assert.notEqual(after.certification, before.certification)
    assert.ok(after.certifiedUntil! > before.certifiedUntil!)
    await waitUntil(
      () => market.observers.every((o) => o.accepted.get(after.offer)?.id.toString() === after.certification),
      { message: 'observers accept the renewed certification' },
    )
  })

  it('keeps an offer pending while no reference service answers, and submits it again later', async () => {
    await market.referenceRole.stop()
    try {
      const view = await desk().create({
        offerId: 'patient',
        content: [TRACK_B],
        contract: contract.id.toString(),
        price: { amount: 99n, currency: 'EUR' },
        useType: 'PermanentDownload',
      })
      assert.equal(view.status, 'pending')
      assert.match(view.note ?? '', /reference-1/)
    } finally {
      await market.referenceRole.start()
    }
    const { retried } = await desk().renewDue()
    assert.equal(retried, 1)
    const view = await desk().get('patient')
    assert.equal(view.status, 'certified', view.note ?? '')
    await acceptedEverywhere(view.offer)
  })

  it('makes offers from the contracts in force (the devnet’s sample offers), once', async () => {
    const deal = await market.publishContract({
      contractId: 'sample-deal',
      content: [TRACK_A, TRACK_B],
      useTypes: ['PermanentDownload', 'OnDemandStream', 'Preview'],
      validFrom: market.clock.now() - DAY,
    })
    const created = (await call('POST', '/offers/from-contracts', {
      body: { content: [TRACK_A, TRACK_B], markupBps: 4000 },
    })) as OfferView[]
    const fromDeal = created.filter((v) => v.contract === deal.id.toString())
    assert.equal(fromDeal.length, 4, 'two tracks × two use types (no Preview)')
    for (const view of fromDeal) {
      assert.equal(view.status, 'certified', JSON.stringify(view.failures))
      assert.deepEqual(view.price, { amount: 98n, currency: 'EUR' }, '0.70 EUR + 40 %')
    }
    const again = (await call('POST', '/offers/from-contracts', {
      body: { content: [TRACK_A, TRACK_B] },
    })) as OfferView[]
    assert.equal(again.filter((v) => v.contract === deal.id.toString()).length, 0)
  })

  it('prices offers from a per-play contract as a pass of plays', async () => {
    const deal = await market.publishContract({
      contractId: 'per-play-deal',
      content: [TRACK_B],
      useTypes: ['OnDemandStream'],
      wholesale: [{ currency: 'EUR', amount: 1n, per: 'play' }],
      ruleBounds: {},
    })
    const created = await desk().fromContracts({ content: [TRACK_B] })
    const fromDeal = created.filter((v) => v.contract === deal.id.toString())
    assert.equal(fromDeal.length, 1)
    assert.equal(fromDeal[0]!.status, 'certified', JSON.stringify(fromDeal[0]!.failures))
    assert.deepEqual(fromDeal[0]!.rules, { plays: 10 })
    assert.deepEqual(fromDeal[0]!.price, { amount: 14n, currency: 'EUR' }, '10 plays × 0.01 EUR + 40 %')
  })
})
