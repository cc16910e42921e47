import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { signerFromSeed } from '../../../keys/ed25519.ts'
import { SeededRandom } from '../../../keys/random.ts'
import { FakeClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { signPurchaseOrder, verifyPurchaseOrder } from '../../../protocols/purchase/order.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import { RecordSchemaError } from '../../../protocols/records/errors.ts'
import type { NetworkBody } from '../../../protocols/records/types/network.ts'
import {
  createShare,
  decodeShare,
  decodeShareLink,
  encodeShareLink,
  NotAShareError,
  ShareEncodingError,
  ShareExpiredError,
  ShareSignatureError,
} from '../../../protocols/share/index.ts'
import { CertificateTrust } from '../../../protocols/trust/trust.ts'
import { SAMPLE_GRID, SAMPLE_ISRC, sampleBodies, sampleRecordCid } from '../../helpers/record-samples.ts'

const NETWORK = 'share-test'
const NOW = Date.UTC(2026, 11, 1)
const DAY = 24 * 3600_000
const OPTIONS = { network: NETWORK, now: NOW }
const account = signerFromSeed(new SeededRandom('share-account').bytes(32))
const retailer = signerFromSeed(new SeededRandom('share-retailer').bytes(32))
const registrar = signerFromSeed(new SeededRandom('share-registrar').bytes(32))
const CONTENT = { track: `isrc:${SAMPLE_ISRC}`, release: `grid:${SAMPLE_GRID}`, manifest: sampleRecordCid('manifest') }

function share(
  overrides: { now?: number; ttlMs?: number; signer?: typeof account; kind?: 'account' | 'retailer' } = {},
) {
  return createShare(
    {
      network: NETWORK,
      content: CONTENT,
      kind: overrides.kind ?? 'account',
      offer: 'offer-with-a-realistic-length-0001',
      now: overrides.now ?? NOW,
      ttlMs: overrides.ttlMs,
      random: new SeededRandom(`share-${overrides.now ?? NOW}`),
    },
    overrides.signer ?? account,
  )
}

/** `fn` throws an error of `type` whose message matches `pattern`. */
function refuses(fn: () => unknown, type: { name: string; prototype: Error }, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isError(err, type), `expected ${type.name}, got ${(err as Error).name}: ${(err as Error).message}`)
    assert.match((err as Error).message, pattern)
    return true
  })
}

describe('protocols/share: a signed content reference', () => {
  it('round-trips through its link: the same record, its referrer the signer', () => {
    const made = share()
    const link = encodeShareLink(made)
    assert.match(link, /^[A-Za-z0-9_-]+$/)
    const read = decodeShareLink(`  ${link}\n`, OPTIONS)
    assert.ok(read.id.equals(made.id))
    assert.deepEqual(read.body.referrer.key, account.publicKey)
    assert.equal(read.body.content.track, `isrc:${SAMPLE_ISRC}`)
    assert.equal(read.body.expires, NOW + 30 * DAY)
    assert.notEqual(share({ now: NOW + 1 }).body.id, made.body.id, 'ids differ')
  })

  it('is small enough for a URL or a QR code (≤ 700 characters with every field set)', () => {
    const link = encodeShareLink(share({ kind: 'retailer', signer: retailer }))
    assert.ok(link.length <= 700, `${link.length} characters`)
  })

  it('names what is wrong with a link: not base64url, truncated, not a share, bad signature, expired', () => {
    const link = encodeShareLink(share())
    refuses(() => decodeShareLink('', OPTIONS), ShareEncodingError, /empty/)
    refuses(() => decodeShareLink(`${link.slice(0, 20)}+/${link.slice(22)}`, OPTIONS), ShareEncodingError, /"\+"/)
    refuses(() => decodeShareLink('x'.repeat(5000), OPTIONS), ShareEncodingError, /longer than any share/)
    refuses(() => decodeShareLink(link.slice(0, 41), OPTIONS), ShareEncodingError, /truncated/)
    refuses(() => decodeShareLink(link.slice(0, 40), OPTIONS), NotAShareError, /not a valid share/)
    const offer = signRecord('consort/offer', sampleBodies(NETWORK, NOW)['consort/offer'], retailer)
    refuses(() => decodeShareLink(Buffer.from(offer.bytes).toString('base64url'), OPTIONS), NotAShareError, /offer/)
    refuses(() => decodeShareLink(link, { ...OPTIONS, network: 'another' }), NotAShareError, /network/)
    refuses(() => decodeShareLink(link, { ...OPTIONS, now: NOW + 30 * DAY }), ShareExpiredError, /expired at/)
    assert.doesNotThrow(() => decodeShareLink(link, { ...OPTIONS, now: NOW + 30 * DAY - 1 }))
  })

  it('refuses an altered share and one signed by another key than its referrer', () => {
    const made = share()
    // Every byte of the body flipped in turn: never a share that decodes with another content or referrer.
    for (let i = 0; i < made.bytes.length; i++) {
      const bytes = new Uint8Array(made.bytes)
      bytes[i]! ^= 0x01
      assert.throws(() => decodeShare(bytes, OPTIONS), `byte ${i} flipped`)
    }
    const stolen = { ...made.body, id: 'another-id' }
    const raw = dagCbor.decode(made.bytes) as { body: unknown }
    raw.body = { ...stolen, referrer: { kind: 'account', key: account.publicKey } }
    refuses(() => decodeShare(dagCbor.encode(raw), OPTIONS), ShareSignatureError, /does not verify/)
    const forged = signRecord('consort/share', { ...made.body, id: 'forged' }, retailer)
    refuses(() => decodeShare(forged.bytes, OPTIONS), ShareSignatureError, /not by its referrer/)
  })

  it('refuses a body that names no content, runs backwards, or runs longer than a year', () => {
    const body = share().body
    const sign = (b: object) => () => signRecord('consort/share', b as never, account)
    refuses(sign({ ...body, content: { ...CONTENT, track: null, release: null } }), RecordSchemaError, /neither/)
    refuses(sign({ ...body, content: { ...CONTENT, track: `grid:${SAMPLE_GRID}` } }), RecordSchemaError, /ISRC/)
    refuses(sign({ ...body, content: { ...CONTENT, release: `isrc:${SAMPLE_ISRC}` } }), RecordSchemaError, /release/)
    refuses(sign({ ...body, expires: body.created }), RecordSchemaError, /after created/)
    refuses(sign({ ...body, expires: body.created + 367 * DAY }), RecordSchemaError, /at most/)
  })

  it("trusts a consumer's share as its account's, a retailer's only with a current retailer certificate", () => {
    const sample = sampleBodies(NETWORK, NOW)['consort/network'] as NetworkBody
    const network = { ...sample, registrars: [{ ...sample.registrars[0]!, key: registrar.publicKey }] }
    const trust = new CertificateTrust(network, new FakeClock(NOW))
    assert.deepEqual(trust.check(share()), { ok: true })
    const byRetailer = share({ kind: 'retailer', signer: retailer })
    assert.equal((trust.check(byRetailer) as { code: string }).code, 'ERR_NO_CERTIFICATE')
    const cert = (roles: string[]) =>
      signRecord(
        'consort/cert',
        { ...sampleBodies(NETWORK, NOW)['consort/cert'], subject: retailer.publicKey, roles } as never,
        registrar,
      )
    assert.equal((trust.check(byRetailer, [cert(['production'])]) as { code: string }).code, 'ERR_WRONG_ROLE')
    assert.deepEqual(trust.check(byRetailer, [cert(['retailer'])]), { ok: true })
    const mislabelled = signRecord(
      'consort/share',
      { ...share().body, referrer: { kind: 'account', key: retailer.publicKey } },
      account,
    )
    assert.equal((trust.check(mislabelled) as { code: string }).code, 'ERR_SUBJECT_MISMATCH')
  })
})

describe('protocols/records: the referral clause of a contract', () => {
  const contract = () => sampleBodies(NETWORK, NOW)['consort/contract']
  const sign = (referral: unknown) => () =>
    signRecord('consort/contract', { ...contract(), referral } as never, retailer)

  it('is optional, and kept as signed', () => {
    const { referral: _none, ...without } = contract()
    assert.equal(signRecord('consort/contract', without, retailer).body.referral, undefined)
    const clause = { bps: 250, from: 'distributor', referrers: ['account'] }
    assert.deepEqual(sign(clause)().body.referral, clause)
  })

  it('refuses bps out of 0..10000 or not whole, an unknown payer or referrer kind, a repeated or empty kind list', () => {
    refuses(sign({ bps: 10_001, from: 'retailer', referrers: ['account'] }), RecordSchemaError, /referral\.bps/)
    refuses(sign({ bps: -1, from: 'retailer', referrers: ['account'] }), RecordSchemaError, /referral\.bps/)
    refuses(sign({ bps: 2.5, from: 'retailer', referrers: ['account'] }), RecordSchemaError, /referral\.bps/)
    refuses(sign({ bps: 100, from: 'label', referrers: ['account'] }), RecordSchemaError, /referral\.from/)
    refuses(sign({ bps: 100, from: 'retailer', referrers: ['friend'] }), RecordSchemaError, /referral\.referrers/)
    refuses(sign({ bps: 100, from: 'retailer', referrers: [] }), RecordSchemaError, /referral\.referrers/)
    refuses(sign({ bps: 100, from: 'retailer', referrers: ['account', 'account'] }), RecordSchemaError, /repeats/)
    refuses(sign({ bps: 100, from: 'retailer', referrers: ['account'], extra: 1 }), RecordSchemaError, /extra/)
  })

  it('refuses a distributor-paid referral where the distributor has no share of a sale', () => {
    const perPlay = () =>
      signRecord(
        'consort/contract',
        {
          ...contract(),
          wholesale: [{ currency: 'EUR', amount: 1n, per: 'play' }],
          referral: { bps: 100, from: 'distributor', referrers: ['account'] },
        } as never,
        retailer,
      )
    refuses(perPlay, RecordSchemaError, /referral\.from: the distributor has no share/)
  })
})

describe('protocols/purchase: an order carrying a share', () => {
  const fields = () => ({
    network: NETWORK,
    purchaseId: 'purchase-1',
    offer: sampleRecordCid('offer'),
    certification: sampleRecordCid('certification'),
    retailer: retailer.publicKey,
    clearinghouse: registrar.publicKey,
    account: account.publicKey,
    device: retailer.publicKey,
    price: { amount: 99n, currency: 'EUR' as const },
    territory: 'DE' as const,
    created: NOW,
  })

  it('signs the share with the order: stripped or swapped, the signature fails', () => {
    const made = share()
    const order = signPurchaseOrder({ ...fields(), share: made.bytes }, account)
    assert.ok(verifyPurchaseOrder(order))
    const { share: _stripped, ...rest } = order.order
    assert.equal(verifyPurchaseOrder({ ...order, order: rest }), false, 'stripped')
    const other = share({ now: NOW + 5 }).bytes
    assert.equal(verifyPurchaseOrder({ ...order, order: { ...order.order, share: other } }), false, 'swapped')
  })

  it('signs an order without a share exactly as before the field existed', () => {
    const plain = signPurchaseOrder(fields(), account)
    assert.deepEqual(signPurchaseOrder({ ...fields(), share: undefined }, account), plain)
    assert.ok(verifyPurchaseOrder({ ...plain, order: { ...plain.order, share: undefined } }))
    assert.equal('share' in plain.order, false)
  })
})
