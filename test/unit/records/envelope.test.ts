import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { concat } from 'uint8arrays/concat'
import { ed25519Verify, SeededRandom, type Signer, signerFromSeed } from '../../../keys/index.ts'
import {
  BadSignatureError,
  DEFAULT_RECORD_CAPS,
  decodeRecord,
  decodeRecordAs,
  FutureTimestampError,
  MalformedRecordError,
  NonCanonicalRecordError,
  RECORD_TYPES,
  type RecordError,
  RecordSchemaError,
  RecordTooLargeError,
  type RecordType,
  recordId,
  signingPayload,
  signRecord,
  UnexpectedRecordTypeError,
  UnknownRecordTypeError,
  UnsupportedVersionError,
  WrongNetworkError,
} from '../../../protocols/records/index.ts'
import {
  flipBit,
  indexOfBytes,
  type SampleBodies,
  sampleBodies,
  signRawEnvelope,
} from '../../helpers/record-samples.ts'

const NETWORK = 'testnet'
const NOW = Date.UTC(2026, 10, 1)
const OPTIONS = { network: NETWORK, now: NOW }
const TYPES = Object.keys(RECORD_TYPES) as RecordType[]

// biome-ignore lint/suspicious/noExplicitAny: bodies are spoiled field by field, whatever their type
type AnyBody = Record<string, any>

function bodies(): SampleBodies {
  return sampleBodies(NETWORK, NOW)
}

/** A deep copy of a sample body (structuredClone keeps Uint8Arrays and bigints; CIDs are re-made by dag-cbor). */
function bodyOf(type: RecordType): AnyBody {
  return dagCbor.decode(dagCbor.encode(bodies()[type])) as AnyBody
}

function setPath(object: AnyBody, path: Array<string | number>, value: unknown): void {
  let target = object
  for (const key of path.slice(0, -1)) target = target[key]
  target[path.at(-1)!] = value
}

/** Assert that `fn` throws an error of `type` whose `field` is `field`, and return it. */
function refuses<E extends RecordError>(
  fn: () => unknown,
  type: abstract new (...args: never[]) => E,
  field?: string,
): E {
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  assert.ok(thrown != null, `expected ${type.name}, nothing was thrown`)
  assert.ok(
    thrown instanceof type,
    `expected ${type.name}, got ${(thrown as Error).name}: ${(thrown as Error).message}`,
  )
  assert.equal(thrown.name, type.name)
  if (field != null) assert.equal(thrown.field, field, `field of ${thrown.name}: ${thrown.message}`)
  return thrown
}

interface Spoil {
  path: Array<string | number>
  value: unknown
  /** The field the error must name (defaults to body.<path>). */
  field?: string
}

interface Strictness {
  missing: string
  /** A byte field of the wrong length, or (for types without one) a string over its length bound. */
  size: Spoil
  wrongType: Spoil
  outOfRange: Spoil
}

const long = (n: number) => 'x'.repeat(n)

/** For each record type: one missing field, one wrong size, one wrong type and one out-of-range value. */
const STRICTNESS: Record<RecordType, Strictness> = {
  'consort/network': {
    missing: 'registrars',
    size: { path: ['registrars', 0, 'key'], value: new Uint8Array(31) },
    wrongType: { path: ['seq'], value: 'one' },
    outOfRange: { path: ['caps', 'recordBytes'], value: 10 },
  },
  'consort/cert': {
    missing: 'subject',
    size: { path: ['sealingKey'], value: new Uint8Array(33) },
    wrongType: { path: ['name'], value: 42 },
    outOfRange: { path: ['serial'], value: -1 },
  },
  'consort/device': {
    missing: 'account',
    size: { path: ['device'], value: new Uint8Array(31) },
    wrongType: { path: ['notBefore'], value: 'soon' },
    outOfRange: { path: ['notAfter'], value: NOW - 1 },
  },
  'consort/manifest': {
    missing: 'isrc',
    size: { path: ['keyId'], value: new Uint8Array(15) },
    wrongType: { path: ['title'], value: 5 },
    outOfRange: { path: ['segmentSize'], value: 1024 },
  },
  'consort/release': {
    missing: 'title',
    size: { path: ['title'], value: long(513) },
    wrongType: { path: ['tracks', 0, 'manifest'], value: 'bafy-not-a-cid' },
    outOfRange: { path: ['tracks'], value: [] },
  },
  'consort/escrow': {
    missing: 'recipient',
    size: { path: ['sealedKey'], value: new Uint8Array(257) },
    wrongType: { path: ['isrc'], value: 123 },
    outOfRange: { path: ['created'], value: -1 },
  },
  'consort/contract': {
    missing: 'splits',
    size: { path: ['distributor'], value: new Uint8Array(31) },
    wrongType: { path: ['seq'], value: 'x' },
    outOfRange: { path: ['splits', 0, 'bps'], value: 10_001 },
  },
  'consort/offer': {
    missing: 'price',
    size: { path: ['offerId'], value: long(129) },
    wrongType: { path: ['price', 'amount'], value: 'ten' },
    outOfRange: { path: ['price', 'amount'], value: -1n },
  },
  'consort/certification': {
    missing: 'offerId',
    size: { path: ['contractId'], value: long(129) },
    wrongType: { path: ['contractSeq'], value: 'x' },
    outOfRange: { path: ['validUntil'], value: NOW },
  },
  'consort/revocation': {
    missing: 'reason',
    size: { path: ['reason'], value: long(513) },
    wrongType: { path: ['targets', 0, 'kind'], value: 5 },
    outOfRange: { path: ['targets'], value: [] },
  },
  'consort/receipt': {
    missing: 'purchaseId',
    size: { path: ['device'], value: new Uint8Array(33) },
    wrongType: { path: ['price', 'currency'], value: 1 },
    outOfRange: { path: ['price', 'amount'], value: -5n },
  },
  'consort/payment': {
    missing: 'receipt',
    size: { path: ['account'], value: new Uint8Array(33) },
    wrongType: { path: ['authorisation'], value: 7 },
    outOfRange: { path: ['price', 'amount'], value: -1n },
  },
  'consort/consumption': {
    missing: 'plays',
    size: { path: ['account'], value: new Uint8Array(31) },
    wrongType: { path: ['firstPlayAt'], value: 'yesterday' },
    outOfRange: { path: ['playSeconds'], value: -1 },
  },
  'consort/licence': {
    missing: 'receipt',
    size: { path: ['keys', 0, 'keyId'], value: new Uint8Array(17) },
    wrongType: { path: ['notAfter'], value: 'never' },
    outOfRange: { path: ['rules', 'plays'], value: -1 },
  },
  'consort/delivery': {
    missing: 'licence',
    size: { path: ['peers', 0, 'ack'], value: new Uint8Array(63) },
    wrongType: { path: ['peers', 0, 'bytes'], value: 'lots' },
    outOfRange: { path: ['peers', 0, 'blocks'], value: 0 },
  },
  'consort/transfer': {
    missing: 'to',
    size: { path: ['from'], value: new Uint8Array(31) },
    wrongType: { path: ['used', 'plays'], value: 'two' },
    outOfRange: { path: ['seq'], value: 0 },
  },
  'consort/share': {
    missing: 'expires',
    size: { path: ['referrer', 'key'], value: new Uint8Array(33) },
    wrongType: { path: ['content', 'track'], value: 7 },
    outOfRange: { path: ['expires'], value: NOW - 1 },
  },
  'consort/usage': {
    missing: 'account',
    size: { path: ['device'], value: new Uint8Array(31) },
    wrongType: { path: ['seq'], value: 'x' },
    outOfRange: { path: ['seq'], value: -1 },
  },
  'consort/statement': {
    missing: 'period',
    size: { path: ['merkleRoot'], value: new Uint8Array(31) },
    wrongType: { path: ['lines', 0, 'units'], value: 'x' },
    outOfRange: { path: ['part'], value: 1 },
  },
}

describe('protocols/records: the signed envelope', () => {
  const signer: Signer = signerFromSeed(new SeededRandom('records-envelope').bytes(32))
  const other: Signer = signerFromSeed(new SeededRandom('records-envelope-other').bytes(32))

  describe('every record type', () => {
    for (const type of TYPES) {
      describe(type, () => {
        it('signs and decodes round trip: same id, same bytes, same body', () => {
          const signed = signRecord(type, bodies()[type] as never, signer)
          const decoded = decodeRecord(signed.bytes, OPTIONS)
          assert.equal(decoded.type, type)
          assert.ok(decoded.id.equals(signed.id))
          assert.deepEqual(decoded.bytes, signed.bytes)
          // Compared through their canonical encoding: CIDs made here hold a Buffer digest, decoded ones a Uint8Array.
          assert.deepEqual(dagCbor.encode(decoded.body), dagCbor.encode(signed.body))
          assert.deepEqual(dagCbor.encode(decoded.body), dagCbor.encode(bodies()[type]))
          assert.deepEqual(decoded.signer, signer.publicKey)
          assert.ok(recordId(decoded.bytes).equals(decoded.id))
          assert.equal(decoded.id.version, 1)
          assert.equal(decoded.id.code, dagCbor.code)
          // Signing is deterministic: the same body gives the same bytes and id again.
          assert.deepEqual(signRecord(type, bodies()[type] as never, signer).bytes, signed.bytes)
          assert.ok(decodeRecordAs(type, signed.bytes, OPTIONS).id.equals(signed.id))
        })

        const strict = STRICTNESS[type]
        it(`refuses a missing field (${strict.missing})`, () => {
          const body = bodyOf(type)
          delete body[strict.missing]
          const field = `body.${strict.missing}`
          refuses(() => signRecord(type, body as never, signer), RecordSchemaError, field)
          refuses(() => decodeRecord(signRawEnvelope({ type, body }, signer), OPTIONS), RecordSchemaError, field)
        })

        it('refuses an extra field', () => {
          const body = { ...bodyOf(type), bogus: 1 }
          const err = refuses(
            () => decodeRecord(signRawEnvelope({ type, body }, signer), OPTIONS),
            RecordSchemaError,
            'body',
          )
          assert.match(err.message, /bogus/)
          refuses(() => signRecord(type, body as never, signer), RecordSchemaError, 'body')
        })

        for (const [kind, spoil] of [
          ['a wrong size', strict.size],
          ['a wrong type', strict.wrongType],
          ['an out-of-range value', strict.outOfRange],
        ] as const) {
          const field = spoil.field ?? ['body', ...spoil.path].join('.')
          it(`refuses ${kind} (${field})`, () => {
            const body = bodyOf(type)
            setPath(body, spoil.path, spoil.value)
            const err = refuses(
              () => decodeRecord(signRawEnvelope({ type, body }, signer), OPTIONS),
              RecordSchemaError,
              field,
            )
            assert.ok(err.issues.length >= 1)
            assert.ok(err.message.startsWith(field), err.message)
            refuses(() => signRecord(type, body as never, signer), RecordSchemaError, field)
          })
        }
      })
    }
  })

  describe('strictness of nested objects', () => {
    it('names the nested object that has an extra field', () => {
      const body = bodyOf('consort/offer')
      body.price.discount = 10
      const err = refuses(
        () => decodeRecord(signRawEnvelope({ type: 'consort/offer', body }, signer), OPTIONS),
        RecordSchemaError,
        'body.price',
      )
      assert.match(err.message, /discount/)
    })

    it('refuses an unknown usage rule inside an offer', () => {
      const body = bodyOf('consort/offer')
      body.rules.copies = 3
      refuses(() => signRecord('consort/offer', body as never, signer), RecordSchemaError, 'body.rules')
    })

    it('refuses a float where an integer is expected', () => {
      const body = bodyOf('consort/manifest')
      body.durationMs = 1.5
      refuses(
        () => decodeRecord(signRawEnvelope({ type: 'consort/manifest', body }, signer), OPTIONS),
        RecordSchemaError,
        'body.durationMs',
      )
    })
  })

  describe('the envelope', () => {
    const offer = () => signRecord('consort/offer', bodies()['consort/offer'], signer)

    it('refuses an unknown type, even properly signed', () => {
      const bytes = signRawEnvelope({ type: 'consort/bogus', body: bodyOf('consort/offer') }, signer)
      refuses(() => decodeRecord(bytes, OPTIONS), UnknownRecordTypeError, 'type')
      const numeric = signRawEnvelope(
        { type: 'consort/offer', body: bodyOf('consort/offer'), extra: { type: 7 } },
        signer,
      )
      refuses(() => decodeRecord(numeric, OPTIONS), UnknownRecordTypeError, 'type')
      // A name that exists on Object.prototype is not a record type either.
      const proto = signRawEnvelope({ type: 'toString', body: bodyOf('consort/offer') }, signer)
      refuses(() => decodeRecord(proto, OPTIONS), UnknownRecordTypeError, 'type')
    })

    it('refuses an unsupported version', () => {
      for (const v of [0, 2, '1', 1.5]) {
        const bytes = signRawEnvelope({ v, type: 'consort/offer', body: bodyOf('consort/offer') }, signer)
        refuses(() => decodeRecord(bytes, OPTIONS), UnsupportedVersionError, 'v')
      }
    })

    it('refuses an extra envelope field and names it', () => {
      const bytes = signRawEnvelope(
        { type: 'consort/offer', body: bodyOf('consort/offer'), extra: { note: 'hello' } },
        signer,
      )
      refuses(() => decodeRecord(bytes, OPTIONS), MalformedRecordError, 'note')
    })

    it('refuses a missing envelope field and names it', () => {
      for (const field of ['v', 'type', 'body', 'signer', 'sig'] as const) {
        const bytes = signRawEnvelope({ type: 'consort/offer', body: bodyOf('consort/offer'), omit: [field] }, signer)
        refuses(() => decodeRecord(bytes, OPTIONS), MalformedRecordError, field)
      }
    })

    it('refuses a signer or signature of the wrong size', () => {
      const body = bodyOf('consort/offer')
      const shortSigner = signRawEnvelope(
        { type: 'consort/offer', body, extra: { signer: signer.publicKey.subarray(0, 31) } },
        signer,
      )
      refuses(() => decodeRecord(shortSigner, OPTIONS), MalformedRecordError, 'signer')
      const longSig = signRawEnvelope({ type: 'consort/offer', body, extra: { sig: new Uint8Array(65) } }, signer)
      refuses(() => decodeRecord(longSig, OPTIONS), MalformedRecordError, 'sig')
      const textSig = signRawEnvelope({ type: 'consort/offer', body, extra: { sig: 'abc' } }, signer)
      refuses(() => decodeRecord(textSig, OPTIONS), MalformedRecordError, 'sig')
    })

    it('refuses what is not a DAG-CBOR map', () => {
      for (const bytes of [
        new Uint8Array([0xff]),
        new Uint8Array(0),
        dagCbor.encode([1, 2, 3]),
        dagCbor.encode('consort'),
        dagCbor.encode(null),
        dagCbor.encode(new Uint8Array(8)),
      ]) {
        refuses(() => decodeRecord(bytes, OPTIONS), MalformedRecordError, 'record')
      }
    })

    it('refuses a non-canonical encoding: envelope keys out of order', () => {
      const record = offer()
      const fields = dagCbor.decode(record.bytes) as Record<string, unknown>
      // Hand-built map in plain alphabetical key order (DAG-CBOR sorts by length first).
      const order = ['body', 'sig', 'signer', 'type', 'v']
      const reordered = concat([
        new Uint8Array([0xa5]),
        ...order.flatMap((key) => [dagCbor.encode(key), dagCbor.encode(fields[key])]),
      ])
      assert.notDeepEqual(reordered, record.bytes)
      assert.deepEqual(dagCbor.decode(reordered), fields, 'the reordered bytes hold the same record')
      refuses(() => decodeRecord(reordered, OPTIONS), NonCanonicalRecordError, 'record')
    })

    it('refuses a non-canonical encoding: body keys out of order, still validly signed', () => {
      const body = bodyOf('consort/offer')
      const bodyBytes = dagCbor.encode(body)
      const sig = signer.sign(signingPayload('consort/offer', bodyBytes))
      const keys = Object.keys(body).sort()
      const bodyReordered = concat([
        new Uint8Array([0xa0 + keys.length]),
        ...keys.flatMap((key) => [dagCbor.encode(key), dagCbor.encode(body[key])]),
      ])
      assert.notDeepEqual(bodyReordered, bodyBytes)
      // Envelope in canonical key order (v, sig, body, type, signer), with the hand-ordered body spliced in.
      const envelope = concat([
        new Uint8Array([0xa5]),
        dagCbor.encode('v'),
        dagCbor.encode(1),
        dagCbor.encode('sig'),
        dagCbor.encode(sig),
        dagCbor.encode('body'),
        bodyReordered,
        dagCbor.encode('type'),
        dagCbor.encode('consort/offer'),
        dagCbor.encode('signer'),
        dagCbor.encode(signer.publicKey),
      ])
      refuses(() => decodeRecord(envelope, OPTIONS), NonCanonicalRecordError, 'record')
    })

    it('refuses a non-minimal integer (DAG-CBOR forbids it)', () => {
      const record = offer()
      // The envelope starts a5 61 76 01: a map of five, key "v", value 1. Re-encode 1 as 0x18 0x01.
      assert.deepEqual([...record.bytes.subarray(0, 4)], [0xa5, 0x61, 0x76, 0x01])
      const nonMinimal = concat([record.bytes.subarray(0, 3), new Uint8Array([0x18, 0x01]), record.bytes.subarray(4)])
      refuses(() => decodeRecord(nonMinimal, OPTIONS), NonCanonicalRecordError, 'record')
    })

    it('refuses an oversized record, on signing and on decoding', () => {
      const cert = signRecord('consort/cert', bodies()['consort/cert'], signer)
      const caps = { ...DEFAULT_RECORD_CAPS, recordBytes: cert.bytes.length - 1 }
      refuses(() => decodeRecord(cert.bytes, { ...OPTIONS, caps }), RecordTooLargeError, 'record')
      refuses(() => signRecord('consort/cert', bodies()['consort/cert'], signer, caps), RecordTooLargeError, 'record')
      // At exactly the cap it passes.
      decodeRecord(cert.bytes, { ...OPTIONS, caps: { ...caps, recordBytes: cert.bytes.length } })
      // Large types have their own cap.
      const manifest = signRecord('consort/manifest', bodies()['consort/manifest'], signer)
      const small = { ...DEFAULT_RECORD_CAPS, largeRecordBytes: manifest.bytes.length - 1 }
      refuses(() => decodeRecord(manifest.bytes, { ...OPTIONS, caps: small }), RecordTooLargeError, 'record')
      // Anything beyond the largest cap is refused before it is parsed at all.
      const huge = new Uint8Array(DEFAULT_RECORD_CAPS.largeRecordBytes + 1).fill(0xff)
      refuses(() => decodeRecord(huge, OPTIONS), RecordTooLargeError, 'record')
    })

    it('refuses a record of another network', () => {
      const record = offer()
      const err = refuses(
        () => decodeRecord(record.bytes, { ...OPTIONS, network: 'othernet' }),
        WrongNetworkError,
        'body.network',
      )
      assert.match(err.message, /othernet/)
    })

    it('refuses a record created too far in the future, accepts one within the skew', () => {
      const skew = DEFAULT_RECORD_CAPS.clockSkewMs
      const atLimit = signRecord('consort/offer', { ...bodies()['consort/offer'], created: NOW + skew }, signer)
      decodeRecord(atLimit.bytes, OPTIONS)
      const beyond = signRecord('consort/offer', { ...bodies()['consort/offer'], created: NOW + skew + 1 }, signer)
      refuses(() => decodeRecord(beyond.bytes, OPTIONS), FutureTimestampError, 'body.created')
      // A network may allow more skew.
      decodeRecord(beyond.bytes, { ...OPTIONS, caps: { ...DEFAULT_RECORD_CAPS, clockSkewMs: skew + 1 } })
    })

    it('refuses a flipped bit in the signature', () => {
      const record = offer()
      const at = indexOfBytes(record.bytes, record.sig)
      assert.ok(at > 0)
      for (const bit of [0, 7, 200, 511]) {
        refuses(() => decodeRecord(flipBit(record.bytes, at * 8 + bit), OPTIONS), BadSignatureError, 'sig')
      }
    })

    it('refuses a flipped bit in the body', () => {
      const record = offer()
      // 'offer-1' -> 'offer-0': still a valid id, so only the signature can tell.
      const at = indexOfBytes(record.bytes, new TextEncoder().encode('offer-1')) + 6
      const tampered = flipBit(record.bytes, at * 8)
      assert.equal((dagCbor.decode(tampered) as AnyBody).body.offerId, 'offer-0')
      refuses(() => decodeRecord(tampered, OPTIONS), BadSignatureError, 'sig')
    })

    it('refuses a flipped bit in the signer', () => {
      const record = offer()
      const at = indexOfBytes(record.bytes, record.signer)
      for (const bit of [0, 100, 255]) {
        refuses(() => decodeRecord(flipBit(record.bytes, at * 8 + bit), OPTIONS), BadSignatureError, 'sig')
      }
    })

    it("refuses another signer's key in place of the signer", () => {
      const bytes = signRawEnvelope(
        { type: 'consort/offer', body: bodyOf('consort/offer'), extra: { signer: other.publicKey } },
        signer,
      )
      refuses(() => decodeRecord(bytes, OPTIONS), BadSignatureError, 'sig')
    })

    it('decodeRecordAs refuses a record of another type', () => {
      refuses(() => decodeRecordAs('consort/receipt', offer().bytes, OPTIONS), UnexpectedRecordTypeError, 'type')
    })
  })

  describe('domain separation', () => {
    it('a signature over the same body bytes under another type does not verify', () => {
      for (const type of TYPES) {
        const record = signRecord(type, bodies()[type] as never, signer)
        const bodyBytes = dagCbor.encode(record.body)
        assert.equal(ed25519Verify(signer.publicKey, signingPayload(type, bodyBytes), record.sig), true)
        for (const otherType of TYPES) {
          if (otherType === type) continue
          assert.equal(
            ed25519Verify(signer.publicKey, signingPayload(otherType, bodyBytes), record.sig),
            false,
            `${type} signature verifies as ${otherType}`,
          )
        }
        assert.equal(ed25519Verify(signer.publicKey, bodyBytes, record.sig), false, 'verifies without the domain')
      }
    })

    it('an envelope whose signature was made for another type is refused', () => {
      const body = bodyOf('consort/offer')
      const bytes = signRawEnvelope({ type: 'consort/offer', body, signAs: 'consort/receipt' }, signer)
      refuses(() => decodeRecord(bytes, OPTIONS), BadSignatureError, 'sig')
      // The same body signed under its own type passes: only the domain differs.
      decodeRecord(signRawEnvelope({ type: 'consort/offer', body }, signer), OPTIONS)
    })

    it('an envelope signed over the bare body bytes (no domain) is refused', () => {
      const body = bodyOf('consort/offer')
      const sig = signer.sign(dagCbor.encode(body))
      const bytes = dagCbor.encode({ v: 1, type: 'consort/offer', body, signer: signer.publicKey, sig })
      refuses(() => decodeRecord(bytes, OPTIONS), BadSignatureError, 'sig')
    })

    it('the signing payload is the domain, the type, a zero byte and the body', () => {
      const payload = signingPayload('consort/offer', new Uint8Array([1, 2, 3]))
      assert.deepEqual(
        payload,
        concat([new TextEncoder().encode('consort/v1/consort/offer\0'), new Uint8Array([1, 2, 3])]),
      )
    })
  })

  describe('money', () => {
    const amounts = [0n, 1n, 99n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]
    for (const amount of amounts) {
      it(`round-trips ${amount} as a bigint`, () => {
        const base = bodies()['consort/offer']
        const record = signRecord('consort/offer', { ...base, price: { amount, currency: 'EUR' } }, signer)
        const decoded = decodeRecordAs('consort/offer', record.bytes, OPTIONS)
        assert.equal(typeof decoded.body.price.amount, 'bigint')
        assert.equal(decoded.body.price.amount, amount)
        assert.equal(record.body.price.amount, amount)
      })
    }

    it('accepts a safe integer where a bigint is expected and gives back a bigint', () => {
      const base = bodies()['consort/offer']
      const record = signRecord('consort/offer', { ...base, price: { amount: 250, currency: 'JPY' } }, signer)
      assert.equal(decodeRecordAs('consort/offer', record.bytes, OPTIONS).body.price.amount, 250n)
    })

    it('round-trips large negative statement amounts', () => {
      const base = bodies()['consort/statement']
      const net = -(2n ** 63n) - 5n
      const record = signRecord('consort/statement', { ...base, totals: { credits: 0n, debits: -net, net } }, signer)
      const decoded = decodeRecordAs('consort/statement', record.bytes, OPTIONS)
      assert.equal(decoded.body.totals.net, net)
      assert.equal(decoded.body.totals.debits, -net)
    })

    it('refuses an amount beyond what DAG-CBOR can carry with a schema error, not a codec crash', () => {
      const base = bodies()['consort/offer']
      refuses(
        () => signRecord('consort/offer', { ...base, price: { amount: 2n ** 64n, currency: 'EUR' } }, signer),
        RecordSchemaError,
        'body.price.amount',
      )
      const statement = bodies()['consort/statement']
      refuses(
        () =>
          signRecord(
            'consort/statement',
            { ...statement, totals: { credits: 0n, debits: 0n, net: -(2n ** 64n) - 1n } },
            signer,
          ),
        RecordSchemaError,
        'body.totals.net',
      )
    })

    it('refuses a float amount', () => {
      const body = bodyOf('consort/offer')
      body.price.amount = 9.99
      refuses(
        () => decodeRecord(signRawEnvelope({ type: 'consort/offer', body }, signer), OPTIONS),
        RecordSchemaError,
        'body.price.amount',
      )
    })
  })
})

describe('protocols/records: the canonical form is checked while decoding', () => {
  it('refuses a whole number written as a float, a float written in 32 bits, undefined, and bad UTF-8; accepts what the encoder writes', async () => {
    const { decodeCanonical, NotCanonicalError } = await import('../../../protocols/records/canonical.ts')
    const canonical = dagCbor.encode({ a: 1.5, bb: [1, 'x', null, true], c: { d: new Uint8Array([1]) } })
    assert.deepEqual(decodeCanonical(canonical), { a: 1.5, bb: [1, 'x', null, true], c: { d: new Uint8Array([1]) } })
    // { a: 2.0 } with 2.0 as a 64-bit float
    assert.throws(
      () => decodeCanonical(new Uint8Array([0xa1, 0x61, 0x61, 0xfb, 0x40, 0, 0, 0, 0, 0, 0, 0])),
      NotCanonicalError,
    )
    // { a: 1.5 } with 1.5 as a 32-bit float
    assert.throws(() => decodeCanonical(new Uint8Array([0xa1, 0x61, 0x61, 0xfa, 0x3f, 0xc0, 0, 0])), NotCanonicalError)
    // { a: undefined }
    assert.throws(() => decodeCanonical(new Uint8Array([0xa1, 0x61, 0x61, 0xf7])), Error)
    // { a: "\xff" }: a lone continuation byte is not UTF-8
    assert.throws(() => decodeCanonical(new Uint8Array([0xa1, 0x61, 0x61, 0x61, 0xff])), NotCanonicalError)
    // { b: 1, a: 2 }: keys out of order; { a: 1, a: 2 }: repeated
    assert.throws(() => decodeCanonical(new Uint8Array([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])), NotCanonicalError)
    assert.throws(() => decodeCanonical(new Uint8Array([0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02])), Error)
    // { aa: 1, b: 2 }: longer key first
    assert.throws(
      () => decodeCanonical(new Uint8Array([0xa2, 0x62, 0x61, 0x61, 0x01, 0x61, 0x62, 0x02])),
      NotCanonicalError,
    )
  })

  it('agrees with encode-and-compare on random records with random bit flips', async () => {
    const { decodeCanonical } = await import('../../../protocols/records/canonical.ts')
    const fc = (await import('fast-check')).default
    const record = signRecord(
      'consort/offer',
      bodies()['consort/offer'],
      signerFromSeed(new SeededRandom('canonical').bytes(32)),
    )
    fc.assert(
      fc.property(fc.nat(record.bytes.length * 8 - 1), (bit) => {
        const flipped = new Uint8Array(record.bytes)
        flipped[bit >> 3]! ^= 1 << (bit & 7)
        let viaTokens: unknown
        let tokensOk = true
        try {
          viaTokens = decodeCanonical(flipped)
        } catch {
          tokensOk = false
        }
        let encodeOk = true
        try {
          const decoded = dagCbor.decode(flipped)
          encodeOk = Buffer.from(dagCbor.encode(decoded)).equals(Buffer.from(flipped))
        } catch {
          encodeOk = false
        }
        assert.equal(tokensOk, encodeOk)
        if (tokensOk) assert.deepEqual(viaTokens, dagCbor.decode(flipped))
      }),
      { numRuns: 2000 },
    )
  })
})
