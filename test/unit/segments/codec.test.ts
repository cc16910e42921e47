import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  bitfieldBytes,
  bitfieldGet,
  bitfieldSet,
  blockFrameHead,
  decodeRequest,
  decodeResponse,
  encodeAbsentFrame,
  encodeBlockFrame,
  encodeBusyFrame,
  encodeErrorFrame,
  encodeHaveFrame,
  encodeRequest,
  MAX_GET_CIDS,
  MAX_HAVE_CIDS,
  parseBlockFrameHead,
  SegmentFrameError,
  varint,
} from '../../../protocols/segments/index.ts'

const cidArb = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((d) => CID.createV1(raw.code, createDigest(sha256.code, d)))
const opArb = fc.constantFrom('get' as const, 'have' as const, 'cancel' as const)

/** The same bytes, whatever the view type (DAG-CBOR hands back Buffers). */
function sameBytes(actual: Uint8Array, expected: Uint8Array, message?: string): void {
  assert.equal(Buffer.compare(Buffer.from(actual), Buffer.from(expected)), 0, message)
}

function cid(n: number): CID {
  const digest = new Uint8Array(32)
  digest[0] = n & 0xff
  digest[1] = n >> 8
  return CID.createV1(raw.code, createDigest(sha256.code, digest))
}

describe('segments codec', () => {
  it('writes requests byte for byte as DAG-CBOR would', () => {
    fc.assert(
      fc.property(
        opArb,
        fc.integer({ min: 0, max: 2 }),
        fc.array(cidArb, { minLength: 1, maxLength: 40 }),
        (op, priority, cids) => {
          const mine = encodeRequest({ op, priority, cids })
          sameBytes(mine, dagCbor.encode({ v: 1, op, pri: priority, cids }))
          assert.deepEqual(decodeRequest(mine), { op, priority, cids })
        },
      ),
    )
  })

  it('writes block frames byte for byte as DAG-CBOR would, at every length boundary', () => {
    const sizes = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 262_160]
    const indexes = [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1]
    for (const size of sizes) {
      for (const index of indexes) {
        const block = new Uint8Array(size).fill(size & 0xff)
        const frame = encodeBlockFrame(index, block)
        sameBytes(frame, dagCbor.encode({ v: 1, i: index, block }), `index ${index}, ${size} bytes`)
        const head = blockFrameHead(index, size)
        assert.deepEqual(frame.subarray(0, head.length), head)
        assert.deepEqual(parseBlockFrameHead(frame.subarray(0, 24), frame.length), {
          index,
          offset: head.length,
          length: size,
        })
        const decoded = decodeResponse(frame, index + 1)
        assert.equal(decoded.kind, 'block')
        sameBytes((decoded as { block: Uint8Array }).block, block)
      }
    }
  })

  it('recognises only exact, shortest block heads on the fast path', () => {
    const frame = encodeBlockFrame(5, new Uint8Array(100))
    assert.equal(parseBlockFrameHead(frame, frame.length + 1), null, 'length must match the frame')
    // the index 5 written in a one-byte argument instead of in the head: not shortest form
    const long = Uint8Array.from([0xa3, 0x61, 0x69, 0x18, 0x05, ...frame.subarray(4)])
    assert.equal(parseBlockFrameHead(long, long.length), null)
    assert.throws(() => decodeResponse(long, 10), SegmentFrameError)
    for (const other of [
      encodeAbsentFrame(1),
      encodeBusyFrame(1),
      encodeHaveFrame(new Uint8Array(1)),
      encodeErrorFrame('ERR_BUSY', 'x'),
    ]) {
      assert.equal(parseBlockFrameHead(other, other.length), null)
    }
  })

  it('decodes every kind of answer and checks indexes', () => {
    assert.deepEqual(decodeResponse(encodeAbsentFrame(3), 4), { kind: 'absent', index: 3 })
    assert.deepEqual(decodeResponse(encodeBusyFrame(0), 1), { kind: 'busy', index: 0 })
    assert.deepEqual(decodeResponse(encodeHaveFrame(Uint8Array.from([0xa0])), 0), {
      kind: 'have',
      bitfield: Uint8Array.from([0xa0]),
    })
    assert.deepEqual(decodeResponse(encodeErrorFrame('ERR_BUSY', 'full'), 0), {
      kind: 'error',
      code: 'ERR_BUSY',
      message: 'full',
    })
    assert.throws(() => decodeResponse(encodeAbsentFrame(4), 4), { name: 'SegmentFrameError', field: 'response.i' })
    assert.throws(() => decodeResponse(encodeBlockFrame(9, new Uint8Array(1)), 9), { field: 'response.i' })
    assert.throws(() => decodeResponse(dagCbor.encode({ v: 1, i: 0, absent: false }), 1), { field: 'response.absent' })
    assert.throws(() => decodeResponse(dagCbor.encode({ v: 1, i: 0, surprise: 1 }), 1), { field: 'response' })
    assert.throws(() => decodeResponse(dagCbor.encode({ v: 2, i: 0, absent: true }), 1), { field: 'response.v' })
    assert.throws(() => decodeResponse(dagCbor.encode({ v: 1, error: 'NOPE', message: '' }), 1), {
      field: 'response.error',
    })
    assert.throws(() => decodeResponse(Uint8Array.from([0xff]), 1), { field: 'response' })
  })

  it('refuses malformed requests, naming the field', () => {
    const one = [cid(1)]
    const cases: Array<[unknown, string]> = [
      [{ v: 2, op: 'get', pri: 0, cids: one }, 'request.v'],
      [{ v: 1, op: 'put', pri: 0, cids: one }, 'request.op'],
      [{ v: 1, op: 'get', pri: 3, cids: one }, 'request.pri'],
      [{ v: 1, op: 'get', pri: 0, cids: [] }, 'request.cids'],
      [{ v: 1, op: 'get', pri: 0, cids: Array.from({ length: MAX_GET_CIDS + 1 }, (_, i) => cid(i)) }, 'request.cids'],
      [
        { v: 1, op: 'cancel', pri: 0, cids: Array.from({ length: MAX_GET_CIDS + 1 }, (_, i) => cid(i)) },
        'request.cids',
      ],
      [{ v: 1, op: 'have', pri: 0, cids: Array.from({ length: MAX_HAVE_CIDS + 1 }, (_, i) => cid(i)) }, 'request.cids'],
      [{ v: 1, op: 'get', pri: 0, cids: [new Uint8Array(3)] }, 'request.cids.0'],
      [{ v: 1, op: 'get', pri: 0, cids: one, extra: true }, 'request'],
      [{ v: 1, op: 'get', cids: one }, 'request'],
    ]
    for (const [value, field] of cases) {
      assert.throws(
        () => decodeRequest(dagCbor.encode(value)),
        { name: 'SegmentFrameError', field },
        JSON.stringify(field),
      )
    }
    assert.equal(
      decodeRequest(
        encodeRequest({ op: 'have', priority: 2, cids: Array.from({ length: MAX_HAVE_CIDS }, (_, i) => cid(i)) }),
      ).cids.length,
      MAX_HAVE_CIDS,
    )
  })

  it('keeps bitfields most significant bit first', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 100 }), (bits) => {
        const field = new Uint8Array(bitfieldBytes(bits.length))
        bits.forEach((bit, i) => {
          if (bit) bitfieldSet(field, i)
        })
        assert.deepEqual(
          bits.map((_, i) => bitfieldGet(field, i)),
          bits,
        )
      }),
    )
    const field = new Uint8Array(1)
    bitfieldSet(field, 0)
    bitfieldSet(field, 7)
    assert.deepEqual(field, Uint8Array.from([0x81]))
  })

  it('writes unsigned varints', () => {
    assert.deepEqual(varint(0), Uint8Array.from([0]))
    assert.deepEqual(varint(127), Uint8Array.from([127]))
    assert.deepEqual(varint(128), Uint8Array.from([0x80, 0x01]))
    assert.deepEqual(varint(262_180), Uint8Array.from([0xa4, 0x80, 0x10]))
  })
})
