import * as dagCbor from '@ipld/dag-cbor'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { toHex } from '../keys/hex.ts'
import { type DecodeOptions, decodeRecord, type SignedRecord } from './records/envelope.ts'
import { RecordError } from './records/errors.ts'

/**
 * The network's own DHT namespace. A key `/consort/latest/<signer hex>/<type>/<stable id>` holds the latest
 * version of a versioned record (a contract, an offer, a release) by that signer: the validator checks that the
 * value is a valid record of that signer, type and id; the selector prefers the highest sequence number.
 */
export const DHT_NAMESPACE = 'consort'

export function latestRecordKey(signer: Uint8Array, type: string, stableId: string): Uint8Array {
  return new TextEncoder().encode(`/${DHT_NAMESPACE}/latest/${toHex(signer)}/${type}/${stableId}`)
}

function parseKey(key: Uint8Array): { signer: string; type: string; stableId: string } {
  const parts = new TextDecoder().decode(key).split('/')
  // ['', 'consort', 'latest', signer, 'consort', type-suffix, ...stableId]
  if (parts.length < 7 || parts[1] !== DHT_NAMESPACE || parts[2] !== 'latest') {
    throw new RecordError('key', 'not a /consort/latest/ key')
  }
  return { signer: parts[3]!, type: `${parts[4]}/${parts[5]}`, stableId: parts.slice(6).join('/') }
}

function stableIdOf(record: SignedRecord): { id: string; seq: number } | null {
  const body = record.body as Record<string, unknown>
  const seq = typeof body.seq === 'number' ? body.seq : null
  if (seq == null) return null
  for (const field of ['contractId', 'offerId']) {
    if (typeof body[field] === 'string') return { id: body[field] as string, seq }
  }
  if (record.type === 'consort/release') {
    const icpn = body.icpn as string | null
    return { id: icpn != null ? `icpn:${icpn}` : `grid:${body.grid as string}`, seq }
  }
  if (record.type === 'consort/manifest') return { id: `isrc:${body.isrc as string}`, seq }
  return null
}

export function stableIdOfRecord(record: SignedRecord): string | null {
  return stableIdOf(record)?.id ?? null
}

/**
 * DHT validator for the namespace: throws if the value does not belong under the key, or if it is older than the
 * value this node already holds for the key (`stored`). The second check matters because the DHT's PUT handler
 * stores whatever passes the validator: without it, anyone could replay an older, validly signed version and roll
 * a pointer back everywhere.
 */
export function validateLatestRecord(
  key: Uint8Array,
  value: Uint8Array,
  options: () => DecodeOptions,
  stored: Uint8Array | null = null,
): void {
  const expected = parseKey(key)
  const record = decodeRecord(value, options())
  if (toHex(record.signer) !== expected.signer) throw new RecordError('signer', 'record signer does not match the key')
  if (record.type !== expected.type) throw new RecordError('type', 'record type does not match the key')
  const stable = stableIdOf(record)
  if (stable?.id !== expected.stableId) throw new RecordError('body', 'record id does not match the key')
  if (stored != null && !bytesEqual(stored, value)) {
    let storedSeq = -1
    try {
      const body = (dagCbor.decode(stored) as { body?: { seq?: unknown } }).body
      storedSeq = typeof body?.seq === 'number' ? body.seq : -1
    } catch {
      // what is stored does not decode: the new value may replace it
    }
    if (stable.seq <= storedSeq) {
      throw new RecordError('body.seq', `seq ${stable.seq} does not supersede the stored seq ${storedSeq}`)
    }
  }
}

/** DHT selector: the index of the record with the highest sequence number. */
export function selectLatestRecord(_key: Uint8Array, values: Uint8Array[]): number {
  let best = 0
  let bestSeq = -1
  values.forEach((value, i) => {
    try {
      const body = (dagCbor.decode(value) as { body?: { seq?: unknown } }).body
      const seq = typeof body?.seq === 'number' ? body.seq : -1
      if (seq > bestSeq) {
        best = i
        bestSeq = seq
      }
    } catch {
      // an undecodable value never wins
    }
  })
  return best
}
