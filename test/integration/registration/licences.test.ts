import assert from 'node:assert/strict'
import { toString as bytesToHex } from 'uint8arrays/to-string'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { open, seal } from '../../../keys/seal.ts'
import { isError } from '../../../protocols/errors.ts'
import { EscrowInvalidError } from '../../../protocols/escrow/errors.ts'
import { ESCROW_SEAL_CONTEXT } from '../../../protocols/escrow/index.ts'
import { DeviceLimitError, DeviceRevokedError } from '../../../protocols/licence/errors.ts'
import { LICENCE_CODES, LICENCE_OPS, LICENCE_PROTOCOL, LICENCE_SEAL_CONTEXT } from '../../../protocols/licence/index.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import { depositEscrow, registerDevice, requestLicence, requestReissue } from '../../../protocols/register/client.ts'
import { DeviceTakenError } from '../../../protocols/register/errors.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { KEYS } from '../../../roles/registration/store.ts'
import type { ControlRoute } from '../../../roles/role.ts'
import { paymentFor } from '../../helpers/payments.ts'
import { waitUntil } from '../../helpers/wait.ts'
import {
  buyLicence,
  type CertifiedOffer,
  certifiedOffer,
  consumptionFor,
  contractFor,
  type Device,
  deposit,
  type Market,
  newDevice,
  packageTracks,
  publishRevocation,
  receiptFor,
  releaseOf,
  startMarket,
  type Track,
} from './market.ts'

const hex = (bytes: Uint8Array) => bytesToHex(bytes, 'base16')

function route(market: Market, method: ControlRoute['method'], path: string): ControlRoute {
  const found = market.role.controlRoutes.find((r) => r.method === method && r.path === path)
  assert.ok(found, `route ${method} ${path}`)
  return found
}

async function revoke(market: Market, kind: string, target: string) {
  return route(market, 'POST', '/revoke').handler({
    params: {},
    query: {},
    body: { kind, target, reason: 'lost' },
    signal: new AbortController().signal,
  }) as Promise<{ revocation: unknown; targets: Array<{ id: unknown }> }>
}

function openWith(device: Device, licence: SignedRecord<'consort/licence'>, index = 0): Uint8Array {
  return open(device.keys.sealing, licence.body.keys[index]!.sealedKey, LICENCE_SEAL_CONTEXT)
}

describe('registration: escrow, devices and licences between real nodes', function () {
  this.timeout(120_000)
  let market: Market
  let single: Track | undefined
  let sale: CertifiedOffer
  let account: NodeKeys
  let phone: Device
  let laptop: Device

  before(async () => {
    market = await startMarket({ deviceLimit: 2 })
    ;[single] = packageTracks(market, ['GBAYE2600001'])
    assert.equal(await deposit(market, [single!]), 1)
    sale = certifiedOffer(market, await contractFor(market, ['isrc:GBAYE2600001']), { offerId: 'single-1' })
    account = await createNodeKeys()
    phone = await newDevice(market, account, 'phone')
    laptop = await newDevice(market, account, 'laptop')
  })

  after(() => market?.stop())

  it('issues a licence whose content key opens on its device and on no other', async () => {
    const licence = await buyLicence(market, sale, phone, 'p-open')
    assert.deepEqual(licence.body.device, phone.keys.signer.publicKey)
    assert.deepEqual(licence.body.account, account.signer.publicKey)
    assert.deepEqual(licence.body.content, ['isrc:GBAYE2600001'])
    assert.ok(licence.body.contract.equals(sale.certification.body.contract))
    assert.deepEqual(openWith(phone, licence), single!.contentKey)
    assert.throws(() => openWith(laptop, licence), { name: 'SealOpenError' })
  })

  it('gives one licence for a purchase asked for twice, also at the same time, and refuses another receipt', async () => {
    const [a, b] = await Promise.all([
      buyLicence(market, sale, phone, 'p-twice'),
      buyLicence(market, sale, phone, 'p-twice'),
    ])
    market.clock.advance(1000)
    const c = await buyLicence(market, sale, phone, 'p-twice', {
      receipt: receiptFor(market, sale, phone, 'p-twice'),
    }).catch((err) => err)
    // A retry carries the same receipt; one made later is another receipt for the same purchase id.
    assert.equal(c.code, 'ERR_RECEIPT_INVALID')
    assert.ok(a.id.equals(b.id))
    assert.deepEqual(a.bytes, b.bytes)
    const licences = await market.role.registrar.licences.licencesOf('p-twice')
    assert.equal(licences.length, 1)
    assert.ok(licences[0]!.id.equals(a.id))
  })

  it('returns the stored licence to a retry of the same receipt', async () => {
    const receipt = receiptFor(market, sale, phone, 'p-retry')
    const first = await buyLicence(market, sale, phone, 'p-retry', { receipt })
    market.clock.advance(5000)
    const again = await buyLicence(market, sale, phone, 'p-retry', { receipt })
    assert.deepEqual(again.bytes, first.bytes)
  })

  it('enforces the device limit per account and answers a repeated registration with the same record', async () => {
    // The registrar's refusal reaches the caller as its own class, decoded by `/register/1`'s table.
    await assert.rejects(newDevice(market, account, 'tablet'), (err) => isError(err, DeviceLimitError))
    const again = await registerDevice(market.player.libp2p, market.player.network, {
      account: account.signer,
      device: phone.keys.signer,
      sealingKey: phone.keys.sealing.publicKey,
      name: 'phone',
      now: market.clock.now(),
    })
    assert.ok(again.id.equals(phone.record.id))
    const other = await createNodeKeys()
    await assert.rejects(
      registerDevice(market.player.libp2p, market.player.network, {
        account: other.signer,
        device: phone.keys.signer,
        sealingKey: phone.keys.sealing.publicKey,
        name: 'stolen',
        now: market.clock.now(),
      }),
      (err) => isError(err, DeviceTakenError) && err.code === 'ERR_DEVICE_TAKEN',
    )
  })

  it('gives a revoked device no licence, gossips the revocation, and frees its slot', async () => {
    const owner = await createNodeKeys()
    const old = await newDevice(market, owner, 'old phone')
    const kept = await newDevice(market, owner, 'car')
    await assert.rejects(newDevice(market, owner, 'tablet'), (err) => isError(err, DeviceLimitError))
    await buyLicence(market, sale, old, 'p-before-revocation')

    const result = await revoke(market, 'device', hex(old.keys.signer.publicKey))
    assert.equal(result.targets.length, 1)
    await assert.rejects(buyLicence(market, sale, old, 'p-after-revocation'), { code: 'ERR_DEVICE_REVOKED' })
    await assert.rejects(buyLicence(market, sale, old, 'p-before-revocation'), { code: 'ERR_DEVICE_REVOKED' })
    await waitUntil(() => market.retailer.trust.isRevoked(old.record.id), { message: 'the retailer hears of it' })
    await assert.rejects(
      registerDevice(market.player.libp2p, market.player.network, {
        account: owner.signer,
        device: old.keys.signer,
        sealingKey: old.keys.sealing.publicKey,
        name: 'old phone',
        now: market.clock.now(),
      }),
      (err) => isError(err, DeviceRevokedError),
    )
    // The revoked phone's slot goes to its replacement; the other device keeps working.
    const replacement = await newDevice(market, owner, 'new phone')
    assert.ok(await buyLicence(market, sale, replacement, 'p-replacement'))
    assert.ok(await buyLicence(market, sale, kept, 'p-kept'))
  })

  it('expands an album offer into its tracks', async () => {
    const tracks = packageTracks(market, ['GBAYE2600011', 'GBAYE2600012', 'GBAYE2600013'])
    const release = releaseOf(market, '0724384960650', tracks)
    assert.equal(await deposit(market, tracks, release), 3)
    const albumSale = certifiedOffer(market, await contractFor(market, ['icpn:00724384960650']), { offerId: 'album-1' })
    const licence = await buyLicence(market, albumSale, phone, 'p-album')
    assert.deepEqual(
      licence.body.keys.map((k) => k.isrc),
      tracks.map((t) => t.isrc),
    )
    for (const [i, track] of tracks.entries()) assert.deepEqual(openWith(phone, licence, i), track.contentKey)
  })

  it('refuses a receipt from an uncertified retailer', async () => {
    const rogue = await createNodeKeys()
    const receipt = receiptFor(market, sale, phone, 'p-rogue', rogue)
    await assert.rejects(
      requestLicence(market.player.libp2p, market.player.network, {
        receipt,
        payment: paymentFor(receipt, market.keys.clearinghouse.signer, market.clock.now()),
        offer: sale.offer,
        certification: sale.certification,
        device: phone.record,
        attachments: [],
        now: market.clock.now(),
      }),
      (err: Error & { code?: string }) => err.code === 'ERR_RECEIPT_INVALID' && /certified retailer/.test(err.message),
    )
  })

  it('refuses a revoked certification', async () => {
    const revokedSale = certifiedOffer(
      market,
      await contractFor(market, ['isrc:GBAYE2600001'], { contractId: 'c-cert' }),
      {
        offerId: 'revoked-cert',
      },
    )
    await buyLicence(market, revokedSale, phone, 'p-cert-ok')
    await publishRevocation(
      market.reference,
      market.keys.reference,
      [{ kind: 'certification', id: revokedSale.certification.id }],
      market.clock,
    )
    await waitUntil(() => market.registrar.trust.isRevoked(revokedSale.certification.id))
    await assert.rejects(buyLicence(market, revokedSale, phone, 'p-cert-revoked'), {
      code: 'ERR_CERTIFICATION_INVALID',
    })
  })

  it('refuses an expired certification', async () => {
    const shortSale = certifiedOffer(
      market,
      await contractFor(market, ['isrc:GBAYE2600001'], { contractId: 'c-short' }),
      {
        offerId: 'short-cert',
        validForMs: 60_000,
      },
    )
    market.clock.advance(60_001)
    await assert.rejects(
      buyLicence(market, shortSale, phone, 'p-cert-expired'),
      (err: Error & { code?: string }) => err.code === 'ERR_CERTIFICATION_INVALID' && /expired/.test(err.message),
    )
  })

  it('refuses a revoked contract', async () => {
    const contract = await contractFor(market, ['isrc:GBAYE2600001'], { contractId: 'c-takedown' })
    const takedownSale = certifiedOffer(market, contract, { offerId: 'takedown' })
    await buyLicence(market, takedownSale, phone, 'p-contract-ok')
    await publishRevocation(
      market.producer,
      market.keys.producer,
      [{ kind: 'contract', id: contract.id }],
      market.clock,
    )
    await waitUntil(() => market.role.registrar.revocations.isRevokedBy(contract.id, [contract.signer]))
    await assert.rejects(buyLicence(market, takedownSale, phone, 'p-contract-revoked'), {
      code: 'ERR_CONTRACT_NOT_IN_FORCE',
    })
  })

  it('refuses a contract superseded by a version that excludes the content, and keeps what it still covers', async () => {
    const [second] = packageTracks(market, ['GBAYE2600002'])
    await deposit(market, [second!])
    const content = ['isrc:GBAYE2600001', 'isrc:GBAYE2600002']
    const v0 = await contractFor(market, content, { contractId: 'c-superseded' })
    const first = certifiedOffer(market, v0, { offerId: 'sup-1', content: ['isrc:GBAYE2600001'] })
    const kept = certifiedOffer(market, v0, { offerId: 'sup-2', content: ['isrc:GBAYE2600002'] })
    await buyLicence(market, first, phone, 'p-sup-before')
    const v1 = signRecord(
      'consort/contract',
      { ...v0.body, seq: 1, created: market.clock.now(), content: ['isrc:GBAYE2600002'] },
      market.keys.producer.signer,
    )
    await market.producer.records.put(v1)
    await market.producer.topics.publish('contracts', v1, market.producer.credentials.attachments())
    await waitUntil(async () => {
      const err = await buyLicence(market, first, laptop, 'p-sup-after').catch((e) => e)
      return err.code === 'ERR_CONTRACT_NOT_IN_FORCE' && /superseded/.test(err.message)
    })
    const licence = await buyLicence(market, kept, phone, 'p-sup-kept')
    assert.deepEqual(licence.body.content, ['isrc:GBAYE2600002'])
  })

  it('refuses a licence whose content key was never escrowed', async () => {
    const missing = certifiedOffer(market, await contractFor(market, ['isrc:GBAYE2600099']), { offerId: 'missing' })
    await assert.rejects(buyLicence(market, missing, phone, 'p-missing'), { code: 'ERR_KEY_NOT_ESCROWED' })
  })

  it('reissues to the holder and to another device of the account within the licence’s devices rule', async () => {
    const one = certifiedOffer(market, await contractFor(market, ['isrc:GBAYE2600001'], { contractId: 'c-one' }), {
      offerId: 'one-device',
      rules: { devices: 1 },
    })
    const two = certifiedOffer(market, await contractFor(market, ['isrc:GBAYE2600001'], { contractId: 'c-two' }), {
      offerId: 'two-devices',
      rules: { devices: 2 },
    })
    const reissue = (device: Device, purchaseId: string, withUses = true) =>
      requestReissue(market.player.libp2p, market.player.network, {
        purchaseId,
        device: device.record,
        signer: device.keys.signer,
        now: market.clock.now(),
        ...(withUses ? { consumption: [consumptionFor(market, purchaseId, device.account)] } : {}),
      })
    const original = await buyLicence(market, one, phone, 'p-one')
    // Reissued only with what the purchase already used (the clearinghouse's word): never a fresh licence's worth.
    await assert.rejects(reissue(phone, 'p-one', false), { code: 'ERR_CONSUMPTION_REQUIRED' })
    const same = await reissue(phone, 'p-one')
    assert.equal(same.body.licenceId, original.body.licenceId)
    assert.deepEqual(same.body.used?.plays, 0)
    assert.deepEqual((await reissue(phone, 'p-one')).bytes, same.bytes, 'nothing changed: the same record')
    await assert.rejects(reissue(laptop, 'p-one'), { code: 'ERR_DEVICE_LIMIT' })

    await buyLicence(market, two, phone, 'p-two')
    const second = await reissue(laptop, 'p-two')
    assert.deepEqual(second.body.device, laptop.keys.signer.publicKey)
    assert.equal(second.body.purchaseId, 'p-two')
    assert.deepEqual(openWith(laptop, second), single!.contentKey)
    assert.equal((await market.role.registrar.licences.licencesOf('p-two')).length, 2)

    const stranger = await newDevice(market, await createNodeKeys(), 'stranger')
    await assert.rejects(reissue(stranger, 'p-two'), { code: 'ERR_UNAUTHORISED' })
    await assert.rejects(reissue(phone, 'p-none'), { code: 'ERR_NOT_FOUND' })
  })

  it('revokes a purchase’s licences: no retry, no reissue', async () => {
    await buyLicence(market, sale, phone, 'p-refund')
    const result = await revoke(market, 'licence', 'p-refund')
    assert.equal(result.targets.length, 1)
    await assert.rejects(buyLicence(market, sale, phone, 'p-refund'), { code: 'ERR_LICENCE_REVOKED' })
    await assert.rejects(
      requestReissue(market.player.libp2p, market.player.network, {
        purchaseId: 'p-refund',
        device: phone.record,
        signer: phone.keys.signer,
        now: market.clock.now(),
      }),
      { code: 'ERR_LICENCE_REVOKED' },
    )
  })

  it('licenses an offer only in the territory the device’s registration attests (issue 11, finding 4)', async () => {
    const contract = await contractFor(market, ['isrc:GBAYE2600001'], { contractId: 'c-territory' })
    const onlyIn = signRecord(
      'consort/offer',
      { ...certifiedOffer(market, contract, { offerId: 'only-in' }).offer.body, territories: ['IN'] },
      market.keys.retailer.signer,
    )
    const sale = {
      offer: onlyIn,
      certification: signRecord(
        'consort/certification',
        {
          network: market.net.name,
          created: market.clock.now(),
          offer: onlyIn.id,
          offerId: onlyIn.body.offerId,
          contract: contract.id,
          contractId: contract.body.contractId,
          contractSeq: contract.body.seq,
          validUntil: market.clock.now() + 3600_000,
        },
        market.keys.reference.signer,
      ),
    }
    // A retailer's receipt for a Worldwide account (no attested territory) buys nothing sold only in IN.
    await assert.rejects(buyLicence(market, sale, phone, 'p-in'), { code: 'ERR_TERRITORY' })
    // An account the operator attested in IN: its device's registration says so, and it is licensed.
    const indian = await createNodeKeys()
    await market.role.registrar.devices.attestTerritory(indian.signer.publicKey, 'IN')
    const inIndia = await newDevice(market, indian, 'phone in India')
    assert.equal(inIndia.record.body.territory, 'IN')
    const licence = await buyLicence(market, sale, inIndia, 'p-in-2')
    assert.equal(licence.body.purchaseId, 'p-in-2')
  })

  it('licenses nothing without the clearinghouse’s proof that the price was captured (money before keys)', async () => {
    const receipt = receiptFor(market, sale, phone, 'p-unpaid')
    const now = market.clock.now()
    const tries: Array<[string, SignedRecord<'consort/payment'>]> = [
      // signed by the retailer (or anyone not a clearinghouse of the network)
      ['not a clearinghouse', paymentFor(receipt, market.keys.retailer.signer, now)],
      // the clearinghouse's payment for another receipt of the same purchase id
      [
        'another receipt',
        paymentFor(receiptFor(market, sale, phone, 'p-unpaid-other'), market.keys.clearinghouse.signer, now, {
          purchaseId: 'p-unpaid',
        }),
      ],
      // a smaller amount than the receipt's price
      [
        'another price',
        paymentFor(receipt, market.keys.clearinghouse.signer, now, { price: { amount: 1n, currency: 'EUR' } }),
      ],
    ]
    for (const [why, payment] of tries) {
      await assert.rejects(
        buyLicence(market, sale, phone, 'p-unpaid', { receipt, payment }),
        {
          code: LICENCE_CODES.paymentUnproven,
        },
        why,
      )
    }
    assert.equal((await market.role.registrar.licences.licencesOf('p-unpaid')).length, 0)
    const licence = await buyLicence(market, sale, phone, 'p-unpaid', { receipt })
    assert.equal(licence.body.purchaseId, 'p-unpaid')
  })

  it('lets only the retailer withdraw a receipt: its licence and receipt are revoked, a later issue gets nothing, and strangers write nothing', async () => {
    const withdraw = (from: typeof market.retailer, purchaseId: string, receipt: SignedRecord<'consort/receipt'>) =>
      rpcCall(
        from.libp2p,
        market.registrar.libp2p.peerId,
        from.network.protocol(LICENCE_PROTOCOL),
        LICENCE_OPS.withdraw,
        { purchaseId, reason: 'licence refused after the capture', receipt: receipt.bytes },
      ) as Promise<{ revoked: boolean; revocation: Uint8Array }>
    const receipt = receiptFor(market, sale, phone, 'p-withdrawn')
    const licence = await buyLicence(market, sale, phone, 'p-withdrawn', { receipt })
    // Anyone but the receipt's signer is refused, and nothing is written for it (issue 11, lower finding).
    const rows = async () => {
      let n = 0
      for await (const _ of market.role.registrar.store.entries(KEYS.withdrawn(''), { limit: 10_000 })) n++
      return n
    }
    const before = await rows()
    await assert.rejects(withdraw(market.player, 'p-withdrawn', receipt), { code: 'ERR_NOT_PURCHASE_RETAILER' })
    const forged = receiptFor(market, sale, phone, 'p-someone-else', market.player.keys)
    await assert.rejects(withdraw(market.player, 'p-someone-else', forged), { code: 'ERR_RECEIPT_INVALID' })
    assert.equal(await rows(), before, 'a refused withdrawal writes nothing')

    const first = await withdraw(market.retailer, 'p-withdrawn', receipt)
    assert.equal(first.revoked, true)
    const revocation = decodeRecordAs('consort/revocation', first.revocation, {
      network: market.net.name,
      now: market.clock.now(),
    })
    assert.deepEqual(revocation.signer, market.keys.registrar.signer.publicKey)
    assert.ok(revocation.body.targets.some((t) => t.kind === 'receipt' && t.id.equals(receipt.id)))
    assert.ok(revocation.body.targets.some((t) => t.kind === 'licence' && t.id.equals(licence.id)))
    assert.deepEqual(await withdraw(market.retailer, 'p-withdrawn', receipt), first, 'a retry answers the same')
    await assert.rejects(
      requestReissue(market.player.libp2p, market.player.network, {
        purchaseId: 'p-withdrawn',
        device: phone.record,
        signer: phone.keys.signer,
        now: market.clock.now(),
      }),
      { code: 'ERR_LICENCE_REVOKED' },
    )
    await waitUntil(() => market.player.trust.isRevoked(licence.id) && market.player.trust.isRevoked(receipt.id))

    // Withdrawn before the issue request arrived (its answer was lost, say): that receipt gets nothing.
    const early = receiptFor(market, sale, phone, 'p-early')
    assert.equal((await withdraw(market.retailer, 'p-early', early)).revoked, false)
    await assert.rejects(buyLicence(market, sale, phone, 'p-early', { receipt: early }), {
      code: 'ERR_LICENCE_REVOKED',
    })
    assert.equal((await market.role.registrar.licences.licencesOf('p-early')).length, 0)
  })

  it('takes escrow deposits only from certified producers, addressed to it, and idempotently', async () => {
    assert.equal(await deposit(market, [single!]), 1)
    const now = market.clock.now()
    const other = await createNodeKeys()
    const misaddressed = signRecord(
      'consort/escrow',
      { ...single!.escrow.body, created: now, recipient: other.signer.publicKey },
      market.keys.producer.signer,
    )
    await assert.rejects(
      rpcCall(market.producer.libp2p, market.registrar.peerId, market.producer.network.protocol('escrow'), 'deposit', {
        escrows: [misaddressed.bytes],
        manifests: [],
        release: null,
        attachments: market.producer.credentials.attachments().map((a) => a.bytes),
      }),
      (err: Error & { code?: string }) => err.code === 'ERR_ESCROW_INVALID' && /another registration/.test(err.message),
    )
    const notMine = signRecord(
      'consort/escrow',
      {
        ...single!.escrow.body,
        created: now,
        sealedKey: seal(other.sealing.publicKey, single!.contentKey, ESCROW_SEAL_CONTEXT),
      },
      market.keys.producer.signer,
    )
    await assert.rejects(
      depositEscrow(market.producer.libp2p, market.producer.network, {
        escrows: [notMine],
        manifests: [],
        release: null,
        attachments: market.producer.credentials.attachments(),
      }),
      (err) => isError(err, EscrowInvalidError) && /does not open/.test(err.message),
    )
    const byRetailer = signRecord(
      'consort/escrow',
      { ...single!.escrow.body, created: now },
      market.keys.retailer.signer,
    )
    await assert.rejects(
      depositEscrow(market.retailer.libp2p, market.retailer.network, {
        escrows: [byRetailer],
        manifests: [],
        release: null,
        attachments: market.retailer.credentials.attachments(),
      }),
      (err) => isError(err, EscrowInvalidError),
    )
  })

  it('never stores an escrowed content key in clear', async () => {
    const [secret] = packageTracks(market, ['GBAYE2600077'])
    await deposit(market, [secret!])
    const secretSale = certifiedOffer(market, await contractFor(market, ['isrc:GBAYE2600077']), { offerId: 'secret' })
    const licence = await buyLicence(market, secretSale, phone, 'p-secret')
    assert.deepEqual(openWith(phone, licence), secret!.contentKey)
    const keys = [single!.contentKey, secret!.contentKey].map((k) => Buffer.from(k))
    let values = 0
    for await (const value of market.role.registrar.store.rawValues()) {
      values++
      for (const key of keys) assert.equal(Buffer.from(value).indexOf(key), -1, 'a content key is stored in clear')
    }
    assert.ok(values > 10, `scanned ${values} values`)
  })
})
