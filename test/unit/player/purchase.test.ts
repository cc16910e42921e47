import assert from 'node:assert/strict'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import { seal } from '../../../keys/seal.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { LICENCE_SEAL_CONTEXT } from '../../../protocols/licence/index.ts'
import { type PurchaseOrder, signPurchaseOrder } from '../../../protocols/purchase/order.ts'
import { type SignedRecord, signRecord } from '../../../protocols/records/envelope.ts'
import { DecryptionError, InvalidLicenceError } from '../../../roles/player/errors.ts'
import { openContentKey, verifyPurchase } from '../../../roles/player/purchase.ts'
import { sampleRecordCid } from '../../helpers/record-samples.ts'

const NETWORK = 'testnet'
const ISRC = 'GBAYE0601001'

describe('player: checking what a purchase answers', () => {
  const clock = new FakeClock()
  let k: Record<'account' | 'device' | 'other' | 'retailer' | 'registrar' | 'clearinghouse', NodeKeys>
  let offer: SignedRecord<'consort/offer'>
  let order: PurchaseOrder
  const contentKey = new Uint8Array(32).fill(9)

  before(async () => {
    const random = new SeededRandom('player-purchase')
    k = {
      account: await createNodeKeys(random),
      device: await createNodeKeys(random),
      other: await createNodeKeys(random),
      retailer: await createNodeKeys(random),
      registrar: await createNodeKeys(random),
      clearinghouse: await createNodeKeys(random),
    }
    offer = signRecord(
      'consort/offer',
      {
        network: NETWORK,
        created: clock.now(),
        offerId: 'o-1',
        seq: 0,
        content: [`isrc:${ISRC}`],
        contract: sampleRecordCid('contract'),
        price: { amount: 99n, currency: 'EUR' },
        useType: 'PermanentDownload',
        rules: {},
        territories: ['Worldwide'],
        excludedTerritories: [],
        validFrom: clock.now() - 1000,
        validUntil: null,
        promotion: null,
      },
      k.retailer.signer,
    )
    order = signPurchaseOrder(
      {
        network: NETWORK,
        purchaseId: 'p-1',
        offer: offer.id,
        certification: sampleRecordCid('certification'),
        retailer: offer.signer,
        clearinghouse: k.clearinghouse.signer.publicKey,
        account: k.account.signer.publicKey,
        device: k.device.signer.publicKey,
        price: offer.body.price,
        territory: 'GB',
        created: clock.now(),
      },
      k.account.signer,
    )
  })

  function receipt(overrides: Record<string, unknown> = {}, signer = k.retailer) {
    return signRecord(
      'consort/receipt',
      {
        network: NETWORK,
        created: clock.now(),
        purchaseId: 'p-1',
        offer: offer.id,
        certification: order.order.certification,
        account: k.account.signer.publicKey,
        device: k.device.signer.publicKey,
        price: offer.body.price,
        clearinghouse: k.clearinghouse.signer.publicKey,
        authorisation: 'auth-1',
        ...overrides,
      },
      signer.signer,
    )
  }

  function licence(r: SignedRecord<'consort/receipt'>, options: { holder?: NodeKeys; signer?: NodeKeys } = {}) {
    const holder = options.holder ?? k.device
    return signRecord(
      'consort/licence',
      {
        network: NETWORK,
        created: clock.now(),
        licenceId: 'lic-1',
        purchaseId: 'p-1',
        receipt: r.id,
        offer: offer.id,
        contract: offer.body.contract,
        content: offer.body.content,
        useType: 'PermanentDownload',
        rules: {},
        account: k.account.signer.publicKey,
        device: holder.signer.publicKey,
        notAfter: null,
        keys: [
          {
            isrc: ISRC,
            keyId: new Uint8Array(16),
            sealedKey: seal(holder.sealing.publicKey, contentKey, LICENCE_SEAL_CONTEXT),
          },
        ],
      },
      (options.signer ?? k.registrar).signer,
    )
  }

  function check(r: SignedRecord<'consort/receipt'>, l: SignedRecord<'consort/licence'>, sealing = k.device.sealing) {
    return verifyPurchase({
      order,
      offer,
      receiptBytes: r.bytes,
      licenceBytes: l.bytes,
      decodeOptions: { network: NETWORK, now: clock.now() },
      isRegistrar: (key) => Buffer.compare(key, k.registrar.signer.publicKey) === 0,
      sealing,
    })
  }

  it('accepts the retailer’s receipt and a registrar’s licence for this device, whose keys open', () => {
    const r = receipt()
    const l = licence(r)
    const verified = check(r, l)
    assert.ok(verified.licence.id.equals(l.id))
    assert.deepEqual(openContentKey(verified.licence, ISRC, k.device.sealing), contentKey)
  })

  it('refuses a receipt from someone else, for another price, device or clearinghouse', () => {
    const cases: Array<[SignedRecord<'consort/receipt'>, RegExp]> = [
      [receipt({}, k.other), /not signed by the offer’s retailer/],
      [receipt({ price: { amount: 1n, currency: 'EUR' } }), /receipt.price/],
      [receipt({ device: k.other.signer.publicKey }), /another buyer/],
      [receipt({ clearinghouse: k.other.signer.publicKey }), /another clearinghouse/],
      [receipt({ purchaseId: 'p-2' }), /receipt.purchaseId/],
    ]
    for (const [r, message] of cases) {
      assert.throws(
        () => check(r, licence(r)),
        (err: unknown) => isError(err, InvalidLicenceError) && message.test((err as Error).message),
      )
    }
  })

  it('refuses a licence that is not a registrar’s, for another receipt or device, or whose keys do not open', () => {
    const r = receipt()
    assert.throws(() => check(r, licence(r, { signer: k.other })), /not signed by a registration manager/)
    assert.throws(() => check(r, licence(receipt({ authorisation: 'auth-2' }))), /another receipt/)
    assert.throws(() => check(r, licence(r, { holder: k.other })), /the licence is for device/)
    // sealed to this device, but opened with another key: nothing opens
    assert.throws(() => check(r, licence(r), k.other.sealing), DecryptionError)
  })
})
