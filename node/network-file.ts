import { linkSync, readFileSync, unlinkSync } from 'node:fs'
import { CID } from 'multiformats/cid'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { Signer } from '../keys/ed25519.ts'
import { toHex } from '../keys/hex.ts'
import { decodeNetworkRecord } from '../protocols/network.ts'
import { DEFAULT_RECORD_CAPS, type SignedRecord, signRecord } from '../protocols/records/envelope.ts'
import { isRecordError } from '../protocols/records/errors.ts'
import type { NetworkBody, NetworkCaps, NetworkPolicy } from '../protocols/records/types/network.ts'
import { DEFAULT_NETWORK_RULES } from '../protocols/usage-rules/index.ts'
import { writeFileAtomic } from './data-dir.ts'
import { NetworkFileError } from './errors.ts'

export const DEFAULT_NETWORK_CAPS: NetworkCaps = {
  recordBytes: DEFAULT_RECORD_CAPS.recordBytes,
  largeRecordBytes: DEFAULT_RECORD_CAPS.largeRecordBytes,
  messageBytes: 1024 * 1024,
  clockSkewMs: DEFAULT_RECORD_CAPS.clockSkewMs,
}

export const DEFAULT_NETWORK_POLICY: NetworkPolicy = {
  deviceLimit: 5,
  autoApprovePlayers: true,
  clearingFeeBps: 300,
  certificationTtlMs: 24 * 3600_000,
  ruleDefaults: { ...DEFAULT_NETWORK_RULES },
}

export interface NetworkRecordInit {
  name: string
  seq?: number
  registrars: NetworkBody['registrars']
  references?: NetworkBody['references']
  clearinghouses?: NetworkBody['clearinghouses']
  bootstrap?: string[]
  caps?: Partial<NetworkCaps>
  policy?: Partial<NetworkPolicy>
  created: number
}

/** Sign a network record with the genesis key. */
export function createNetworkRecord(init: NetworkRecordInit, genesis: Signer): SignedRecord<'consort/network'> {
  return signRecord(
    'consort/network',
    {
      network: init.name,
      created: init.created,
      seq: init.seq ?? 0,
      registrars: init.registrars,
      references: init.references ?? [],
      clearinghouses: init.clearinghouses ?? [],
      bootstrap: init.bootstrap ?? [],
      caps: { ...DEFAULT_NETWORK_CAPS, ...init.caps },
      policy: { ...DEFAULT_NETWORK_POLICY, ...init.policy },
    },
    genesis,
  )
}

/**
 * `network.json`: the signed network record (base64 of its DAG-CBOR bytes, which alone is authoritative),
 * its id, and a readable summary for people.
 */
export function networkFileContents(record: SignedRecord<'consort/network'>): string {
  const body = record.body
  return `${JSON.stringify(
    {
      consortNetwork: 1,
      id: record.id.toString(),
      record: bytesToString(record.bytes, 'base64'),
      summary: {
        name: body.network,
        seq: body.seq,
        genesis: toHex(record.signer),
        registrars: body.registrars.map((a) => ({ name: a.name, key: toHex(a.key) })),
        references: body.references.map((a) => ({ name: a.name, key: toHex(a.key) })),
        clearinghouses: body.clearinghouses.map((a) => ({ name: a.name, key: toHex(a.key) })),
        bootstrap: body.bootstrap,
      },
    },
    null,
    2,
  )}\n`
}

export function writeNetworkFile(path: string, record: SignedRecord<'consort/network'>): void {
  writeFileAtomic(path, networkFileContents(record))
}

/** Write `network.json` only where there is none: an existing network file is never replaced (`NetworkFileError`). */
export function writeNetworkFileExclusive(path: string, record: SignedRecord<'consort/network'>): void {
  const tmp = `${path}.${process.pid}.new`
  writeFileAtomic(tmp, networkFileContents(record))
  try {
    linkSync(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new NetworkFileError(`${path} exists already: a network file is never overwritten`)
    }
    throw err
  } finally {
    unlinkSync(tmp)
  }
}

export function parseNetworkFile(text: string, now: number, source = 'network file'): SignedRecord<'consort/network'> {
  let json: { consortNetwork?: unknown; id?: unknown; record?: unknown }
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new NetworkFileError(`${source}: not JSON (${(err as Error).message})`)
  }
  if (json?.consortNetwork !== 1)
    throw new NetworkFileError(`${source}: not a Consort network file (consortNetwork must be 1)`)
  if (typeof json.record !== 'string') throw new NetworkFileError(`${source}: record: missing`)
  let bytes: Uint8Array
  try {
    bytes = bytesFromString(json.record, 'base64')
  } catch {
    throw new NetworkFileError(`${source}: record: not base64`)
  }
  let record: SignedRecord<'consort/network'>
  try {
    record = decodeNetworkRecord(bytes, now)
  } catch (err) {
    if (isRecordError(err)) throw new NetworkFileError(`${source}: ${err.message}`)
    throw err
  }
  if (typeof json.id === 'string' && !CID.parse(json.id).equals(record.id)) {
    throw new NetworkFileError(`${source}: id ${json.id} does not match the record (${record.id})`)
  }
  return record
}

export function readNetworkFile(path: string, now: number): SignedRecord<'consort/network'> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new NetworkFileError(`cannot read network file ${path}: ${(err as Error).message}`)
  }
  return parseNetworkFile(text, now, path)
}
