import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { z } from 'zod'
import type { NodeKeys } from '../../../keys/keystore.ts'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { type PurchaseOrder, signPurchaseOrder } from '../../../protocols/purchase/order.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import type { ReferralClause } from '../../../protocols/records/types/contract.ts'
import { createShare, type ShareRecord } from '../../../protocols/share/index.ts'
import type { CertificateTrust } from '../../../protocols/trust/trust.ts'
import { checkAccountingCsv, toAccountingCsv } from '../../../roles/clearinghouse/accounting.ts'
import type { ClearingEngine } from '../../../roles/clearinghouse/engine.ts'
import {
  accountIdOf,
  distributorParticipant,
  retailerParticipant,
  rightsholderParticipant,
  walletParticipant,
} from '../../../roles/clearinghouse/participants.ts'
import { purchaseIds } from '../../../roles/clearinghouse/purchases.ts'
import { ReferralKeys, type ReferralReason, referralRow } from '../../../roles/clearinghouse/referrals.ts'
import { periodOf } from '../../../roles/clearinghouse/state.ts'
import { checkStatement } from '../../../roles/clearinghouse/statements.ts'
import { put } from '../../../roles/clearinghouse/store.ts'
import { sampleRecordCid } from '../../helpers/record-samples.ts'
import { type Buyer, ISRC, ISRC_2, Market } from './market.ts'

const DAY = 24 * 3600_000
const CLAUSE: ReferralClause = { bps: 1000, from: 'retailer', referrers: ['account', 'retailer'] }

async function posted(engine: ClearingEngine, participant: string, currency = 'EUR'): Promise<bigint> {
  const id = accountIdOf(participant, currency)
  if ((await engine.ledger.getAccount(id)) === undefined) return 0n
  const b = await engine.ledger.balance(id)
  return b.creditsPosted - b.debitsPosted
}

describe('clearinghouse: referral credits of sales made through a share', () => {
  let m: Market
  let engine: ClearingEngine
  let buyer: Buyer
  let friend: NodeKeys
  let trust: CertificateTrust

  beforeEach(async () => {
    m = await Market.create({ seed: 'referrals' })
    ;({ engine, trust } = await m.engine())
    buyer = await m.buyer(2)
    friend = await createNodeKeys(m.random)
    await engine.account(m.fundRequest(buyer, 10_000n))
  })

  afterEach(async () => {
    await engine.close()
  })

  /** A contract of its own id (with `clause`, none if null), as the contracts topic would bring it. */
  async function contract(clause: ReferralClause | null = CLAUSE, unit = 70n) {
    const plain = m.contract({ unit, contractId: m.id('contract') })
    const { referral: _none, ...body } = plain.body
    const signed = signRecord(
      'consort/contract',
      clause === null ? body : { ...body, referral: clause },
      m.distributor.signer,
    )
    await engine.learnContract(signed)
    return signed
  }

  function share(
    referrer: NodeKeys = friend,
    options: { track?: string; kind?: 'account' | 'retailer'; now?: number; ttlMs?: number } = {},
  ): ShareRecord {
    return createShare(
      {
        network: m.network.name,
        content: { track: options.track ?? `isrc:${ISRC}`, release: null, manifest: sampleRecordCid('manifest') },
        kind: options.kind ?? 'account',
        now: options.now ?? m.clock.now() - 1000,
        ttlMs: options.ttlMs ?? 7 * DAY,
        random: m.random,
      },
      referrer.signer,
    )
  }

  /** Authorise and capture a purchase of `offer` whose order carries `shareBytes`; the capture's retry answers alike. */
  async function buy(
    offer: SignedRecord<'consort/offer'>,
    c: SignedRecord<'consort/contract'>,
    shareBytes: Uint8Array | undefined,
    who: Buyer = buyer,
  ): Promise<string> {
    const certification = m.certification(offer, c)
    const plain = m.order(who, offer, certification)
    const order: PurchaseOrder =
      shareBytes === undefined ? plain : signPurchaseOrder({ ...plain.order, share: shareBytes }, who.account.signer)
    const { authorisation } = await engine.authorise(m.authoriseBody(order, offer, certification))
    const receipt = m.receipt(order, authorisation)
    await engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes })
    await engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes })
    return order.order.purchaseId
  }

  /** The sale was captured, its share credited nothing, for `reason`. */
  async function refused(purchaseId: string, reason: ReferralReason): Promise<void> {
    assert.equal((await engine.purchases.get(purchaseId))?.state, 'captured')
    const verdict = await engine.referrals.verdict(purchaseId)
    assert.equal(verdict?.reason, reason, verdict?.detail)
    assert.equal(verdict?.amount, 0n)
    assert.equal(await engine.ledger.getTransfer(purchaseIds(purchaseId).leg('x')), undefined)
  }

  async function audited(): Promise<void> {
    const audit = await engine.audit()
    assert.deepEqual([...audit.ledger, ...audit.clearing], [])
  }

  it("credits a consumer referrer 10 % of the price from the retailer's margin, to the cent, on both statements", async () => {
    const c = await contract()
    const offer = m.offer(c, { price: 129n })
    const purchaseId = await buy(offer, c, share().bytes)
    const referrer = walletParticipant(friend.signer.publicKey)
    const retailer = retailerParticipant(m.retailer.signer.publicKey)
    // ⌊129 × 1000 / 10 000⌋ = 12; the retailer's margin 129 − 70 − 3 = 56 pays it.
    assert.equal(await posted(engine, referrer), 12n)
    assert.equal(await posted(engine, retailer), 56n - 12n)
    assert.equal(await posted(engine, rightsholderParticipant('label:acme')), 49n, 'royalties untouched')
    const verdict = await engine.referrals.verdict(purchaseId)
    assert.equal(verdict?.reason, null)
    assert.equal(verdict?.amount, 12n)
    assert.equal(verdict?.referrer, referrer)
    const period = periodOf(m.clock.now())
    const [statement] = await engine.statements.build(period, referrer)
    const lines = statement!.parts.flatMap((p) => p.record.body.lines)
    assert.deepEqual(
      lines.map((l) => [l.kind, l.ref, l.amount, l.counterparty]),
      [['referral', purchaseId, 12n, retailer]],
    )
    const [ofRetailer] = await engine.statements.build(period, retailer)
    const referral = ofRetailer!.parts.flatMap((p) => p.record.body.lines).filter((l) => l.kind === 'referral')
    assert.deepEqual(
      referral.map((l) => [l.ref, l.amount, l.counterparty]),
      [[purchaseId, -12n, referrer]],
    )
    // The accounting export carries the line with its audit path, and checks as any other.
    const csv = toAccountingCsv([statement!])
    assert.match(csv, new RegExp(`,referral,${purchaseId},`))
    const check = (bytes: Uint8Array) =>
      checkStatement(bytes, {
        network: m.network.name,
        now: m.clock.now(),
        clearinghouses: [m.clearinghouse.signer.publicKey],
      })
    assert.deepEqual(checkAccountingCsv(csv, check).problems, [])
    await audited()
  })

  it('pays a distributor-paid credit out of the wholesale before the royalties are split, and credits a retailer referrer', async () => {
    const other = await createNodeKeys(m.random)
    // Its certificate reached the clearinghouse as certificates do (gossiped with its offers).
    trust.learnCert(m.net.certify(other, ['retailer']))
    const c = await contract({ bps: 2000, from: 'distributor', referrers: ['retailer'] }, 70n)
    const offer = m.offer(c, { price: 129n })
    const purchaseId = await buy(offer, c, share(other, { kind: 'retailer' }).bytes)
    // ⌊129 × 0.2⌋ = 25 from the wholesale of 70; the rights holders split 45: 31.5 → 32 and 13.5 → 13 (largest
    // remainder, ties to the larger share).
    assert.equal(await posted(engine, retailerParticipant(other.signer.publicKey)), 25n)
    assert.equal(await posted(engine, distributorParticipant(m.distributor.signer.publicKey)), 0n)
    assert.equal(await posted(engine, rightsholderParticipant('label:acme')), 32n)
    assert.equal(await posted(engine, rightsholderParticipant('artist:jane')), 13n)
    assert.equal((await engine.referrals.verdict(purchaseId))?.amount, 25n)
    // The store that sells referring its own sale, as a retailer or with its key as an "account": nothing from the
    // distributor (its margin pays it already).
    const own = await buy(offer, c, share(m.retailer, { kind: 'retailer' }).bytes)
    await refused(own, 'self-referral')
    const allKinds = await contract({ bps: 2000, from: 'distributor', referrers: ['retailer', 'account'] }, 70n)
    await refused(await buy(m.offer(allKinds, { price: 129n }), allKinds, share(m.retailer).bytes), 'self-referral')
    assert.equal(await posted(engine, retailerParticipant(other.signer.publicKey)), 25n)
    await audited()
  })

  it('caps the credit at the payer’s share of the sale, and credits nothing when it has none', async () => {
    const c = await contract({ bps: 10_000, from: 'retailer', referrers: ['account'] })
    const capped = await buy(m.offer(c, { price: 129n }), c, share().bytes)
    assert.equal((await engine.referrals.verdict(capped))?.amount, 56n, 'the whole margin, no more')
    assert.equal(await posted(engine, retailerParticipant(m.retailer.signer.publicKey)), 0n)
    const below = await buy(m.offer(c, { price: 72n }), c, share().bytes)
    await refused(below, 'nothing-to-pay')
    await audited()
  })

  it('credits nothing, and still sells, for a forged, altered, replayed, expired, self-referred or off-content share', async () => {
    const c = await contract()
    const offer = () => m.offer(c, { price: 129n })
    const wallet = walletParticipant(buyer.account.signer.publicKey)
    const referrer = walletParticipant(friend.signer.publicKey)

    // Forged: a share naming the friend as referrer, signed by someone else.
    const mallory = await createNodeKeys(m.random)
    const forged = signRecord('consort/share', { ...share().body, id: 'forged' }, mallory.signer)
    await refused(await buy(offer(), c, forged.bytes), 'bad-signature')
    // Altered: a real share with its content swapped after signing.
    const real = share()
    const envelope = dagCbor.decode(real.bytes) as { body: { content: { track: string } } }
    envelope.body.content.track = `isrc:${ISRC_2}`
    await refused(await buy(offer(), c, dagCbor.encode(envelope)), 'bad-signature')
    // Not a share at all.
    await refused(await buy(offer(), c, offer().bytes), 'invalid-share')
    // Expired at the clearinghouse's time of the purchase (whatever the buyer's clock said).
    const old = share(friend, { now: m.clock.now() - 8 * DAY })
    await refused(await buy(offer(), c, old.bytes), 'expired')
    // Self-referral: the buyer's own account, and the buyer's other device (known here from its usage reports).
    trust.learnDevice(buyer.devices[1]!.registration)
    await refused(await buy(offer(), c, share(buyer.account).bytes), 'self-referral')
    await refused(await buy(offer(), c, share(buyer.devices[1]!.keys).bytes), 'self-referral')
    // The retailer that pays the credit referring its own sale.
    await refused(await buy(offer(), c, share(m.retailer, { kind: 'retailer' }).bytes), 'referrer-pays')
    // A share of other content.
    await refused(await buy(offer(), c, share(friend, { track: `isrc:${ISRC_2}` }).bytes), 'other-content')
    assert.equal(await posted(engine, referrer), 0n)

    // A valid share credits once; the same share on the buyer's next purchase earns nothing.
    const once = share()
    await buy(offer(), c, once.bytes)
    assert.equal(await posted(engine, referrer), 12n)
    await refused(await buy(offer(), c, once.bytes), 'replayed')
    assert.equal(await posted(engine, referrer), 12n)
    // Another buyer through the same share is a new referral.
    const second = await m.buyer()
    await engine.account(m.fundRequest(second, 1000n))
    await buy(offer(), c, once.bytes, second)
    assert.equal(await posted(engine, referrer), 24n)

    // Every one of the ten sales by the first buyer went through at full price.
    assert.equal(await posted(engine, wallet), 10_000n - 10n * 129n)
    await audited()
  })

  it("judges expiry by the clearinghouse's time of the purchase: its authorisation, not the capture or the buyer", async () => {
    const c = await contract()
    const offer = m.offer(c, { price: 129n })
    const certification = m.certification(offer, c)
    const expiring = share(friend, { ttlMs: 60_000 })
    const plain = m.order(buyer, offer, certification)
    const order = signPurchaseOrder({ ...plain.order, share: expiring.bytes }, buyer.account.signer)
    const { authorisation } = await engine.authorise(m.authoriseBody(order, offer, certification))
    m.clock.advance(5 * 60_000)
    const receipt = m.receipt(order, authorisation)
    await engine.capture({ purchaseId: order.order.purchaseId, receipt: receipt.bytes })
    assert.equal((await engine.referrals.verdict(order.order.purchaseId))?.amount, 12n)
    // A buyer whose clock is behind (its order dated before the expiry) is authorised after it: nothing.
    const late = m.order(buyer, offer, certification)
    const backdated = signPurchaseOrder(
      { ...late.order, created: expiring.body.expires - 1, share: expiring.bytes },
      buyer.account.signer,
    )
    const again = await engine.authorise(m.authoriseBody(backdated, offer, certification))
    await engine.capture({
      purchaseId: late.order.purchaseId,
      receipt: m.receipt(backdated, again.authorisation).bytes,
    })
    assert.equal((await engine.referrals.verdict(late.order.purchaseId))?.reason, 'expired')
    await audited()
  })

  it('audits a referral verdict against the ledger', async () => {
    const c = await contract()
    const purchaseId = await buy(m.offer(c, { price: 129n }), c, share().bytes)
    const key = ReferralKeys.verdict(purchaseId)
    const verdict = await engine.store.get(referralRow, key)
    await engine.store.write([put(key, { ...verdict!, amount: 13n })], { sync: false })
    const audit = await engine.audit()
    assert.deepEqual(
      audit.clearing.map((v) => v.code),
      ['referral_mismatch'],
    )
  })

  it('credits nothing where the contract has no clause or does not credit that kind of referrer', async () => {
    const none = await contract(null)
    await refused(await buy(m.offer(none), none, share().bytes), 'no-clause')
    const retailersOnly = await contract({ bps: 500, from: 'retailer', referrers: ['retailer'] })
    await refused(await buy(m.offer(retailersOnly), retailersOnly, share().bytes), 'kind-not-allowed')
    const accounts = await contract({ bps: 500, from: 'retailer', referrers: ['retailer', 'account'] })
    const uncertified = await createNodeKeys(m.random)
    await refused(
      await buy(m.offer(accounts), accounts, share(uncertified, { kind: 'retailer' }).bytes),
      'untrusted-referrer',
    )
    await audited()
  })

  it('keeps nothing of the share of a purchase voided before its capture', async () => {
    const c = await contract()
    const offer = m.offer(c, { price: 129n })
    const certification = m.certification(offer, c)
    const plain = m.order(buyer, offer, certification)
    const order = signPurchaseOrder({ ...plain.order, share: share().bytes }, buyer.account.signer)
    await engine.authorise(m.authoriseBody(order, offer, certification))
    assert.notEqual(await engine.store.get(z.unknown(), ReferralKeys.share(plain.order.purchaseId)), undefined)
    await engine.void({ purchaseId: plain.order.purchaseId, reason: 'changed my mind', order: null })
    assert.equal(await engine.store.get(z.unknown(), ReferralKeys.share(plain.order.purchaseId)), undefined)
    assert.equal(await engine.referrals.verdict(plain.order.purchaseId), undefined)
    assert.equal(await posted(engine, walletParticipant(friend.signer.publicKey)), 0n)
    await audited()
  })

  it('leaves a spent credit with the payer when the sale is refunded', async () => {
    const c = await contract()
    const referrer = await m.buyer()
    const purchaseId = await buy(m.offer(c, { price: 129n }), c, share(referrer.account).bytes)
    // The referrer spends its 12 on a purchase of its own.
    await buy(m.offer(c, { price: 12n }), c, undefined, referrer)
    assert.equal(await posted(engine, walletParticipant(referrer.account.signer.publicKey)), 0n)
    const row = await engine.purchases.get(purchaseId)
    const withdrawal = signRecord(
      'consort/revocation',
      {
        network: m.network.name,
        created: m.clock.now(),
        targets: [{ kind: 'receipt', id: (await engine.records.get('consort/receipt', row!.receipt!))!.id }],
        reason: 'licence could not be issued',
      },
      m.net.registrarSigner,
    )
    assert.deepEqual(await engine.refund({ purchaseId, withdrawal: withdrawal.bytes }), { refunded: true })
    assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 10_000n, 'the price back')
    // The retailer's margin on the refunded sale is gone, and so is the credit it paid: −12; on the second sale, sold
    // below cost (12 − 70 − 0), it owes 58.
    assert.equal(await posted(engine, retailerParticipant(m.retailer.signer.publicKey)), -12n - 58n)
    await audited()
  })

  it('gives the credit back with the rest of the sale when the purchase is refunded', async () => {
    const c = await contract()
    const offer = m.offer(c, { price: 129n })
    const purchaseId = await buy(offer, c, share().bytes)
    const row = await engine.purchases.get(purchaseId)
    const withdrawal = signRecord(
      'consort/revocation',
      {
        network: m.network.name,
        created: m.clock.now(),
        targets: [{ kind: 'receipt', id: (await engine.records.get('consort/receipt', row!.receipt!))!.id }],
        reason: 'licence could not be issued',
      },
      m.net.registrarSigner,
    )
    assert.deepEqual(await engine.refund({ purchaseId, withdrawal: withdrawal.bytes }), { refunded: true })
    assert.equal(await posted(engine, walletParticipant(friend.signer.publicKey)), 0n)
    assert.equal(await posted(engine, retailerParticipant(m.retailer.signer.publicKey)), 0n)
    assert.equal(await posted(engine, walletParticipant(buyer.account.signer.publicKey)), 10_000n)
    await audited()
  })
})
