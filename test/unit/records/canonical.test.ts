import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { SeededRandom, signerFromSeed } from '../../../keys/index.ts'
import { isError } from '../../../protocols/errors.ts'
import { decodeCanonical, MAX_CBOR_DEPTH, NotCanonicalError } from '../../../protocols/records/canonical.ts'
import { RECORD_TYPES, type RecordType, signRecord } from '../../../protocols/records/index.ts'
import { flipBit, sampleBodies } from '../../helpers/record-samples.ts'

const NOW = Date.UTC(2026, 10, 1)
const TYPES = Object.keys(RECORD_TYPES) as RecordType[]
const signer = signerFromSeed(new SeededRandom('canonical-decoder').bytes(32))
/** The types a node decodes most: offers (gossip, certification) and usage reports (the clearinghouse). */
const HOT: RecordType[] = ['consort/offer', 'consort/usage']
const records = TYPES.map((type) => signRecord(type, sampleBodies('testnet', NOW)[type], signer))

/** The reference: @ipld/dag-cbor's strict decoder, and the bytes are canonical iff encoding the value gives them back. */
function reference(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    const value = dagCbor.decode(bytes)
    return Buffer.from(dagCbor.encode(value)).equals(Buffer.from(bytes)) ? { ok: true, value } : { ok: false }
  } catch {
    return { ok: false }
  }
}

function agrees(bytes: Uint8Array): void {
  const expected = reference(bytes)
  let actual: { ok: true; value: unknown } | { ok: false }
  try {
    actual = { ok: true, value: decodeCanonical(bytes) }
  } catch (err) {
    assert.ok(err instanceof Error, 'refusals are Errors')
    actual = { ok: false }
  }
  assert.equal(
    actual.ok,
    expected.ok,
    `decoder ${actual.ok ? 'accepts' : 'refuses'} ${Buffer.from(bytes).toString('hex')}`,
  )
  if (actual.ok && expected.ok) assert.deepEqual(actual.value, expected.value)
}

describe('protocols/records: the canonical DAG-CBOR decoder', () => {
  it('gives back what @ipld/dag-cbor gives for every record type', () => {
    for (const record of records) assert.deepEqual(decodeCanonical(record.bytes), dagCbor.decode(record.bytes))
  })

  it('agrees with encode-and-compare on every single-bit flip of the hot record types (exhaustive)', () => {
    for (const record of records.filter((r) => HOT.includes(r.type))) {
      for (let bit = 0; bit < record.bytes.length * 8; bit++) agrees(flipBit(record.bytes, bit))
    }
  })

  it('agrees with encode-and-compare on single-bit flips of every record type', () => {
    fc.assert(
      fc.property(fc.nat(records.length - 1), fc.nat(), (which, at) => {
        const record = records[which]!
        agrees(flipBit(record.bytes, at % (record.bytes.length * 8)))
      }),
      { numRuns: 4000 },
    )
  })

  it('agrees with encode-and-compare on bytes replaced, inserted and removed', () => {
    fc.assert(
      fc.property(
        fc.nat(records.length - 1),
        fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'remove'), fc.nat(), fc.nat(255)), {
          minLength: 1,
          maxLength: 3,
        }),
        (which, edits) => {
          let bytes = Uint8Array.from(records[which]!.bytes)
          for (const [kind, at, byte] of edits) {
            const i = at % bytes.length
            if (kind === 'set') bytes[i] = byte
            else if (kind === 'insert') bytes = Uint8Array.from([...bytes.subarray(0, i), byte, ...bytes.subarray(i)])
            else bytes = Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(i + 1)])
          }
          agrees(bytes)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('agrees on the integer boundaries (numbers within the safe integers, bigints beyond)', () => {
    const values = [
      0,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
      2n ** 53n,
      2n ** 64n - 1n,
      -1,
      -24,
      -25,
      Number.MIN_SAFE_INTEGER,
      -(2n ** 53n),
      -(2n ** 53n) - 1n,
      -(2n ** 64n),
      1.5,
      -0.25,
    ]
    for (const v of values) {
      const bytes = dagCbor.encode({ v })
      agrees(bytes)
      assert.deepEqual(decodeCanonical(bytes), { v })
    }
  })

  it('refuses what is not canonical with NotCanonicalError, and what is not DAG-CBOR with a plain Error', () => {
    const notCanonical = [
      [0x18, 0x05], // 5 in two bytes
      [0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02], // { b, a }
      [0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02], // { a, a }
      [0xa2, 0x62, 0x61, 0x61, 0x01, 0x61, 0x62, 0x02], // { aa, b }
      [0xfb, 0x40, 0, 0, 0, 0, 0, 0, 0], // 2.0 as a float
      [0xfa, 0x3f, 0xc0, 0, 0], // 1.5 in 32 bits
      [0xf9, 0x3e, 0x00], // 1.5 in 16 bits
      [0xf7], // undefined
      [0x61, 0xff], // not UTF-8
      [0xa1, 0x01, 0x01], // { 1: 1 }
    ]
    for (const bytes of notCanonical) {
      assert.throws(
        () => decodeCanonical(Uint8Array.from(bytes)),
        NotCanonicalError,
        Buffer.from(bytes).toString('hex'),
      )
    }
    const notDagCbor = [
      [], // nothing
      [0x01, 0x02], // a value and a byte after it
      [0x9f, 0xff], // indefinite array
      [0xc1, 0x01], // tag 1
      [0xd8, 0x2a, 0x01], // tag 42 around an integer
      [0xf9, 0x7c, 0x00], // infinity (16 bits)
      [0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // NaN
      [0x9a, 0xff, 0xff, 0xff, 0xff], // an array longer than the data
      [0x5b, 0, 0, 0, 1, 0, 0, 0, 0], // a byte string longer than the data
      [0xf8, 0x20], // simple value 32
      [0x1c], // reserved additional information
    ]
    for (const bytes of notDagCbor) {
      assert.throws(
        () => decodeCanonical(Uint8Array.from(bytes)),
        (err: Error) => !isError(err, NotCanonicalError),
        Buffer.from(bytes).toString('hex'),
      )
    }
  })

  it('keeps a __proto__ key as an own property (a strict schema then refuses it), never as the prototype', () => {
    const bytes = dagCbor.encode({ __proto__: { polluted: true } } as unknown as object)
    // dag-cbor's encoder drops an inherited __proto__; write the map by hand: { "__proto__": { "x": 1 } }
    const map = Uint8Array.from([0xa1, 0x69, ...Buffer.from('__proto__'), 0xa1, 0x61, 0x78, 0x01])
    const decoded = decodeCanonical(map) as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype)
    assert.deepEqual(Object.keys(decoded), ['__proto__'])
    assert.equal((decoded as { x?: number }).x, undefined)
    agrees(map)
    assert.ok(bytes.length > 0)
  })

  it(`refuses nesting deeper than ${MAX_CBOR_DEPTH}, and decodes up to it`, () => {
    const nested = (depth: number) => Uint8Array.from([...new Array(depth).fill(0x81), 0x01])
    assert.doesNotThrow(() => decodeCanonical(nested(MAX_CBOR_DEPTH)))
    assert.throws(() => decodeCanonical(nested(MAX_CBOR_DEPTH + 1)), /nested deeper/)
    assert.throws(() => decodeCanonical(nested(100_000)), /nested deeper/)
  })

  it('gives byte strings as plain Uint8Array copies, also from a Buffer', () => {
    const bytes = Buffer.from(dagCbor.encode({ k: new Uint8Array([1, 2, 3]) }))
    const decoded = decodeCanonical(bytes) as { k: Uint8Array }
    assert.equal(decoded.k.constructor, Uint8Array)
    assert.equal(decoded.k.buffer.byteLength, 3)
    bytes[bytes.length - 1] = 9
    assert.deepEqual(decoded.k, new Uint8Array([1, 2, 3]))
  })

  it('keeps every code point of valid UTF-8 text, a leading byte-order mark too', () => {
    for (const s of ['Björk', '東京', '🎵 x', `${'a'.repeat(40)}é`]) agrees(dagCbor.encode({ s }))
    // cborg's decoder drops a leading U+FEFF (so the reference cannot judge it): the bytes are what the encoder
    // writes for the text with its mark, and the text comes back whole.
    const bom = dagCbor.encode({ s: '\uFEFFtitle' })
    assert.deepEqual(decodeCanonical(bom), { s: '\uFEFFtitle' })
  })
})
