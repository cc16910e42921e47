import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { decodeCanonical } from '../../../protocols/records/canonical.ts'
import { RECORD_TYPES, type RecordType } from '../../../protocols/records/index.ts'
import { quickUsageEvents, usageEvents } from '../../../protocols/usage/index.ts'
import { SAMPLE_GRID, SAMPLE_ICPN, SAMPLE_ISRC, sampleBodies, sampleRecordCid } from '../../helpers/record-samples.ts'

/**
 * Each hand-written quick check against its type's zod schema: it vouches for every valid sample with exactly the
 * schema's output (same values, same key order), and for thousands of spoiled bodies it either says nothing or
 * agrees with the schema. It may never accept what the schema refuses.
 */

const NOW = Date.UTC(2026, 10, 1)
type Quick = (body: unknown) => unknown
type Schema = { safeParse(v: unknown): { success: boolean; data?: unknown } }
const QUICK = Object.entries(RECORD_TYPES)
  .filter(([, entry]) => 'quick' in entry)
  .map(([type, entry]) => ({
    type: type as RecordType,
    quick: (entry as unknown as { quick: Quick }).quick,
    schema: entry.body as unknown as Schema,
    valid: () => validBodies(type as RecordType),
  }))

/** The sealed events of a usage report, the clearinghouse's other hot decode. */
function validEvents(): unknown[] {
  const play = {
    eventId: 'e-1',
    kind: 'play',
    isrc: SAMPLE_ISRC,
    purchaseId: 'purchase-1',
    licence: sampleRecordCid('licence'),
    offer: sampleRecordCid('offer'),
    contract: sampleRecordCid('contract'),
    startedAt: NOW,
    seconds: 180,
  }
  const preview = {
    ...play,
    eventId: 'e-2',
    kind: 'preview',
    purchaseId: null,
    licence: null,
    offer: null,
    contract: null,
  }
  return [
    { v: 1, events: [play] },
    { v: 1, events: [play, preview, { ...play, eventId: 'e-3', kind: 'export', seconds: 0 }] },
  ].map(decoded)
}
const CHECKS = [
  ...QUICK.map((c) => ({ ...c, name: c.type as string })),
  {
    name: 'usage events (sealed in a report)',
    quick: (v: unknown) => quickUsageEvents(v) && { v: 1, events: quickUsageEvents(v) },
    schema: usageEvents as unknown as Schema,
    valid: validEvents,
  },
]

/** A body as the canonical decoder gives it. */
function decoded(body: unknown): unknown {
  return decodeCanonical(dagCbor.encode(body))
}

/** Deep equality that also holds object keys to the same order (zod builds its output in the schema's order). */
function sameOutput(actual: unknown, expected: unknown, path = 'body'): void {
  assert.deepEqual(actual, expected, path)
  if (expected !== null && typeof expected === 'object' && !(expected instanceof Uint8Array) && !CID.asCID(expected)) {
    if (!Array.isArray(expected))
      assert.deepEqual(Object.keys(actual as object), Object.keys(expected), `${path} key order`)
    for (const [k, v] of Object.entries(expected)) sameOutput((actual as Record<string, unknown>)[k], v, `${path}.${k}`)
  }
}

/** Valid bodies of a type: its sample, and variants with nullable fields null, optional ones absent, big money. */
function validBodies(type: RecordType): unknown[] {
  const sample = sampleBodies('testnet', NOW)[type] as Record<string, unknown>
  const variants: Record<string, unknown>[] = [sample]
  const variant = (change: Record<string, unknown>, drop: string[] = []) => {
    const v: Record<string, unknown> = { ...sample, ...change }
    for (const key of drop) delete v[key]
    variants.push(v)
  }
  if (type === 'consort/offer') {
    variant({ validUntil: null, promotion: null, rules: {}, excludedTerritories: ['FR'], territories: ['Worldwide'] })
    variant({
      price: { amount: 2n ** 64n - 1n, currency: 'JPY' },
      content: [`icpn:${SAMPLE_ICPN}`, `grid:${SAMPLE_GRID}`],
    })
    variant({
      rules: {
        plays: 3,
        playSeconds: 10,
        notAfter: NOW,
        rentalSeconds: 1,
        previewSeconds: 30,
        transfer: true,
        offline: 7,
      },
    })
  }
  if (type === 'consort/device') variant({}, ['territory'])
  if (type === 'consort/usage') variant({ seq: 0, prev: null })
  if (type === 'consort/licence') variant({ notAfter: NOW + 1 }, ['used'])
  if (type === 'consort/cert') variant({ roles: ['clearinghouse'] }, ['partyId'])
  return variants.map(decoded)
}

const REPLACEMENTS: unknown[] = [
  '',
  'a',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(512),
  'x'.repeat(513),
  'Bad Name',
  'UPPER',
  '-lead',
  'offer 1',
  'GB',
  'XX',
  'Worldwide',
  'EUR',
  'eur',
  'XYZ',
  SAMPLE_ISRC,
  'USRC1760783',
  `isrc:${SAMPLE_ISRC}`,
  `icpn:${SAMPLE_ICPN}`,
  'icpn:724384960650',
  `grid:${SAMPLE_GRID}`,
  'discount',
  'free',
  'retailer',
  'player',
  'OnDemandStream',
  'Rental',
  -1,
  0,
  1,
  1.5,
  Number.MAX_SAFE_INTEGER,
  2n ** 53n,
  2n ** 64n - 1n,
  -(2n ** 63n),
  true,
  false,
  null,
  new Uint8Array(0),
  new Uint8Array(15),
  new Uint8Array(16),
  new Uint8Array(17),
  new Uint8Array(31),
  new Uint8Array(32),
  new Uint8Array(33),
  new Uint8Array(64),
  new Uint8Array(256),
  new Uint8Array(257),
  sampleRecordCid('other'),
  CID.createV1(raw.code, sha256.digest(new Uint8Array([1])) as never),
  CID.createV0(sha256.digest(new Uint8Array([1])) as never),
  [],
  ['GB'],
  ['GB', 'GB'],
  [1],
  {},
  { amount: 1, currency: 'EUR' },
  { amount: -1, currency: 'EUR' },
  { kind: 'free', label: 'x' },
  { recipient: new Uint8Array(32), box: new Uint8Array(1) },
  { isrc: SAMPLE_ISRC, keyId: new Uint8Array(16), sealedKey: new Uint8Array(1) },
  { plays: 1 },
  { plays: -1 },
]

type Node = Record<string | number, unknown>

/** Every container in the body and the keys in it: where a spoiling can happen. */
function places(value: unknown, out: Array<{ parent: Node; key: string | number }> = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push({ parent: value as unknown as Node, key: i })
      places(v, out)
    })
  } else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !CID.asCID(value)) {
    for (const [k, v] of Object.entries(value)) {
      out.push({ parent: value as Node, key: k })
      places(v, out)
    }
  }
  return out
}

/** Spoil a copy of `body` in up to three ways; undefined when the result cannot be encoded. */
function spoil(body: unknown, edits: Array<[number, number, number]>): unknown {
  const copy = dagCbor.decode(dagCbor.encode(body)) as Node
  for (const [where, how, what] of edits) {
    const all = places(copy)
    if (all.length === 0) break
    const { parent, key } = all[where % all.length]!
    // Copies: a value put somewhere else in the tree must not make a cycle.
    const value = structuredClone(parent[key])
    switch (how % 6) {
      case 0:
        parent[key] = structuredClone(REPLACEMENTS[what % REPLACEMENTS.length])
        break
      case 1:
        if (Array.isArray(parent)) parent.splice(key as number, 1)
        else delete parent[key]
        break
      case 2:
        if (Array.isArray(parent)) parent.push(value)
        else parent[`extra${what % 3}`] = value
        break
      case 3:
        // Another field's value of the same body.
        parent[key] = structuredClone(all[what % all.length]!.parent[all[what % all.length]!.key])
        break
      case 4:
        parent[key] = Array.isArray(value) ? [] : [value]
        break
      default:
        if (typeof value === 'number') parent[key] = value + ((what % 3) - 1)
        else if (typeof value === 'string') parent[key] = value.slice(0, what % (value.length + 1))
        else parent[key] = null
    }
  }
  try {
    return decoded(copy)
  } catch {
    return undefined
  }
}

describe('protocols/records: quick checks agree with the schemas', () => {
  it('covers the hot record types', () => {
    assert.deepEqual(QUICK.map((q) => q.type).sort(), [
      'consort/cert',
      'consort/certification',
      'consort/device',
      'consort/licence',
      'consort/offer',
      'consort/usage',
    ])
  })

  for (const { name, quick, schema, valid: validOf } of CHECKS) {
    describe(name, () => {
      it('vouches for every valid body with exactly what the schema gives', () => {
        for (const body of validOf()) {
          const expected = schema.safeParse(body)
          assert.ok(expected.success, 'the sample is valid')
          const actual = quick(body)
          assert.notEqual(actual, undefined, 'the quick check vouches for a valid body')
          sameOutput(actual, expected.data)
        }
      })

      it('never accepts a spoiled body the schema refuses, and agrees on those it accepts', () => {
        const valid = validOf()
        let vouched = 0
        let refused = 0
        fc.assert(
          fc.property(
            fc.nat(valid.length - 1),
            fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 3 }),
            (which, edits) => {
              const body = spoil(valid[which], edits)
              if (body === undefined) return
              const actual = quick(body)
              const expected = schema.safeParse(body)
              if (actual === undefined) {
                if (!expected.success) refused++
                return
              }
              vouched++
              assert.ok(expected.success, `the quick check accepted what the schema refuses: ${show(body)}`)
              sameOutput(actual, expected.data)
            },
          ),
          { numRuns: 2500 },
        )
        assert.ok(vouched > 0 && refused > 0, `exercised both ways (vouched ${vouched}, refused ${refused})`)
      })
    })
  }
})

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `bytes(${v.length})` : CID.asCID(v) ? `${v}` : v,
  )
}
