import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { ControlApi } from '../../../node/control-api.ts'
import { topicString } from '../../../protocols/topics/names.ts'
import { consortInProcess, type Printed } from '../../helpers/cli.ts'
import { waitUntil } from '../../helpers/wait.ts'
import { createMarket, type Market, TRACK_A, waitForMesh } from '../../integration/market/market.ts'

const consort = consortInProcess

/** `consort offer …` and `consort offers …` against a running retailer node's control API. */
describe('retailer: the command line', () => {
  let market: Market & { extra: ConsortNode[] }
  let dir: string
  let dataDir: string
  let api: ControlApi

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'consort-retail-cli-'))
    dataDir = path.join(dir, 'shop')
    market = await createMarket({
      retailers: 0,
      extraNodes: [{ roles: ['retailer'], dataDir }],
    })
    const shop = market.extra[0]!
    await waitForMesh([shop, market.reference], topicString(market.net.name, 'offers'))
    await waitForMesh([shop, market.reference, market.label], topicString(market.net.name, 'contracts'))
    api = new ControlApi(shop)
    await api.start()
    await market.publishContract({ contractId: 'cli-deal' })
    await waitUntil(async () => (await consort('offer', 'list', '--data-dir', dataDir, '--json')).code === 0)
  })

  after(async () => {
    await api?.stop()
    await market?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  const base = ['--content', TRACK_A, '--contract', 'cli-deal', '--currency', 'EUR', '--use-type', 'PermanentDownload']

  it('creates a certified offer from decimal prices and usage-rule flags', async () => {
    // The retailer learns the contract from gossip; until then it asks the reference service.
    const { code, json, err } = await consort(
      'offer',
      'create',
      '--id',
      'cli-1',
      ...base,
      '--price',
      '0.99',
      '--territories',
      'de,fr',
      '--devices',
      '3',
      '--data-dir',
      dataDir,
      '--json',
    )
    assert.equal(code, 0, err)
    const view = json()
    assert.equal(view.status, 'certified')
    assert.deepEqual(view.price, { amount: '99', currency: 'EUR' })
    assert.deepEqual(view.territories, ['DE', 'FR'])
    assert.deepEqual(view.rules, { devices: 3 })
  })

  it('prints every failed clause of a refusal and exits 1', async () => {
    const { code, out } = await consort(
      'offer',
      'create',
      '--id',
      'cli-cheap',
      ...base,
      '--price',
      '0.10',
      '--territories',
      'DE,KP',
      '--devices',
      '9',
      '--data-dir',
      dataDir,
    )
    assert.equal(code, 1)
    assert.match(out, /refused/)
    assert.match(out, /✗ price: price 0\.10 EUR is below the wholesale price 0\.70 EUR/)
    assert.match(out, /✗ territory: .*KP/)
    assert.match(out, /✗ rules: offer allows 9 devices, contract at most 5/)
  })

  it('refuses a malformed price, naming the field', async () => {
    const { code, err } = await consort('offer', 'create', ...base, '--price', '0.9.9', '--data-dir', dataDir)
    assert.notEqual(code, 0)
    assert.match(err, /price/)
  })

  it('lists, updates and lists the market', async () => {
    const listed = (await consort('offer', 'list', '--data-dir', dataDir, '--json')).json()
    assert.ok(listed.some((v: Printed) => v.offerId === 'cli-1' && v.status === 'certified'))
    const updated = await consort('offer', 'update', 'cli-1', '--price', '0.89', '--data-dir', dataDir, '--json')
    assert.equal(updated.code, 0, updated.err)
    assert.equal(updated.json().seq, 1)
    assert.equal(updated.json().priceText, '0.89 EUR')
    await waitUntil(async () => {
      const market = (await consort('offers', TRACK_A, '--territory', 'DE', '--data-dir', dataDir, '--json')).json()
      return market.offers.some((o: Printed) => o.offerId === 'cli-1' && o.priceText === '0.89 EUR')
    })
    const { json, out } = await consort('offers', TRACK_A, '--territory', 'FR', '--data-dir', dataDir, '--json')
    const found = json().offers.find((o: Printed) => o.offerId === 'cli-1')
    assert.ok(found, out)
    assert.equal(found.certifier, 'reference-1')
    assert.equal(typeof found.retailerName, 'string')
    const none = (await consort('offers', TRACK_A, '--territory', 'US', '--data-dir', dataDir, '--json')).json()
    assert.equal(
      none.offers.some((o: Printed) => o.offerId === 'cli-1'),
      false,
    )
  })

  it('withdraws an offer', async () => {
    const { code, json } = await consort(
      'offer',
      'withdraw',
      'cli-1',
      '--reason',
      'sold out',
      '--data-dir',
      dataDir,
      '--json',
    )
    assert.equal(code, 0)
    assert.equal(json().status, 'withdrawn')
    assert.equal(json().note, 'sold out')
  })
})
