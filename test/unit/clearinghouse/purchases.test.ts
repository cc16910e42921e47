import assert from 'node:assert/strict'
import { peerIdOfKey } from '../../../protocols/peers.ts'
import { signPurchaseOrder } from '../../../protocols/purchase/order.ts'
import { decodeRecordAs, signRecord } from '../../../protocols/records/envelope.ts'
import type { ClearingEngine } from '../../../roles/clearinghouse/engine.ts'
import {
  accountIdOf,
  distributorParticipant,
  feeParticipant,
  retailerParticipant,
  rightsholderParticipant,
  walletParticipant,
} from '../../../roles/clearinghouse/participants.ts'
import { type Buyer, Market } from './market.ts'

async function posted(engine: ClearingEngine, participant: string, currency = 'EUR'): Promise<bigint> {
  const id = accountIdOf(participant, currency)
  if ((await engine.ledger.getAccount(id)) === undefined) return 0n
  const b = await engine.ledger.balance(id)
  return b.creditsPosted - b.debitsPosted
}

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, err.message)
    return true
  })
}

describe('clearinghouse purchases', () => {
  let m: Market
  let engine: ClearingEngine
  let buyer: Buyer

  beforeEach(async () => {
    m = await Market.create()
    ;({ engine } = await m.engine())
    buyer = await m.buyer()
    await engine.account(m.fundRequest(buyer, 1000n))
  })

  afterEach(async () => {
    await engine.close()
  })

  /** Contracts reach the clearinghouse on the contracts topic; here they are handed over directly. */
  async function learn<T extends Parameters<ClearingEngine['learnContract']>[0]>(contract: T): Promise<T> {
    await engine.learnContract(contract)
    return contract
  }

  it('authorises, captures and splits a sale by the contract', async () => {
    const contract = await learn(m.contract({ unit: 70n }))
    const offer = m.offer(contract, { price: 129n })
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification)
    const { authorisation, expiresAt } = await engine.authorise(m.authoriseBody(order, offer, certification))
    assert.ok(expiresAt > m.clock.now())
    const wallet = accountIdOf(walletParticipant(buyer.account.signer.publicKey), 'EUR')
    const reserved = await engine.ledger.balance(wallet)
    assert.equal(reserved.debitsPending, 129n)
    const receipt = m.receipt(order, authorisation)
    const { captured, payment } = await engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes })
    assert.equal(captured, true)
    // The proof a registrar licenses against: signed by this clearinghouse, for exactly this receipt and buyer.
    const proof = decodeRecordAs('consort/payment', payment, { network: m.network.name, now: m.clock.now() })
    assert.deepEqual(proof.signer, m.clearinghouse.signer.publicKey)
    assert.ok(proof.body.receipt.equals(receipt.id))
    assert.deepEqual(proof.body.price, { amount: 129n, currency: 'EUR' })
    assert.deepEqual(proof.body.device, buyer.devices[0]!.keys.signer.publicKey)
    // 3% of 129 is 3.87: the fee rounds down to 3; wholesale 70 is split 70/30 to the rights holders.
    assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 1000n - 129n)
    assert.equal(await posted(engine, retailerParticipant(m.retailer.signer.publicKey)), 129n - 70n - 3n)
    assert.equal(await posted(engine, distributorParticipant(m.distributor.signer.publicKey)), 0n)
    assert.equal(await posted(engine, rightsholderParticipant('label:acme')), 49n)
    assert.equal(await posted(engine, rightsholderParticipant('artist:jane')), 21n)
    assert.equal(await posted(engine, feeParticipant(m.clearinghouse.signer.publicKey)), 3n)
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('answers every retry of authorise, capture and void with the first outcome', async () => {
    const contract = await learn(m.contract())
    const offer = m.offer(contract)
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification)
    const body = m.authoriseBody(order, offer, certification)
    const first = await engine.authorise(body)
    m.clock.advance(1000)
    assert.deepEqual(await engine.authorise(body), first)
    const receipt = m.receipt(order, first.authorisation)
    const capture = { purchaseId: order.order.purchaseId, receipt: receipt.bytes }
    const once = await engine.capture(capture)
    assert.deepEqual(await engine.capture(capture), once, 'the same payment record on a retry')
    assert.deepEqual(await engine.authorise(body), first)
    await rejects(
      engine.void({ purchaseId: order.order.purchaseId, reason: 'late', order: null }),
      'ERR_ALREADY_CAPTURED',
    )
    assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 1000n - 129n)
  })

  it('refuses to take money without a valid order, offer and certification', async () => {
    const contract = await learn(m.contract())
    const offer = m.offer(contract)
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification)
    const tampered = { ...order, order: { ...order.order, price: { amount: 1n, currency: 'EUR' as const } } }
    await rejects(engine.authorise(m.authoriseBody(tampered, offer, certification)), 'ERR_ORDER_INVALID')
    const cheap = m.order(buyer, offer, certification, m.id('p'), { amount: 1n, currency: 'EUR' })
    await rejects(engine.authorise(m.authoriseBody(cheap, offer, certification)), 'ERR_ORDER_INVALID')
    const selfCertified = m.certification(offer, contract, m.retailer)
    const order2 = m.order(buyer, offer, selfCertified)
    await rejects(engine.authorise(m.authoriseBody(order2, offer, selfCertified)), 'ERR_ORDER_INVALID')
    const other = m.offer(contract)
    const wrongCert = m.certification(other, contract)
    const order3 = m.order(buyer, offer, wrongCert)
    await rejects(engine.authorise(m.authoriseBody(order3, offer, wrongCert)), 'ERR_ORDER_INVALID')
    // An order signed by someone else than the account it charges.
    const thief = await m.buyer()
    const stolen = signPurchaseOrder({ ...order.order, purchaseId: m.id('p') }, thief.account.signer)
    await rejects(engine.authorise(m.authoriseBody(stolen, offer, certification)), 'ERR_ORDER_INVALID')
    // The offer's signer holds no retailer certificate.
    const rogue = signRecord('consort/offer', { ...offer.body, offerId: 'rogue' }, thief.account.signer)
    const rogueCert = m.certification(rogue, contract)
    const order4 = signPurchaseOrder(
      { ...m.order(buyer, rogue, rogueCert).order, retailer: thief.account.signer.publicKey },
      buyer.account.signer,
    )
    await rejects(
      engine.authorise({
        order: order4,
        offer: rogue.bytes,
        certification: rogueCert.bytes,
        device: buyer.devices[0]!.registration.bytes,
        attachments: [],
      }),
      'ERR_ORDER_INVALID',
    )
    // An expired certification.
    const old = m.certification(offer, contract)
    m.clock.advance(2 * 86_400_000)
    const order5 = m.order(buyer, offer, old)
    await rejects(engine.authorise(m.authoriseBody(order5, offer, old)), 'ERR_ORDER_INVALID')
    assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 1000n)
    const b = await engine.ledger.balance(accountIdOf(walletParticipant(buyer.account.signer.publicKey), 'EUR'))
    assert.equal(b.debitsPending, 0n)
  })

  it('refuses an order whose purchase id was used for another order', async () => {
    const contract = await learn(m.contract())
    const offer = m.offer(contract)
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification, 'p-1')
    await engine.authorise(m.authoriseBody(order, offer, certification))
    const other = m.order(buyer, m.offer(contract), certification, 'p-1')
    await rejects(engine.authorise(m.authoriseBody(other, offer, certification)), 'ERR_ORDER_INVALID')
  })

  it('refuses an authorisation beyond the wallet for good, and leaves no reservation', async () => {
    const contract = await learn(m.contract())
    const offer = m.offer(contract, { price: 2000n })
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification)
    await rejects(engine.authorise(m.authoriseBody(order, offer, certification)), 'ERR_INSUFFICIENT_FUNDS')
    await engine.account(m.fundRequest(buyer, 1500n))
    // The refusal is the purchase's answer for good: a retry cannot charge a buyer who was told "refused".
    await rejects(engine.authorise(m.authoriseBody(order, offer, certification)), 'ERR_INSUFFICIENT_FUNDS')
    assert.deepEqual(await engine.void({ purchaseId: order.order.purchaseId, reason: 'refused', order: null }), {
      voided: false,
    })
    const again = m.order(buyer, offer, certification)
    const { authorisation } = await engine.authorise(m.authoriseBody(again, offer, certification))
    assert.match(authorisation, /^auth:/)
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('voids: only for the retailer or the buyer, once, releasing the reservation', async () => {
    const contract = await learn(m.contract())
    const offer = m.offer(contract)
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification)
    await engine.authorise(m.authoriseBody(order, offer, certification))
    const stranger = await m.buyer()
    await rejects(
      engine.void(
        { purchaseId: order.order.purchaseId, reason: 'x', order: null },
        peerIdOfKey(stranger.account.signer.publicKey),
      ),
      'ERR_UNAUTHORISED',
    )
    const retailerPeer = peerIdOfKey(m.retailer.signer.publicKey)
    assert.deepEqual(
      await engine.void({ purchaseId: order.order.purchaseId, reason: 'no licence', order: null }, retailerPeer),
      {
        voided: true,
      },
    )
    assert.deepEqual(await engine.void({ purchaseId: order.order.purchaseId, reason: 'again', order: null }), {
      voided: true,
    })
    const b = await engine.ledger.balance(accountIdOf(walletParticipant(buyer.account.signer.publicKey), 'EUR'))
    assert.equal(b.debitsPending, 0n)
    assert.equal(b.creditsPosted - b.debitsPosted, 1000n)
    const receipt = m.receipt(order, 'x')
    await rejects(engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes }), 'ERR_ALREADY_VOIDED')
  })

  it('lets an abandoned authorisation void itself when it expires', async () => {
    const contract = await learn(m.contract())
    const offer = m.offer(contract)
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification)
    const { authorisation, expiresAt } = await engine.authorise(m.authoriseBody(order, offer, certification))
    m.clock.set(expiresAt + 1)
    await engine.tick()
    assert.equal((await engine.purchases.get(order.order.purchaseId))?.state, 'expired')
    const receipt = m.receipt(order, authorisation)
    await rejects(
      engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes }),
      'ERR_AUTHORISATION_EXPIRED',
    )
    assert.deepEqual(await engine.void({ purchaseId: order.order.purchaseId, reason: 'late', order: null }), {
      voided: false,
    })
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('refuses a capture whose receipt does not match the purchase', async () => {
    const contract = await learn(m.contract())
    const offer = m.offer(contract)
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification)
    const { authorisation } = await engine.authorise(m.authoriseBody(order, offer, certification))
    const receipt = m.receipt(order, authorisation)
    const capture = (r: Uint8Array) => engine.capture({ purchaseId: order.order.purchaseId, receipt: r })
    // A receipt signed by someone else than the purchase's retailer.
    const forged = signRecord('consort/receipt', receipt.body, buyer.account.signer)
    await rejects(capture(forged.bytes), 'ERR_LICENCE_MISMATCH')
    // A receipt for another authorisation, another price.
    await rejects(capture(m.receipt(order, 'auth:other').bytes), 'ERR_LICENCE_MISMATCH')
    const cheaper = signRecord(
      'consort/receipt',
      { ...receipt.body, price: { amount: 1n, currency: 'EUR' } },
      m.retailer.signer,
    )
    await rejects(capture(cheaper.bytes), 'ERR_LICENCE_MISMATCH')
    await rejects(engine.capture({ purchaseId: 'nope', receipt: receipt.bytes }), 'ERR_AUTHORISATION_UNKNOWN')
    assert.equal((await engine.purchases.get(order.order.purchaseId))?.state, 'authorised')
    await capture(receipt.bytes)
    assert.equal((await engine.purchases.get(order.order.purchaseId))?.state, 'captured')
  })

  it('lets the distributor bear a promotion below wholesale, and the retailer a plain sale below cost', async () => {
    const contract = await learn(m.contract({ unit: 100n }))
    const promo = m.offer(contract, { price: 50n, promotion: true })
    await m.purchase(engine, buyer, contract, promo)
    // fee 1 (3% of 50), the distributor gets the rest, the retailer nothing.
    assert.equal(await posted(engine, retailerParticipant(m.retailer.signer.publicKey)), 0n)
    assert.equal(await posted(engine, rightsholderParticipant('label:acme')), 34n)
    assert.equal(await posted(engine, rightsholderParticipant('artist:jane')), 15n)
    const plain = m.offer(contract, { price: 50n })
    await m.purchase(engine, buyer, contract, plain)
    // Outside a promotion the distributor gets its full wholesale price and the retailer owes the difference.
    assert.equal(await posted(engine, retailerParticipant(m.retailer.signer.publicKey)), 50n - 100n - 1n)
    assert.equal(await posted(engine, rightsholderParticipant('label:acme')), 34n + 70n)
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  })

  it('captures a free promotion without moving money but records the sale', async () => {
    const contract = await learn(m.contract({ unit: 100n }))
    const free = m.offer(contract, { price: 0n, promotion: true })
    const { purchaseId } = await m.purchase(engine, buyer, contract, free)
    assert.equal((await engine.purchases.get(purchaseId))?.state, 'captured')
    const [statement] = await engine.statements.build('2026-11', retailerParticipant(m.retailer.signer.publicKey))
    assert.ok(
      statement?.parts[0]?.record.body.lines.some((l) => l.ref === purchaseId && l.kind === 'sale' && l.units === 1),
    )
    assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 1000n)
  })

  it('refuses a pay-as-you-go capture whose contract has no price in the sale currency', async () => {
    const contract = await learn(m.contract({ unit: 70n, currency: 'USD' }))
    const offer = m.offer(contract, { price: 129n, currency: 'EUR' })
    const certification = m.certification(offer, contract)
    const order = m.order(buyer, offer, certification)
    const { authorisation } = await engine.authorise(m.authoriseBody(order, offer, certification))
    const receipt = m.receipt(order, authorisation)
    await rejects(
      engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes }),
      'ERR_CONTRACT_NOT_PRICED',
    )
  })

  describe('an end before the capture is final, whoever asks and in whatever order (issue 11, finding 1)', () => {
    it('never authorises again a purchase its buyer voided: the retailer asking next gets the void', async () => {
      const contract = await learn(m.contract())
      const offer = m.offer(contract)
      const certification = m.certification(offer, contract)
      const order = m.order(buyer, offer, certification)
      const body = m.authoriseBody(order, offer, certification)
      // The buyer authorises its own order, then voids it...
      await engine.authorise(body)
      const buyerPeer = peerIdOfKey(buyer.account.signer.publicKey)
      assert.deepEqual(
        await engine.void({ purchaseId: order.order.purchaseId, reason: 'mine', order: null }, buyerPeer),
        {
          voided: true,
        },
      )
      // ...then sends the same order to the retailer: its authorisation is refused, so is any capture.
      await rejects(engine.authorise(body), 'ERR_ALREADY_VOIDED')
      await rejects(
        engine.capture({ purchaseId: order.order.purchaseId, receipt: m.receipt(order, 'auth:x').bytes }),
        'ERR_ALREADY_VOIDED',
      )
      assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 1000n)
      const audit = await engine.audit()
      assert.deepEqual([...audit.ledger, ...audit.clearing], [])
    })

    it('never authorises again a purchase whose authorisation expired', async () => {
      const contract = await learn(m.contract())
      const offer = m.offer(contract)
      const certification = m.certification(offer, contract)
      const order = m.order(buyer, offer, certification)
      const body = m.authoriseBody(order, offer, certification)
      const { expiresAt } = await engine.authorise(body)
      m.clock.set(expiresAt + 1)
      await engine.tick()
      await rejects(engine.authorise(body), 'ERR_AUTHORISATION_EXPIRED')
      const b = await engine.ledger.balance(accountIdOf(walletParticipant(buyer.account.signer.publicKey), 'EUR'))
      assert.equal(b.debitsPending, 0n)
    })

    it('keeps a void that arrives before its authorisation (with the signed order), and refuses the authorisation', async () => {
      const contract = await learn(m.contract())
      const offer = m.offer(contract)
      const certification = m.certification(offer, contract)
      const order = m.order(buyer, offer, certification)
      const retailerPeer = peerIdOfKey(m.retailer.signer.publicKey)
      // Without the order nothing is kept: no row for a stranger's purchase id.
      await rejects(
        engine.void({ purchaseId: order.order.purchaseId, reason: 'early', order: null }, retailerPeer),
        'ERR_AUTHORISATION_UNKNOWN',
      )
      assert.equal(await engine.purchases.get(order.order.purchaseId), undefined)
      // A stranger cannot cancel someone else's order.
      const stranger = await m.buyer()
      await rejects(
        engine.void(
          { purchaseId: order.order.purchaseId, reason: 'early', order },
          peerIdOfKey(stranger.account.signer.publicKey),
        ),
        'ERR_UNAUTHORISED',
      )
      assert.deepEqual(
        await engine.void({ purchaseId: order.order.purchaseId, reason: 'early', order }, retailerPeer),
        {
          voided: true,
        },
      )
      await rejects(engine.authorise(m.authoriseBody(order, offer, certification)), 'ERR_ALREADY_VOIDED')
      const b = await engine.ledger.balance(accountIdOf(walletParticipant(buyer.account.signer.publicKey), 'EUR'))
      assert.equal(b.debitsPending, 0n)
      const audit = await engine.audit()
      assert.deepEqual([...audit.ledger, ...audit.clearing], [])
    })

    it('lets nobody void a captured purchase: only a refund against the registrar withdrawal returns the money', async () => {
      const contract = await learn(m.contract({ unit: 70n }))
      const offer = m.offer(contract, { price: 129n })
      const { purchaseId, receipt } = await m.purchase(engine, buyer, contract, offer)
      const buyerPeer = peerIdOfKey(buyer.account.signer.publicKey)
      await rejects(
        engine.void({ purchaseId, reason: 'changed my mind', order: null }, buyerPeer),
        'ERR_ALREADY_CAPTURED',
      )
      // A refund needs a registrar's revocation of this very receipt: not one signed by the retailer...
      const byRetailer = signRecord(
        'consort/revocation',
        {
          network: m.network.name,
          created: m.clock.now(),
          targets: [{ kind: 'receipt', id: receipt.id }],
          reason: 'x',
        },
        m.retailer.signer,
      )
      await rejects(engine.refund({ purchaseId, withdrawal: byRetailer.bytes }), 'ERR_WITHDRAWAL_INVALID')
      // ...nor a registrar's revocation of something else.
      const other = signRecord(
        'consort/revocation',
        {
          network: m.network.name,
          created: m.clock.now(),
          targets: [
            { kind: 'receipt', id: m.receipt(m.order(buyer, offer, m.certification(offer, contract)), 'a').id },
          ],
          reason: 'x',
        },
        m.net.registrarSigner,
      )
      await rejects(engine.refund({ purchaseId, withdrawal: other.bytes }), 'ERR_WITHDRAWAL_INVALID')
      assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 1000n - 129n)
      const withdrawal = signRecord(
        'consort/revocation',
        {
          network: m.network.name,
          created: m.clock.now(),
          targets: [{ kind: 'receipt', id: receipt.id }],
          reason: 'x',
        },
        m.net.registrarSigner,
      )
      assert.deepEqual(await engine.refund({ purchaseId, withdrawal: withdrawal.bytes }), { refunded: true })
      assert.deepEqual(await engine.refund({ purchaseId, withdrawal: withdrawal.bytes }), { refunded: true })
      // Every leg went back: the wallet whole, the retailer, distributor, rights holders and fee at zero.
      assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 1000n)
      assert.equal(await posted(engine, retailerParticipant(m.retailer.signer.publicKey)), 0n)
      assert.equal(await posted(engine, rightsholderParticipant('label:acme')), 0n)
      assert.equal(await posted(engine, rightsholderParticipant('artist:jane')), 0n)
      assert.equal(await posted(engine, feeParticipant(m.clearinghouse.signer.publicKey)), 0n)
      assert.equal((await engine.purchases.get(purchaseId))?.state, 'refunded')
      await rejects(engine.capture({ purchaseId, receipt: receipt.bytes }), 'ERR_ALREADY_REFUNDED')
      const audit = await engine.audit()
      assert.deepEqual([...audit.ledger, ...audit.clearing], [])
      // The statements show the sale and its refund.
      const [statement] = await engine.statements.build('2026-11', retailerParticipant(m.retailer.signer.publicKey))
      const lines = statement?.parts.flatMap((p) => p.record.body.lines.filter((l) => l.ref === purchaseId)) ?? []
      assert.ok(lines.some((l) => l.kind === 'refund'))
      assert.equal(
        lines.reduce((sum, l) => sum + l.amount, 0n),
        0n,
      )
    })
  })
})
