import * as dagCbor from '@ipld/dag-cbor'
import { MalformedRecordError } from '../records/errors.ts'

/** A lead record and at most this many attachments. */
export const MAX_ATTACHMENTS = 4
export const GOSSIP_MESSAGE_VERSION = 1

/**
 * A gossip message is `{ v: 1, records: [lead, ...attachments] }` in DAG-CBOR, each record its own envelope
 * bytes. Attachments let a receiver check the lead without a lookup: the signer's certificate travels with it.
 */
export function encodeGossipMessage(records: readonly Uint8Array[]): Uint8Array {
  return dagCbor.encode({ v: GOSSIP_MESSAGE_VERSION, records: [...records] })
}

export function decodeGossipMessage(data: Uint8Array): Uint8Array[] {
  let value: unknown
  try {
    value = dagCbor.decode(data)
  } catch (err) {
    throw new MalformedRecordError('message', `not DAG-CBOR (${(err as Error).message})`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value))
    throw new MalformedRecordError('message', 'not a map')
  const map = value as Record<string, unknown>
  if (Object.keys(map).sort().join(',') !== 'records,v')
    throw new MalformedRecordError('message', 'expected exactly v and records')
  if (map.v !== GOSSIP_MESSAGE_VERSION)
    throw new MalformedRecordError('message.v', `unsupported version ${String(map.v)}`)
  const records = map.records
  if (!Array.isArray(records) || records.length < 1 || records.length > 1 + MAX_ATTACHMENTS) {
    throw new MalformedRecordError('message.records', `expected 1 to ${1 + MAX_ATTACHMENTS} records`)
  }
  for (const [i, r] of records.entries()) {
    if (!(r instanceof Uint8Array)) throw new MalformedRecordError(`message.records.${i}`, 'expected record bytes')
  }
  return records as Uint8Array[]
}
