import assert from 'node:assert/strict'
import { SealOpener, SealSession } from '../../../keys/seal.ts'
import { decodeRecordAs, signRecord } from '../../../protocols/records/envelope.ts'
import { ReportInvalidError } from '../../../roles/clearinghouse/errors.ts'
import { ReportVerifier, type VerifyContext } from '../../../roles/clearinghouse/usage/verify.ts'
import { flipBit } from '../../helpers/record-samples.ts'
import { type Buyer, Market } from './market.ts'

/**
 * `ReportVerifier.verify` on a verification worker's hot path (the hand-written readers of the report and its events,
 * the sealing session's remembered agreement, the registration known by batch): a tampered byte anywhere is refused.
 */
describe('clearinghouse: a usage report verified on the hot path refuses every tampered byte', () => {
  let m: Market
  let buyer: Buyer
  let ctx: VerifyContext
  let session: SealSession
  let licence: ReturnType<Market['licence']>

  before(async () => {
    m = await Market.create({ seed: 'report-verifier' })
    const contract = m.contract({ unit: null, play: 3n })
    const offer = m.offer(contract, { price: 0n })
    buyer = await m.buyer()
    licence = m.licence(m.receipt(m.order(buyer, offer, m.certification(offer, contract)), 'auth:1'), contract)
    session = new SealSession({ random: m.random, now: () => m.clock.now() })
    ctx = {
      decode: { network: m.network.name, now: m.clock.now() + 60_000, caps: m.network.caps },
      recipient: m.clearinghouse.signer.publicKey,
      sealingPublicKey: m.clearinghouse.sealing.publicKey,
      opener: new SealOpener(m.clearinghouse.sealing),
    }
  })

  const refused = (verifier: ReportVerifier, usage: Uint8Array, device: Uint8Array, what: string) =>
    assert.throws(() => verifier.verify(usage, device, ctx), ReportInvalidError, what)

  it('verifies the session-sealed reports of a chain, then refuses every single-bit flip of one (exhaustive)', () => {
    const verifier = new ReportVerifier()
    const device = buyer.devices[0]!
    // Three reports first: the session's agreement is remembered (established) before the tampering starts.
    for (let i = 0; i < 3; i++) {
      const r = m.usage(device, buyer.account, [m.play(licence, m.clock.now() + i, 30)], { session })
      const verified = verifier.verify(r.usage, r.device, ctx)
      assert.equal(verified.seq, i)
      assert.equal(verified.events.length, 1)
      assert.equal(verified.events[0]!.licence, licence.id.toString())
      assert.equal(verified.prev, i === 0 ? null : r.record.body.prev!.toString())
      assert.equal(verified.reportId, r.record.id.toString())
    }
    assert.equal(ctx.opener.agreements, 1)
    const r = m.usage(device, buyer.account, [m.play(licence, m.clock.now() + 9, 30)], { session })
    for (let bit = 0; bit < r.usage.length * 8; bit++) refused(verifier, flipBit(r.usage, bit), r.device, `bit ${bit}`)
    assert.equal(verifier.verify(r.usage, r.device, ctx).seq, 3, 'the untouched report still verifies')
  })

  it('refuses every single-bit flip of the box in a report signed again by its device (exhaustive)', () => {
    const verifier = new ReportVerifier()
    const device = buyer.devices[0]!
    const r = m.usage(device, buyer.account, [m.play(licence, m.clock.now() + 20, 30)], { session })
    verifier.verify(r.usage, r.device, ctx)
    const body = r.record.body
    const box = body.sealed[0]!.box
    for (let bit = 0; bit < box.length * 8; bit++) {
      const tampered = signRecord(
        'consort/usage',
        { ...body, sealed: [{ recipient: body.sealed[0]!.recipient, box: flipBit(box, bit) }] },
        device.keys.signer,
        m.network.caps,
      )
      assert.throws(
        () => verifier.verify(tampered.bytes, r.device, ctx),
        { name: 'ReportInvalidError', message: /^usage\.body\.sealed/ },
        `box bit ${bit}`,
      )
    }
  })

  it('refuses a report moved to another seq, signed by another key, or under another registration', async () => {
    const verifier = new ReportVerifier()
    const device = buyer.devices[0]!
    const r = m.usage(device, buyer.account, [m.play(licence, m.clock.now() + 30, 30)], { session })
    const body = decodeRecordAs('consort/usage', r.usage, ctx.decode).body
    // The box is bound to its seq by its context: the same box under the next seq does not open.
    const moved = signRecord('consort/usage', { ...body, seq: body.seq + 1 }, device.keys.signer, m.network.caps)
    assert.throws(() => verifier.verify(moved.bytes, r.device, ctx), /usage\.body\.sealed/)
    const other = await m.buyer()
    const bySomeoneElse = signRecord('consort/usage', body, other.devices[0]!.keys.signer, m.network.caps)
    assert.throws(() => verifier.verify(bySomeoneElse.bytes, r.device, ctx), /not signed by the device/)
    assert.throws(() => verifier.verify(r.usage, other.devices[0]!.registration.bytes, ctx), /another device/)
    const tamperedRegistration = flipBit(r.device, 8 * (r.device.length - 10))
    refused(verifier, r.usage, tamperedRegistration, 'registration')
    assert.equal(verifier.verify(r.usage, r.device, ctx).seq, body.seq)
  })
})
