import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { SeededRandom, signerFromSeed } from '../../../keys/index.ts'
import { decodeCanonical } from '../../../protocols/records/canonical.ts'
import { type DecodeOptions, decodeRecordAs, signRecord } from '../../../protocols/records/envelope.ts'
import { usageBody } from '../../../protocols/records/types/usage.ts'
import { decodeUsageEvents, encodeUsageEvents, type UsageEvent } from '../../../protocols/usage/index.ts'
import { readUsageEvents, readUsageEventsLayout } from '../../../protocols/usage/read-events.ts'
import { readUsageReport, readUsageReportLayout, type UsageReportView } from '../../../protocols/usage/read-report.ts'
import { flipBit, SAMPLE_ISRC, sampleKey, sampleRecordCid } from '../../helpers/record-samples.ts'

/**
 * The hand-written readers of the clearinghouse's hot path (`protocols/usage/read-report.ts`, `read-events.ts`) against
 * the general path (`decodeRecordAs`, `decodeUsageEvents`): on valid records of every head width they read the same
 * values by hand (not by falling back), and on every single-bit flip and random corruption they either give up or read
 * exactly what the general path reads — never accept what it refuses. `readUsageReport` as a whole refuses exactly what
 * `decodeRecordAs` refuses, with the same error.
 */

const NOW = Date.UTC(2026, 10, 1)
const NETWORK = 'testnet'
const OPTIONS: DecodeOptions = { network: NETWORK, now: NOW }
const device = signerFromSeed(new SeededRandom('usage-readers').bytes(32))

function report(overrides: Partial<Record<string, unknown>> = {}, signer = device): Uint8Array {
  return signRecord(
    'consort/usage',
    {
      network: NETWORK,
      created: NOW - 1000,
      device: device.publicKey,
      account: sampleKey(14),
      seq: 1,
      prev: sampleRecordCid('usage-0'),
      sealed: [{ recipient: sampleKey(16), box: new Uint8Array(200).fill(18) }],
      ...overrides,
    } as Parameters<typeof signRecord<'consort/usage'>>[1],
    signer,
  ).bytes
}

/** Reports that cover each field's head widths and shapes. */
const REPORTS: Uint8Array[] = [
  report(),
  report({ seq: 0, prev: null }),
  report({ seq: 23 }),
  report({ seq: 24, created: 255 }),
  report({ seq: 256, created: 65_535 }),
  report({ seq: 65_536, created: 2 ** 32 - 1 }),
  report({ seq: 2 ** 32 }),
  report({ seq: Number.MAX_SAFE_INTEGER }),
  report({
    sealed: [
      { recipient: sampleKey(16), box: new Uint8Array(1).fill(1) },
      { recipient: sampleKey(17), box: new Uint8Array(23).fill(2) },
      { recipient: sampleKey(18), box: new Uint8Array(24).fill(3) },
      { recipient: sampleKey(19), box: new Uint8Array(256).fill(4) },
      { recipient: sampleKey(20), box: new Uint8Array(70_000).fill(5) },
    ],
  }),
]
const NETWORKS = ['a', 'n-1', 'abcdefghijklmnopqrstuvw', 'abcdefghijklmnopqrstuvwx', 'x'.repeat(64)]

/** `decodeRecordAs`'s reading, as a view. */
function general(bytes: Uint8Array, options = OPTIONS): UsageReportView {
  const r = decodeRecordAs('consort/usage', bytes, options)
  return {
    signer: r.signer,
    network: r.body.network,
    created: r.body.created,
    device: r.body.device,
    account: r.body.account,
    seq: r.body.seq,
    prev: r.body.prev === null ? null : r.body.prev.bytes,
    sealed: r.body.sealed,
  }
}

/** Byte fields compared by value (the readers give views, the general path copies). */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }
  return value
}

function outcome(read: () => unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: plain(read()) }
  } catch (err) {
    return { ok: false, error: `${(err as Error).name}: ${(err as Error).message}` }
  }
}

/** What the general path makes of an envelope's structure and body, without the signature (null: it refuses). */
function structure(bytes: Uint8Array): unknown {
  try {
    const env = decodeCanonical(bytes) as Record<string, unknown>
    const keys = Object.keys(env).sort().join()
    if (keys !== 'body,sig,signer,type,v' || env.v !== 1 || env.type !== 'consort/usage') return null
    if (!(env.sig instanceof Uint8Array) || env.sig.length !== 64) return null
    if (!(env.signer instanceof Uint8Array) || env.signer.length !== 32) return null
    const body = usageBody.safeParse(env.body)
    if (!body.success) return null
    const b = body.data
    return plain({
      signer: env.signer,
      network: b.network,
      created: b.created,
      device: b.device,
      account: b.account,
      seq: b.seq,
      prev: b.prev === null ? null : (b.prev as CID).bytes,
      sealed: b.sealed,
    })
  } catch {
    return null
  }
}

/** The layout reader either gives up or reads what the general path reads; `readUsageReport` refuses as it does. */
function reportAgrees(bytes: Uint8Array): void {
  const laid = readUsageReportLayout(bytes)
  if (laid !== undefined) assert.deepEqual(plain(laid), structure(bytes), Buffer.from(bytes).toString('hex'))
  assert.deepEqual(
    outcome(() => readUsageReport(bytes, OPTIONS)),
    outcome(() => general(bytes)),
  )
}

describe('protocols/usage: the hand-written readers of a usage report and its events', () => {
  it('read every valid report by hand, as decodeRecordAs reads it, at every head width', () => {
    const all = [...REPORTS, ...NETWORKS.map((network) => report({ network }))]
    for (const bytes of all) {
      const network = (decodeCanonical(bytes) as { body: { network: string } }).body.network
      const options = { ...OPTIONS, network }
      assert.notEqual(readUsageReportLayout(bytes), undefined, 'read by hand, not by the general path')
      assert.deepEqual(plain(readUsageReport(bytes, options)), plain(general(bytes, options)))
    }
  })

  it('refuse what decodeRecordAs refuses, with its error: network, time, a signature over another body', () => {
    const other = signerFromSeed(new SeededRandom('usage-readers-other').bytes(32))
    const cases = [
      report({ network: 'othernet' }),
      report({ created: NOW + 5 * 60_000 + 1 }),
      (() => {
        // A valid signature over another body: the body's bytes are what the signature covers.
        const a = report({ seq: 5 })
        const b = report({ seq: 6 })
        const copy = new Uint8Array(b)
        copy.set(a.subarray(10, 10 + 64), 10)
        return copy
      })(),
    ]
    for (const bytes of cases) {
      const expected = outcome(() => general(bytes))
      assert.equal(expected.ok, false)
      assert.deepEqual(
        outcome(() => readUsageReport(bytes, OPTIONS)),
        expected,
      )
    }
    // Signed by another key than the device's: a valid record (the verifier refuses it), read alike.
    const signedByOther = report({}, other)
    assert.deepEqual(
      outcome(() => readUsageReport(signedByOther, OPTIONS)),
      outcome(() => general(signedByOther)),
    )
  })

  it('refuse every single-bit flip of a report, as decodeRecordAs does (exhaustive)', () => {
    for (const bytes of [REPORTS[0]!, REPORTS[1]!, REPORTS[5]!]) {
      for (let bit = 0; bit < bytes.length * 8; bit++) {
        const flipped = flipBit(bytes, bit)
        reportAgrees(flipped)
        assert.throws(() => readUsageReport(flipped, OPTIONS), `bit ${bit} accepted`)
      }
    }
  })

  it('never read more than the general path on random corruption (bytes changed, cut, inserted)', () => {
    fc.assert(
      fc.property(
        fc.nat(REPORTS.length - 2),
        fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'cut', 'insert')), {
          minLength: 1,
          maxLength: 4,
        }),
        (which, edits) => {
          let bytes = REPORTS[which]!
          for (const [at, value, edit] of edits) {
            const i = at % bytes.length
            if (edit === 'set') {
              bytes = new Uint8Array(bytes)
              bytes[i] = value
            } else if (edit === 'cut') bytes = Uint8Array.of(...bytes.subarray(0, i), ...bytes.subarray(i + 1))
            else bytes = Uint8Array.of(...bytes.subarray(0, i), value, ...bytes.subarray(i))
          }
          reportAgrees(bytes)
        },
      ),
      { numRuns: 3000, seed: 17 },
    )
  })

  const cid = (label: string) => sampleRecordCid(label)
  const event = (overrides: Partial<UsageEvent> = {}): UsageEvent => ({
    eventId: 'event-1',
    kind: 'play',
    isrc: SAMPLE_ISRC,
    purchaseId: 'purchase-1',
    licence: cid('licence'),
    offer: cid('offer'),
    contract: cid('contract'),
    startedAt: NOW - 60_000,
    seconds: 30,
    ...overrides,
  })
  const BATCHES: UsageEvent[][] = [
    [event()],
    [event({ kind: 'preview', purchaseId: null, licence: null, offer: null, contract: null, seconds: 0 })],
    [
      event({ eventId: 'a', kind: 'export', seconds: 0, startedAt: 0 }),
      event({ eventId: `A.b_c:d/e-9${'z'.repeat(117)}`, kind: 'burn', startedAt: Number.MAX_SAFE_INTEGER }),
      event({ eventId: 'e-3', seconds: 24, startedAt: 2 ** 32 }),
      event({ eventId: 'e-4', seconds: 65_536 }),
    ],
    Array.from({ length: 30 }, (_, i) => event({ eventId: `event-${i}`, seconds: i * 10 })),
  ]

  function eventsAgree(bytes: Uint8Array): void {
    const laid = readUsageEventsLayout(bytes)
    const expected = outcome(() =>
      decodeUsageEvents(bytes).map((e) => ({
        ...e,
        licence: e.licence?.bytes ?? null,
        offer: e.offer?.bytes ?? null,
        contract: e.contract?.bytes ?? null,
      })),
    )
    if (laid !== undefined) assert.deepEqual({ ok: true, value: plain(laid) }, expected)
    assert.deepEqual(
      outcome(() => readUsageEvents(bytes)),
      expected,
    )
  }

  it('read every valid batch of events by hand, as decodeUsageEvents reads it', () => {
    for (const events of BATCHES) {
      const bytes = encodeUsageEvents(events)
      assert.notEqual(readUsageEventsLayout(bytes), undefined, 'read by hand, not by the general path')
      eventsAgree(bytes)
    }
  })

  it('never read more than decodeUsageEvents on every single-bit flip of a batch (exhaustive) and random corruption', () => {
    for (const events of BATCHES.slice(0, 3)) {
      const bytes = encodeUsageEvents(events)
      for (let bit = 0; bit < bytes.length * 8; bit++) eventsAgree(flipBit(bytes, bit))
    }
    fc.assert(
      fc.property(fc.nat(BATCHES.length - 1), fc.nat(), fc.nat(255), (which, at, value) => {
        const bytes = new Uint8Array(encodeUsageEvents(BATCHES[which]!))
        bytes[at % bytes.length] = value
        eventsAgree(bytes)
      }),
      { numRuns: 3000, seed: 17 },
    )
  })
})
