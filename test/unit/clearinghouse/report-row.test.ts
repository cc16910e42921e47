import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { recordId } from '../../../protocols/records/envelope.ts'
import { decodeReportRow, encodeReportRow, REPORT_STATUSES } from '../../../roles/clearinghouse/state.ts'

/** Layout 1 as it was first written (a DataView over a buffer of its own): rows on disk stay readable, bytes alike. */
function layoutOne(status: number, storedAt: number, cid: Uint8Array, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(11 + cid.length + bytes.length)
  out[0] = 1
  out[1] = status
  new DataView(out.buffer).setBigUint64(2, BigInt(storedAt))
  out[10] = cid.length
  out.set(cid, 11)
  out.set(bytes, 11 + cid.length)
  return out
}

describe('clearinghouse report rows (layout 1)', () => {
  it('writes the same bytes as before and reads them back, at every storedAt width', () => {
    const times = [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 1_765_000_000_123, Number.MAX_SAFE_INTEGER]
    for (const [i, storedAt] of times.entries()) {
      const registration = recordId(randomBytes(20 + i))
      const bytes = randomBytes(i * 150)
      for (const [s, status] of REPORT_STATUSES.entries()) {
        const row = { status, storedAt, deviceRecord: registration.toString(), bytes }
        const encoded = encodeReportRow(row)
        assert.deepEqual(Buffer.from(encoded), Buffer.from(layoutOne(s, storedAt, registration.bytes, bytes)))
        const back = decodeReportRow('r/x', encoded)
        assert.deepEqual({ ...back, bytes: Buffer.from(back.bytes) }, { ...row, bytes: Buffer.from(bytes) })
      }
    }
  })

  it('gives each row bytes of its own (rows share slabs, never bytes)', () => {
    const registration = recordId(randomBytes(8)).toString()
    const rows = Array.from({ length: 300 }, (_, i) =>
      encodeReportRow({ status: 'settled', storedAt: i, deviceRecord: registration, bytes: new Uint8Array(i).fill(i) }),
    )
    for (const [i, encoded] of rows.entries()) {
      const back = decodeReportRow('r/x', encoded)
      assert.equal(back.storedAt, i)
      assert.ok(back.bytes.every((b) => b === (i & 0xff)))
    }
  })
})
