import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { decodeRecordAs, type RecordCaps, type SignedRecord } from './records/envelope.ts'
import { MalformedRecordError } from './records/errors.ts'
import type { NetworkBody } from './records/types/network.ts'
import { protocolId } from './rpc/constants.ts'

/** What every role knows about the network it runs in. */
export interface NetworkContext {
  /** The network's name, as in topic and protocol ids. */
  readonly name: string
  /** The id of the network record in force. */
  readonly id: CID
  readonly record: SignedRecord<'consort/network'>
  readonly body: NetworkBody
  readonly caps: RecordCaps
  /** `/consort/<name>/<protocol>/<version>` */
  protocol(name: string, version?: number): string
}

export function networkContext(record: SignedRecord<'consort/network'>): NetworkContext {
  return {
    name: record.body.network,
    id: record.id,
    record,
    body: record.body,
    caps: {
      recordBytes: record.body.caps.recordBytes,
      largeRecordBytes: record.body.caps.largeRecordBytes,
      clockSkewMs: record.body.caps.clockSkewMs,
    },
    protocol: (name, version = 1) => protocolId(record.body.network, name, version),
  }
}

/**
 * Decode a network record whose name is not yet known (reading a network file). The record must name itself
 * in its `network` field; signature, schema and time are checked as for any record.
 */
export function decodeNetworkRecord(bytes: Uint8Array, now: number): SignedRecord<'consort/network'> {
  let name: unknown
  try {
    name = (dagCbor.decode(bytes) as { body?: { network?: unknown } })?.body?.network
  } catch (err) {
    throw new MalformedRecordError('record', `not DAG-CBOR (${(err as Error).message})`)
  }
  if (typeof name !== 'string') throw new MalformedRecordError('body.network', 'missing network name')
  return decodeRecordAs('consort/network', bytes, { network: name, now })
}
