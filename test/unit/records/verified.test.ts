import assert from 'node:assert/strict'
import { SeededRandom, signerFromSeed } from '../../../keys/index.ts'
import { DEFAULT_RECORD_CAPS, signRecord } from '../../../protocols/records/index.ts'
import { VerifiedRecords } from '../../../protocols/records/verified.ts'
import { flipBit, indexOfBytes, sampleBodies } from '../../helpers/record-samples.ts'

const NETWORK = 'testnet'
const NOW = Date.UTC(2026, 10, 1)
const OPTIONS = { network: NETWORK, now: NOW }
const signer = signerFromSeed(new SeededRandom('verified-records').bytes(32))

function cert(name = 'Retailer') {
  return signRecord('consort/cert', { ...sampleBodies(NETWORK, NOW)['consort/cert'], name }, signer)
}

describe('protocols/records: VerifiedRecords', () => {
  it('checks a record once and answers the same bytes again from memory', () => {
    const verified = new VerifiedRecords()
    const record = cert()
    const first = verified.decode(record.bytes, OPTIONS)
    const again = verified.decode(Uint8Array.from(record.bytes), OPTIONS)
    assert.equal(verified.hits, 1)
    assert.equal(again, first)
    assert.ok(again.id.equals(record.id))
  })

  it('checks network, time and size caps again on every hit, with the errors of decodeRecord', () => {
    const verified = new VerifiedRecords()
    const record = cert()
    verified.decode(record.bytes, OPTIONS)
    assert.throws(() => verified.decode(record.bytes, { ...OPTIONS, network: 'othernet' }), {
      name: 'WrongNetworkError',
    })
    assert.throws(() => verified.decode(record.bytes, { ...OPTIONS, now: NOW - DEFAULT_RECORD_CAPS.clockSkewMs - 1 }), {
      name: 'FutureTimestampError',
    })
    assert.throws(
      () =>
        verified.decode(record.bytes, {
          ...OPTIONS,
          caps: { ...DEFAULT_RECORD_CAPS, recordBytes: record.bytes.length - 1 },
        }),
      { name: 'RecordTooLargeError' },
    )
    assert.equal(verified.hits, 0)
  })

  it('never remembers a record that failed: a forged copy fails every time', () => {
    const verified = new VerifiedRecords()
    const record = cert()
    const forged = flipBit(record.bytes, (indexOfBytes(record.bytes, record.sig) + 3) * 8)
    for (let i = 0; i < 3; i++) assert.throws(() => verified.decode(forged, OPTIONS), { name: 'BadSignatureError' })
    assert.equal(verified.hits, 0)
    verified.decode(record.bytes, OPTIONS)
    assert.throws(() => verified.decode(forged, OPTIONS), { name: 'BadSignatureError' })
  })

  it('keeps at most its bound, dropping the least recently used', () => {
    const verified = new VerifiedRecords(2)
    const [a, b, c] = [cert('A'), cert('B'), cert('C')]
    verified.decode(a.bytes, OPTIONS)
    verified.decode(b.bytes, OPTIONS)
    verified.decode(a.bytes, OPTIONS) // a is now the most recent
    verified.decode(c.bytes, OPTIONS) // drops b
    assert.equal(verified.hits, 1)
    verified.decode(a.bytes, OPTIONS)
    assert.equal(verified.hits, 2)
    verified.decode(b.bytes, OPTIONS)
    assert.equal(verified.hits, 2, 'b was dropped and checked again')
  })
})
