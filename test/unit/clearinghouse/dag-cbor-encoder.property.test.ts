import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { encodeDagCbor } from '../../../roles/clearinghouse/ledger/dag-cbor-encoder.ts'

/** The library's bytes, or its error message. */
function reference(v: unknown): Uint8Array | string {
  try {
    return dagCbor.encode(v)
  } catch (err) {
    return (err as Error).message
  }
}

function ours(v: unknown): Uint8Array | string {
  try {
    return encodeDagCbor(v)
  } catch (err) {
    return (err as Error).message
  }
}

function same(v: unknown): void {
  const want = reference(v)
  const got = ours(v)
  if (typeof want === 'string') assert.equal(got, want)
  else assert.deepEqual(Buffer.from(got as Uint8Array).toString('hex'), Buffer.from(want).toString('hex'))
}

/** Integers around every width boundary of CBOR's heads. */
const boundaries = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]
const ints = fc.oneof(
  fc.integer(),
  fc.constantFrom(
    ...boundaries,
    ...boundaries.map((n) => -n),
    ...boundaries.map((n) => -n - 1).filter(Number.isSafeInteger),
  ),
  fc.maxSafeInteger(),
  fc.maxSafeNat(),
)
const bigs = fc.oneof(
  fc.bigInt({ min: -(1n << 64n), max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, -1n, (1n << 64n) - 1n, -(1n << 64n), 1n << 64n, -(1n << 64n) - 1n, 1n << 32n, (1n << 32n) - 1n),
)
const keys = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('v', 'a', 'b', 'aa', 'ab', 'B', 'devices', 'next'))
const leaf = fc.oneof(
  ints,
  bigs,
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 300 }),
  fc.double(),
  fc.constant(undefined),
)
const values = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: fc.dictionary(keys, tie('value'), { maxKeys: 10 }),
})).value

describe('clearinghouse row encoding (hand-written DAG-CBOR)', () => {
  it('gives @ipld/dag-cbor’s bytes, or its error, for any value', () => {
    fc.assert(fc.property(values, same), { numRuns: 3000 })
  })

  it('gives the same bytes for the rows the ingest writes', () => {
    const hex = 'ab'.repeat(32)
    same({
      v: 1,
      account: hex,
      next: 17,
      head: 'bafyreib',
      lastStart: 1,
      lastEnd: 2,
      hour: 0,
      hourPlays: 0,
      forks: 0,
      gaps: 0,
      playsDueAt: 1_765_000_000_000,
    })
    same({ v: 1, devices: [{ device: hex, start: 5, end: 6 }] })
    same({
      v: 1,
      participant: 'wallet:x',
      kind: 'play',
      ref: 'r',
      content: null,
      units: 3,
      amount: 12_345_678_901_234n,
      counterparty: null,
      at: 9,
    })
    same({ v: 1, plays: 3, playSeconds: 90, exports: 0, burns: 0, firstPlayAt: null })
    same({ t: 'put', k: 'x', v: new Uint8Array([1, 2, 3]) })
    same({ v: 1, amount: -(2n ** 63n) })
  })

  it('hands what it does not cover to the library', () => {
    const cid = CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    same({ link: cid })
    same({ '/': 'x' })
    same(Buffer.from([1, 2, 3]))
    same({ nested: Buffer.from('abc') })
    same(new Map([['a', 1]]))
    same({ a: 1.5 })
    same({ a: -0 })
    same({ é: 'ü', 'a\u{1f3b5}': 1 })
    same({ '': 1 })
    same({ a: undefined })
    same({ a: Number.NaN })
    same({ a: 2 ** 60 })
    same(Object.create(null))
    same(
      new (class Row {
        v = 1
      })(),
    )
    same({ big: 1n << 70n })
    let deep: unknown = 1
    for (let i = 0; i < 60; i++) deep = { d: deep }
    same(deep)
  })

  it('returns bytes of its own (a later encoding does not change an earlier one)', () => {
    const a = encodeDagCbor({ v: 1, s: 'first' })
    const copy = a.slice()
    encodeDagCbor({ v: 1, s: 'second, and longer', pad: new Uint8Array(40_000) })
    assert.deepEqual(a, copy)
  })
})
