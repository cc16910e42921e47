import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { ConsortNode } from '../../node/consort-node.ts'
import { FakeClock } from '../../protocols/clock.ts'
import { signPurchaseOrder } from '../../protocols/purchase/order.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { queryCertifiedOffers } from '../../protocols/reference/offers.ts'
import { decodeShareLink } from '../../protocols/share/index.ts'
import { periodOf, retailerParticipant, walletParticipant } from '../../roles/clearinghouse/index.ts'
import { MemorySink } from '../../roles/player/index.ts'
import { sendBuy } from '../../roles/player/purchase.ts'
import { SAMPLE_ISRC } from '../../roles/production/index.ts'
import { type ChainWorld, startChainWorld, type WorldListener } from '../helpers/chain-world.ts'
import { publishSampleDownloadContract } from '../helpers/sample-contract.ts'
import { waitUntil } from '../helpers/wait.ts'

/**
 * Share and refer end to end (issue 19, decisions 0512 and 0708), every role real on the memory transport. A label
 * publishes the sample release with a download contract whose referral clause pays 10 % of a sale from the
 * retailer's margin to whoever referred it. Two retailers sell it: Harbour in GB only and dearer, Corner worldwide.
 * Alice (GB) shares the track recommending Harbour's offer; Bob (FR) opens the share: the preview plays from the swarm
 * at once, and the offers are those for France (Harbour's is not sold there); Carol (GB) opens it and sees Harbour's
 * offer first though Corner's is cheaper. Bob buys with the share: Alice's statement shows the referral to the cent.
 * Then what must earn nothing: the same share on Bob's second purchase, an altered share (refused when opened; forced
 * into an order by a buyer who signs its own, still nothing), and Alice buying through her own share.
 */
describe('e2e: share → open (preview, offers in the territory) → buy with the share → referral on the statement', function () {
  this.timeout(300_000)
  const clock = new FakeClock(Date.UTC(2026, 11, 7, 9))
  const REFERRAL_BPS = 1000
  const CORNER_PRICE = 250n
  const HARBOUR_PRICE = 300n
  let world: ChainWorld
  let alice: WorldListener
  let bob: WorldListener
  let carol: WorldListener
  let link: string
  /** What the referral contract covers (the release): what its offers sell. */
  let sold: string

  before(async () => {
    world = await startChainWorld({
      clock,
      retailers: { harbour: {}, corner: {} },
      // The storefronts' pages read the catalog over its protocol.
      extras: { catalog: ['catalog'] },
      listeners: { alice: { territory: 'GB' }, bob: { territory: 'FR' }, carol: { territory: 'GB' } },
    })
    alice = world.listeners.get('alice')!
    bob = world.listeners.get('bob')!
    carol = world.listeners.get('carol')!
    // A new version of the download contract with a referral clause: 10 % of the price, from the retailer's margin.
    const contract = await publishSampleDownloadContract(
      {
        clock,
        label: world.label,
        labelKeys: world.keys.label,
        retailers: [...world.retailers.values()].map((r) => r.node),
        reference: world.reference,
        house: world.house,
      },
      { referral: { bps: REFERRAL_BPS, from: 'retailer', referrers: ['account', 'retailer'] } },
    )
    sold = contract.body.content[0]!
    const offer = async (shop: ConsortNode, offerId: string, amount: bigint, territories: string[]) => {
      const made = await shop.role('retailer').offers.create({
        offerId,
        content: contract.body.content,
        contract: contract.id.toString(),
        price: { amount, currency: 'EUR' },
        useType: 'PermanentDownload',
        rules: {},
        territories,
      })
      assert.equal(made.status, 'certified', JSON.stringify(made.failures))
    }
    await offer(world.retailers.get('harbour')!.node, 'harbour-download', HARBOUR_PRICE, ['GB'])
    await offer(world.retailers.get('corner')!.node, 'corner-download', CORNER_PRICE, ['Worldwide'])
    for (const listener of [alice, bob, carol]) {
      await waitUntil(() => listener.player.directory.manifestFor(SAMPLE_ISRC) !== undefined)
      await world.fund(listener, 20_00n)
    }
  })

  after(async () => await world?.stop())

  /** Everything the referrer's statements this period credit it for referrals (a listener's account, a store's key). */
  async function referralCredits(referrer: WorldListener | NodeKeys): Promise<bigint> {
    const statements = world.house.role('clearinghouse').engine.statements
    const key = 'account' in referrer ? referrer.account.signer.publicKey : referrer.signer.publicKey
    let total = 0n
    for (const participant of await statements.participantsOfKey(toHex(key))) {
      for (const statement of await statements.build(periodOf(clock.now()), participant)) {
        for (const part of statement.parts) {
          for (const line of part.record.body.lines)
            if ((line.kind as string) === 'referral') total += BigInt(line.amount)
        }
      }
    }
    return total
  }

  it('a listener shares a track as its account, recommending an offer', async () => {
    // Alice lists the offers for her territory first, so that her player knows the offer she recommends.
    await alice.player.offers(`isrc:${SAMPLE_ISRC}`)
    const share = await alice.player.share(`isrc:${SAMPLE_ISRC}`, { offer: 'harbour-download', ttlMs: 7 * 86_400_000 })
    assert.equal(share.referrer.kind, 'account')
    assert.equal(share.referrer.key, toHex(alice.account.signer.publicKey))
    assert.equal(share.content.track, `isrc:${SAMPLE_ISRC}`)
    assert.equal(share.content.release, sold, 'and the release it is on, whose offers it may be bought through')
    assert.equal(share.offer, 'harbour-download')
    assert.equal(share.expires, clock.now() + 7 * 86_400_000)
    assert.ok(share.link.startsWith('consort://share/'), share.link)
    assert.ok(share.link.length < 700, `small enough for a QR code: ${share.link.length} characters`)
    link = share.link
    await assert.rejects(alice.player.share(`isrc:${SAMPLE_ISRC}`, { ttlMs: 1000 }), { code: 'ERR_BAD_REQUEST' })
    await assert.rejects(alice.player.share('isrc:ZZZZZ0000000'), (err: Error & { code?: string }) => !!err.code)
  })

  it('a listener in another territory opens it: the preview plays from the swarm at once, and the offers are those sold there', async () => {
    const sink = new MemorySink()
    const opened = await bob.player.openShare(link, { sink })
    assert.equal(opened.share.referrer.key, toHex(alice.account.signer.publicKey))
    assert.equal(opened.own, false)
    assert.ok(opened.preview?.played, JSON.stringify(opened.preview))
    assert.ok((opened.preview?.seconds ?? 0) > 0)
    assert.ok(sink.bytes().length > 0, 'the preview audio reached the sink')
    assert.equal(opened.territory, 'FR')
    assert.deepEqual(
      opened.offers.map((o) => o.offerId),
      ['corner-download'],
    )
    assert.equal(opened.sharedOffer, 'not-sold-here', 'Harbour sells in GB only')
    assert.equal(opened.referrerSellsHere, false)
  })

  it("a release's share previews its first track and lists the release's offers", async () => {
    const album = await alice.player.share(sold)
    assert.equal(album.content.track, null)
    assert.equal(album.content.release, sold)
    assert.equal(album.content.manifest, alice.player.directory.manifestFor(SAMPLE_ISRC)!.id.toString())
    const sink = new MemorySink()
    const opened = await bob.player.openShare(album.text, { sink })
    assert.ok(opened.preview?.played, JSON.stringify(opened.preview))
    assert.ok(sink.bytes().length > 0)
    assert.deepEqual(
      opened.offers.map((o) => o.offerId),
      ['corner-download'],
    )
    assert.equal(opened.sharedOffer, null, 'it recommends no offer')
  })

  it("in the referrer's retailer's territory, its offer comes first, though another is cheaper", async () => {
    const opened = await carol.player.openShare(link, { preview: false })
    assert.equal(opened.preview, null)
    assert.equal(opened.territory, 'GB')
    assert.deepEqual(
      opened.offers.map((o) => [o.offerId, o.shared, o.fromReferrer]),
      [
        ['harbour-download', true, true],
        ['corner-download', false, false],
      ],
    )
    assert.equal(opened.sharedOffer, 'listed')
  })

  it('buying with the share credits the referrer on its statement, to the cent; the same share again earns nothing', async () => {
    const market = await bob.player.offers(`isrc:${SAMPLE_ISRC}`)
    const corner = market.offers.find((o) => o.offerId === 'corner-download')!
    const before = await referralCredits(alice)
    const retailer = retailerParticipant(world.retailers.get('corner')!.keys.signer.publicKey)
    const wallet = walletParticipant(alice.account.signer.publicKey)
    const [retailerBefore, walletBefore] = [await world.balance(retailer), await world.balance(wallet)]
    const bought = await bob.player.buy(corner.offer, { share: link })
    assert.equal(bought.price.amount, CORNER_PRICE)
    const credited = (CORNER_PRICE * BigInt(REFERRAL_BPS)) / 10_000n
    assert.equal(credited, 25n)
    assert.equal(await referralCredits(alice), before + credited, 'the referral: 10 % of 2.50 EUR = 0.25 EUR')
    assert.equal(await world.balance(wallet), walletBefore + credited, "in Alice's wallet")
    const firstSale = (await world.balance(retailer)) - retailerBefore
    // Bob buys again through the same share: a second purchase, no second credit; the retailer keeps the 0.25 this time.
    const again = await bob.player.buy(corner.offer, { share: link, again: true })
    assert.notEqual(again.purchaseId, bought.purchaseId)
    assert.equal(await referralCredits(alice), before + credited, 'a share credits its referrer once per buyer')
    assert.equal(await world.balance(wallet), walletBefore + credited)
    const secondSale = (await world.balance(retailer)) - retailerBefore - firstSale
    assert.equal(secondSale - firstSale, credited, "the first sale's referral came out of Corner's margin, to the cent")
    assert.deepEqual(await world.house.role('clearinghouse').engine.ledger.audit(), [])
  })

  it('an altered share is refused when opened and, forced into an order, earns nothing', async () => {
    const original = alice.player.readShare(link)
    // Bob swaps the recommended offer in the signed body: the signature no longer covers it.
    const share = decodeShareLink(original.text, { network: world.net.name, now: clock.now() })
    const forgedBytes = reencode(share, { ...share.body, offer: 'corner-download' })
    const forgedLink = `consort://share/${Buffer.from(forgedBytes).toString('base64url')}`
    await assert.rejects(carol.player.openShare(forgedLink, { preview: false }), { code: 'ERR_SHARE_SIGNATURE' })
    await assert.rejects(carol.player.buy('harbour-download', { share: forgedLink }), { code: 'ERR_SHARE_SIGNATURE' })
    await assert.rejects(bob.player.openShare('consort://share/not*a*share'), { code: 'ERR_SHARE_LINK' })
    await assert.rejects(bob.player.openShare(`${original.text.slice(0, 40)}`), (err: Error & { code?: string }) =>
      ['ERR_NOT_A_SHARE', 'ERR_SHARE_ENCODING'].includes(err.code ?? ''),
    )

    // Carol signs an order of her own that carries the forged share: the purchase is hers, the credit no one's.
    const before = await referralCredits(alice)
    const device = await carol.player.ensureDevice()
    const answer = await queryCertifiedOffers(
      {
        libp2p: carol.node.libp2p,
        network: carol.node.network,
        trust: carol.node.trust,
        clock,
      },
      { content: sold, territory: 'GB' },
    )
    const harbour = answer.offers.find((o) => o.offer.body.offerId === 'harbour-download')!
    const order = signPurchaseOrder(
      {
        network: world.net.name,
        purchaseId: 'p-forced-share-1',
        offer: harbour.offer.id,
        certification: harbour.certification.id,
        retailer: harbour.offer.signer,
        clearinghouse: world.keys.clearinghouse.signer.publicKey,
        account: carol.account.signer.publicKey,
        device: device.body.device,
        price: harbour.offer.body.price,
        territory: 'GB',
        created: clock.now(),
        share: forgedBytes,
      },
      carol.account.signer,
    )
    // A share that earns nothing never refuses the sale (decision 0512): Carol is sold the offer, and nobody credited.
    const forcedSale = await sendBuy({
      libp2p: carol.node.libp2p,
      network: carol.node.network,
      order,
      device,
      attempts: 1,
    })
    assert.ok(forcedSale.receipt.length > 0 && forcedSale.licence.length > 0, 'the purchase went through')
    assert.equal(await referralCredits(alice), before, 'a forged share earns nothing')
  })

  it('a listener buying through its own share earns nothing', async () => {
    const market = await alice.player.offers(`isrc:${SAMPLE_ISRC}`)
    const harbour = market.offers.find((o) => o.offerId === 'harbour-download')!
    const opened = await alice.player.openShare(link, { preview: false })
    assert.equal(opened.own, true)
    const before = await referralCredits(alice)
    const bought = await alice.player.buy(harbour.offer, { share: link })
    assert.equal(bought.price.amount, HARBOUR_PRICE)
    assert.equal(await referralCredits(alice), before, 'no credit to oneself')
    assert.deepEqual(await world.house.role('clearinghouse').engine.ledger.audit(), [])
  })

  it("a store's share link from its track page: opened in a player where the store does not sell, another store's sale credits it", async () => {
    const harbour = world.retailers.get('harbour')!
    const store = harbour.node.role('retailer').storefront.url!
    const track = await fetch(`${store}/track/${encodeURIComponent(`isrc:${SAMPLE_ISRC}`)}`)
    const html = await track.text()
    assert.equal(track.status, 200, html)
    const storeLink = html.match(/id="share-link"[^>]* value="([^"]+)"/)?.[1]
    assert.ok(storeLink?.startsWith(`${store}/share/`), `the track page carries the store's share: ${storeLink}`)
    const opened = await bob.player.openShare(storeLink!, { preview: false })
    assert.equal(opened.share.referrer.kind, 'retailer')
    assert.equal(opened.share.referrer.key, toHex(harbour.keys.signer.publicKey))
    assert.equal(opened.share.offer, 'harbour-download', 'the store recommends its own (cheapest) offer')
    assert.equal(opened.sharedOffer, 'not-sold-here')
    assert.deepEqual(
      opened.offers.map((o) => o.offerId),
      ['corner-download'],
    )
    const before = await referralCredits(harbour.keys)
    await bob.player.buy(opened.offers[0]!.offer, { share: storeLink!, again: true })
    assert.equal(
      await referralCredits(harbour.keys),
      before + (CORNER_PRICE * BigInt(REFERRAL_BPS)) / 10_000n,
      "Corner's sale credits Harbour, whose share it came through, 0.25 EUR",
    )
  })

  it('an expired share is refused when opened and when buying, saying when it expired', async () => {
    const short = await alice.player.share(`isrc:${SAMPLE_ISRC}`, { ttlMs: 60_000 })
    clock.advance(61_000)
    await assert.rejects(bob.player.openShare(short.link, { preview: false }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_SHARE_EXPIRED')
      assert.match(err.message, new RegExp(new Date(short.expires).toISOString()))
      return true
    })
    const market = await bob.player.offers(`isrc:${SAMPLE_ISRC}`)
    await assert.rejects(bob.player.buy(market.offers[0]!.offer, { share: short.link, again: true }), {
      code: 'ERR_SHARE_EXPIRED',
    })
  })
})

/** The envelope's bytes with another body under the old signature (what a forger can make). */
function reencode(share: SignedRecord<'consort/share'>, body: SignedRecord<'consort/share'>['body']): Uint8Array {
  return dagCbor.encode({ v: 1, type: share.type, body, signer: share.signer, sig: share.sig })
}
