import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { open, seal } from '../../../keys/seal.ts'
import { generateContentKey, generateKeyId } from '../../../keys/segments.ts'
import { ESCROW_SEAL_CONTEXT } from '../../../protocols/escrow/index.ts'
import { LICENCE_SEAL_CONTEXT } from '../../../protocols/licence/index.ts'
import { decodeRecordAs, signRecord } from '../../../protocols/records/envelope.ts'
import { reissuePayload } from '../../../protocols/register/client.ts'
import {
  createLicensingWorld,
  type LicensingWorld,
  measureLicenceIssueRate,
  worldIsrc,
} from '../../helpers/licensing-world.ts'

describe('registration: the registrar’s licence logic, in process', function () {
  this.timeout(60_000)
  let world: LicensingWorld

  beforeEach(async () => {
    world = await createLicensingWorld({ tracks: 2 })
  })

  afterEach(() => world.close())

  /** The clearinghouse's signed statement of what a purchase used (zero uses by default). */
  const consumption = (
    purchaseId: string,
    counts: Partial<{
      plays: number
      playSeconds: number
      exports: number
      burns: number
      firstPlayAt: number | null
    }> = {},
    options: { created?: number; signer?: typeof world.keys.clearinghouse } = {},
  ) =>
    signRecord(
      'consort/consumption',
      {
        network: world.network.name,
        created: options.created ?? world.clock.now(),
        purchaseId,
        account: world.keys.account.signer.publicKey,
        plays: 0,
        playSeconds: 0,
        exports: 0,
        burns: 0,
        firstPlayAt: null,
        ...counts,
      },
      (options.signer ?? world.keys.clearinghouse).signer,
    )

  const reissue = (purchaseId: string, statements = [consumption(purchaseId)]) => {
    const request = { network: world.network.name, purchaseId, created: world.clock.now() }
    return world.registrar.licences.reissue({
      request,
      device: world.device.bytes,
      sig: world.keys.device.signer.sign(reissuePayload(request)),
      consumption: statements.map((c) => c.bytes),
    })
  }

  const receipt = (changes: Record<string, unknown>) => {
    const message = world.purchase('p-tampered')
    const original = decodeRecordAs('consort/receipt', message.receipt, {
      network: world.network.name,
      now: world.clock.now(),
    })
    return {
      ...message,
      receipt: signRecord('consort/receipt', { ...original.body, ...changes }, world.keys.retailer.signer).bytes,
    }
  }

  it('issues exactly one licence when the same purchase arrives many times at once', async () => {
    const licences = await Promise.all(
      Array.from({ length: 10 }, () => world.registrar.licences.issue(world.purchase('p-1'))),
    )
    for (const licence of licences) assert.deepEqual(licence.bytes, licences[0]!.bytes)
    assert.equal((await world.registrar.licences.licencesOf('p-1')).length, 1)
    const licence = licences[0]!
    assert.equal(licence.body.keys.length, 2)
    for (const [i, key] of licence.body.keys.entries()) {
      assert.equal(key.isrc, worldIsrc(i + 1))
      assert.deepEqual(
        open(world.keys.device.sealing, key.sealedKey, LICENCE_SEAL_CONTEXT),
        world.contentKeys.get(key.isrc),
      )
    }
    assert.deepEqual(licence.body.rules, world.offer.body.rules)
    assert.equal(licence.body.notAfter, null)
  })

  it('refuses receipts that do not match the offer, the device or the network', async () => {
    await assert.rejects(world.registrar.licences.issue(receipt({ price: { amount: 1n, currency: 'EUR' } })), {
      code: 'ERR_RECEIPT_INVALID',
    })
    await assert.rejects(world.registrar.licences.issue(receipt({ device: world.keys.account.signer.publicKey })), {
      code: 'ERR_RECEIPT_INVALID',
    })
    await assert.rejects(
      world.registrar.licences.issue(receipt({ clearinghouse: world.keys.retailer.signer.publicKey })),
      /not a clearinghouse/,
    )
  })

  it('issues a first licence only for a recent receipt, but answers its retry whenever it comes', async () => {
    const message = world.purchase('p-old')
    const licence = await world.registrar.licences.issue(message)
    const late = world.purchase('p-late')
    world.clock.advance(25 * 3600_000)
    await assert.rejects(world.registrar.licences.issue(late), /ms old/)
    assert.deepEqual((await world.registrar.licences.issue(message)).bytes, licence.bytes)
  })

  it('reissues the holder’s licence with the current keys after a track’s key was replaced', async () => {
    const first = await world.registrar.licences.issue(world.purchase('p-update'))
    const again = await reissue('p-update')
    assert.deepEqual(again.body.used?.plays, 0, 'a reissue says what the purchase used: nothing yet')
    assert.deepEqual((await reissue('p-update')).bytes, again.bytes, 'nothing changed: the same record')

    // The producer updates track 1: a new manifest version under a new key, escrowed again.
    const isrc = worldIsrc(1)
    const key = generateContentKey()
    const keyId = generateKeyId()
    const manifest = signRecord(
      'consort/manifest',
      { ...world.manifests[0]!.body, seq: 1, keyId, created: world.clock.now() },
      world.keys.producer.signer,
    )
    const escrow = signRecord(
      'consort/escrow',
      {
        network: world.network.name,
        created: world.clock.now(),
        keyId,
        isrc,
        manifest: manifest.id,
        recipient: world.keys.registrar.signer.publicKey,
        sealedKey: seal(world.keys.registrar.sealing.publicKey, key, ESCROW_SEAL_CONTEXT),
      },
      world.keys.producer.signer,
    )
    const release = signRecord(
      'consort/release',
      {
        ...world.release.body,
        seq: 1,
        tracks: [{ isrc, manifest: manifest.id }, world.release.body.tracks[1]!],
      },
      world.keys.producer.signer,
    )
    await world.registrar.escrow.deposit({
      escrows: [escrow.bytes],
      manifests: [manifest.bytes],
      release: release.bytes,
      attachments: [world.producerCert.bytes],
    })
    world.clock.advance(1000)
    const updated = await reissue('p-update')
    assert.ok(!updated.id.equals(first.id))
    assert.equal(updated.body.licenceId, first.body.licenceId)
    assert.deepEqual(open(world.keys.device.sealing, updated.body.keys[0]!.sealedKey, LICENCE_SEAL_CONTEXT), key)
    assert.deepEqual((await reissue('p-update')).bytes, updated.bytes)
  })

  it('reissues only with the payer clearinghouse’s fresh statement of the uses, and writes them into the licence (issue 11, finding 3)', async () => {
    await world.registrar.licences.issue(world.purchase('p-used'))
    await assert.rejects(reissue('p-used', []), { code: 'ERR_CONSUMPTION_REQUIRED' })
    // Another clearinghouse's word, a stale statement, one for another purchase: none counts.
    const stranger = await createNodeKeys()
    await assert.rejects(reissue('p-used', [consumption('p-used', {}, { signer: stranger })]), {
      code: 'ERR_CONSUMPTION_REQUIRED',
    })
    await assert.rejects(reissue('p-used', [consumption('p-used', {}, { created: world.clock.now() - 11 * 60_000 })]), {
      code: 'ERR_CONSUMPTION_REQUIRED',
    })
    await assert.rejects(reissue('p-used', [consumption('p-other')]), { code: 'ERR_CONSUMPTION_REQUIRED' })
    const firstPlayAt = world.clock.now() - 3_600_000
    const used = await reissue('p-used', [
      consumption('p-used', { plays: 7, playSeconds: 1200, exports: 1, firstPlayAt }),
    ])
    assert.deepEqual(
      { ...used.body.used, asOf: undefined },
      { plays: 7, playSeconds: 1200, exports: 1, burns: 0, firstPlayAt, asOf: undefined },
    )
    // A later statement that says less (another clearinghouse's view, a lost report) never lowers what was written.
    world.clock.advance(1000)
    const later = await reissue('p-used', [consumption('p-used', { plays: 2 })])
    assert.equal(later.body.used?.plays, 7)
    assert.equal(later.body.used?.firstPlayAt, firstPlayAt)
  })

  it('measures licences issued per second', async () => {
    const result = await measureLicenceIssueRate({ licences: 40, concurrency: 4 })
    assert.equal(result.licences, 40)
    assert.ok(result.licencesPerSecond > 0)
  })
})
