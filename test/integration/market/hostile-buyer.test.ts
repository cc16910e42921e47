import assert from 'node:assert/strict'
import { SeededRandom } from '../../../keys/random.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL } from '../../../protocols/clearing/index.ts'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import { PURCHASE_CODES } from '../../../protocols/purchase/index.ts'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import { decodeRecordAs } from '../../../protocols/records/envelope.ts'
import { registerDevice, requestReissue } from '../../../protocols/register/client.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import type { UsageEvent } from '../../../protocols/usage/index.ts'
import { AUTHORISATION_TTL_MS } from '../../../roles/clearinghouse/constants.ts'
import { accountIdOf, retailerParticipant } from '../../../roles/clearinghouse/participants.ts'
import { buildReport, sendReport } from '../../../roles/player/reports.ts'
import { createHostileMarket, type HostileMarket, ISRC } from './hostile.ts'

const HOUR = 3_600_000

/**
 * Issue 11: the purchase path against a hostile buyer, every service real. Each test is one of the issue's
 * findings, played as the attacker played it (the buyer's own keys, the stock protocols), and fails on the code
 * before the fix.
 */
describe('market: a hostile buyer (issue 11)', function () {
  this.timeout(120_000)
  let m: HostileMarket

  before(async () => {
    m = await createHostileMarket()
    await m.fund(100_00n, 'top-up-1')
  })

  after(async () => {
    await m?.stop()
  })

  /** The attacker (holding the account key) calls the clearinghouse as the buyer. */
  const asBuyer = (op: string, body: unknown) =>
    rpcCall(
      m.attacker.libp2p,
      peerIdOfKey(m.keys.clearinghouse.signer.publicKey),
      m.attacker.network.protocol(CLEARING_PROTOCOL),
      op,
      body,
    )

  const reissue = (purchaseId: string) =>
    requestReissue(m.buyer.libp2p, m.buyer.network, {
      purchaseId,
      device: m.device,
      signer: m.keys.buyer.signer,
      now: m.clock.now(),
    })

  /** Every licence the registrar issued for a purchase, and a reissue raced the moment one is. */
  function watchLicences(purchaseId: string) {
    const issued: SignedRecord<'consort/licence'>[] = []
    const raced: Array<Promise<unknown>> = []
    const listener = (event: Event) => {
      const detail = (event as CustomEvent<{ purchaseId: string; licence: SignedRecord<'consort/licence'> }>).detail
      if (detail.purchaseId !== purchaseId) return
      issued.push(detail.licence)
      // The device asks for its licence at once, before the retailer's failed capture leads to a withdrawal.
      raced.push(reissue(purchaseId).catch((err: unknown) => err))
    }
    m.registration.registrar.addEventListener('licence:issued', listener)
    return {
      issued,
      async done() {
        m.registration.registrar.removeEventListener('licence:issued', listener)
        return Promise.all(raced)
      },
    }
  }

  it('finding 1: a buyer who authorises, voids and then buys gets no licence and pays nothing', async () => {
    const sale = await m.onSale('void-race')
    const before = await m.wallet()
    const order = m.order(sale, 'void-race-1')
    const attachments = m.retailer.credentials.attachments().map((a) => a.bytes)
    // 1. The buyer sends its own signed order to the clearinghouse's authorise, then voids it itself.
    await asBuyer(CLEARING_OPS.authorise, {
      order,
      offer: sale.offer.bytes,
      certification: sale.certification.bytes,
      device: m.device.bytes,
      attachments,
    })
    assert.deepEqual(await asBuyer(CLEARING_OPS.void, { purchaseId: 'void-race-1', reason: 'mine', order: null }), {
      voided: true,
    })
    // 2. Then it sends the same order to the retailer, racing a reissue the moment any licence is issued.
    const watch = watchLicences('void-race-1')
    const bought = await m.buy(order).catch((err: unknown) => err)
    const raced = await watch.done()
    assert.equal((bought as { code?: string }).code, PURCHASE_CODES.paymentRefused, String(bought))
    assert.deepEqual(watch.issued, [], 'no licence was ever issued: money before keys')
    for (const r of raced) assert.ok(r instanceof Error, 'no reissue delivered a licence')
    await assert.rejects(reissue('void-race-1'), { code: 'ERR_NOT_FOUND' })
    assert.equal(await m.wallet(), before, 'the wallet is unchanged: nothing held, nothing charged')
    assert.equal((await m.shop.purchases.status('void-race-1'))?.state, 'voided')
    const audit = await m.house.engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('finding 1: an authorisation that expired is never answered as authorised again', async () => {
    const sale = await m.onSale('expiry-race')
    const before = await m.wallet()
    const order = m.order(sale, 'expiry-race-1')
    await asBuyer(CLEARING_OPS.authorise, {
      order,
      offer: sale.offer.bytes,
      certification: sale.certification.bytes,
      device: m.device.bytes,
      attachments: m.retailer.credentials.attachments().map((a) => a.bytes),
    })
    // The authorisation lapses (the order itself is still young enough to be authorised).
    m.clock.advance(AUTHORISATION_TTL_MS + 60_000)
    await m.house.tick()
    const watch = watchLicences('expiry-race-1')
    const bought = await m.buy(order).catch((err: unknown) => err)
    await watch.done()
    assert.equal((bought as { code?: string }).code, PURCHASE_CODES.paymentRefused, String(bought))
    assert.deepEqual(watch.issued, [], 'no licence was ever issued')
    assert.equal(await m.wallet(), before)
    const audit = await m.house.engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('finding 1: an honest purchase still sells once, captured before its licence', async () => {
    const sale = await m.onSale('honest')
    const before = await m.wallet()
    const order = m.order(sale, 'honest-1')
    const first = await m.buy(order)
    const again = await m.buy(order)
    assert.deepEqual(again, first)
    assert.equal(await m.wallet(), before - 99n)
    const row = await m.house.engine.purchases.get('honest-1')
    assert.equal(row?.state, 'captured')
    assert.deepEqual(
      (await m.shop.purchases.status('honest-1'))?.history.map((h) => h.state),
      ['started', 'authorised', 'receipted', 'captured', 'licensed'],
    )
  })

  it('finding 2: a "10 plays" stream licence pays 10 plays, whatever one correctly signed report claims', async () => {
    const sale = await m.onSale('ten-plays', {
      contract: 'hostile-stream',
      useType: 'OnDemandStream',
      price: { amount: 14n, currency: 'EUR' },
      rules: { plays: 10 },
    })
    const bought = await m.buy(m.order(sale, 'ten-plays-1'))
    const licence = decodeRecordAs('consort/licence', bought.licence, { network: m.net.name, now: m.clock.now() })
    m.clock.advance(12 * HOUR)
    const retailer = accountIdOf(retailerParticipant(m.keys.retailer.signer.publicKey), 'EUR')
    const owned = async () => {
      const b = await m.house.engine.ledger.balance(retailer)
      return b.creditsPosted - b.debitsPosted
    }
    const before = await owned()
    // The device signs 600 plays of 40 s, back-dated and spread over the last ten hours (60 an hour).
    const start = m.clock.now() - 10 * HOUR
    const events: UsageEvent[] = Array.from({ length: 600 }, (_, i) => ({
      eventId: `e-forged-${i}`,
      kind: 'play',
      isrc: ISRC,
      purchaseId: licence.body.purchaseId,
      licence: licence.id,
      offer: licence.body.offer,
      contract: licence.body.contract,
      startedAt: start + i * 60_000,
      seconds: 40,
    }))
    const report = buildReport({
      network: m.buyer.network,
      device: m.keys.buyer.signer,
      account: m.keys.account.signer.publicKey,
      seq: 0,
      prev: null,
      events,
      now: m.clock.now(),
      random: new SeededRandom('forged-plays'),
    })
    const ack = await sendReport(
      m.buyer.libp2p,
      m.buyer.network,
      m.keys.clearinghouse.signer.publicKey,
      report,
      m.device,
      undefined,
      [licence],
    )
    assert.equal(ack.status, 'held', 'the acknowledgement says plays were not paid')
    assert.ok(ack.unpaid.some((u) => u.reason === 'beyond-licence'))
    // One cent a play under the per-play contract (the clearing fee on a cent rounds to nothing): ten plays.
    assert.equal(await owned(), before - 10n, 'the retailer pays for the licence’s 10 plays, not 600')
    const audit = await m.house.engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('finding 4: a Worldwide listener cannot buy an offer sold only in IN by saying it is in IN', async () => {
    const sale = await m.onSale('only-in', { territories: ['IN'] })
    const before = await m.wallet()
    // The stock retailer: the order's territory is not the account's attested one.
    await assert.rejects(m.buy(m.order(sale, 'claims-in-1', { territory: 'IN' })), { code: PURCHASE_CODES.territory })
    // The clearinghouse, asked directly: no money is held for an order whose territory the registrar did not attest.
    await assert.rejects(
      asBuyer(CLEARING_OPS.authorise, {
        order: m.order(sale, 'claims-in-2', { territory: 'IN' }),
        offer: sale.offer.bytes,
        certification: sale.certification.bytes,
        device: m.device.bytes,
        attachments: m.retailer.credentials.attachments().map((a) => a.bytes),
      }),
      (err: Error & { code?: string }) => err.code === 'ERR_ORDER_INVALID' && /attests/.test(err.message),
    )
    // An honest order for its real territory is not sold the offer either.
    await assert.rejects(m.buy(m.order(sale, 'claims-in-3')), { code: PURCHASE_CODES.territory })
    assert.equal(await m.wallet(), before, 'nothing held, nothing charged')

    // The registration manager's operator attests the account in IN: its device gets a record that says so, and sells.
    await m.registration.registrar.devices.attestTerritory(m.keys.account.signer.publicKey, 'IN')
    const attested = await registerDevice(m.buyer.libp2p, m.buyer.network, {
      account: m.keys.account.signer,
      device: m.keys.buyer.signer,
      sealingKey: m.keys.buyer.sealing.publicKey,
      name: 'test player',
      now: m.clock.now(),
    })
    assert.equal(attested.body.territory, 'IN')
    const bought = await m.buy(m.order(sale, 'in-for-real', { territory: 'IN' }), attested)
    assert.ok(bought.licence.length > 0)
  })
})
