import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SeededRandom, signerFromSeed } from '../../../keys/index.ts'
import {
  decodeRecord,
  isRecordError,
  RECORD_TYPES,
  type RecordType,
  type SignedRecord,
  signRecord,
} from '../../../protocols/records/index.ts'
import { flipBit, sampleBodies } from '../../helpers/record-samples.ts'

const NETWORK = 'testnet'
const NOW = Date.UTC(2026, 10, 1)
const TYPES = Object.keys(RECORD_TYPES) as RecordType[]

/** Decoding must refuse, and refuse with a RecordError (never a TypeError or a codec's own error). */
function assertRefused(bytes: Uint8Array, original: SignedRecord): void {
  let decoded: SignedRecord | undefined
  try {
    decoded = decodeRecord(bytes, { network: NETWORK, now: NOW })
  } catch (err) {
    assert.ok(isRecordError(err), `not a RecordError: ${(err as Error).name}: ${(err as Error).message}`)
    assert.ok(err.code.startsWith('ERR_'))
    assert.ok(typeof err.field === 'string' && err.field.length > 0)
    return
  }
  assert.fail(`a tampered ${original.type} decoded as ${decoded.type} ${decoded.id} (original ${original.id})`)
}

describe('protocols/records: tampering (property)', () => {
  const signer = signerFromSeed(new SeededRandom('records-bitflip').bytes(32))
  const bodies = sampleBodies(NETWORK, NOW)
  const records = new Map(TYPES.map((type) => [type, signRecord(type, bodies[type] as never, signer)]))

  it('a valid record with one flipped bit never decodes', () => {
    fc.assert(
      fc.property(
        fc
          .constantFrom(...TYPES)
          .chain((type) => fc.tuple(fc.constant(type), fc.nat({ max: records.get(type)!.bytes.length * 8 - 1 }))),
        ([type, bit]) => {
          const record = records.get(type)!
          assertRefused(flipBit(record.bytes, bit), record)
        },
      ),
      { numRuns: 3000, seed: 2 },
    )
  })

  it('every single-bit flip of an offer is refused (exhaustive)', () => {
    const record = records.get('consort/offer')!
    for (let bit = 0; bit < record.bytes.length * 8; bit++) assertRefused(flipBit(record.bytes, bit), record)
  })

  it('several flipped bits, truncation or extension never decode either', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TYPES),
        fc.array(fc.nat(), { minLength: 2, maxLength: 16 }),
        fc.integer({ min: -8, max: 8 }),
        (type, flips, resize) => {
          const record = records.get(type)!
          let bytes = record.bytes
          const bits = bytes.length * 8
          // Distinct bits only: flipping one bit twice would restore it.
          for (const bit of new Set(flips.map((f) => f % bits))) bytes = flipBit(bytes, bit)
          if (resize < 0) bytes = bytes.subarray(0, bytes.length + resize)
          else if (resize > 0) bytes = new Uint8Array([...bytes, ...new Uint8Array(resize).fill(resize)])
          assertRefused(bytes, record)
        },
      ),
      { numRuns: 2000, seed: 3 },
    )
  })
})
