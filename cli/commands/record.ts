import { existsSync, readFileSync } from 'node:fs'
import * as dagCbor from '@ipld/dag-cbor'
import type { Command } from 'commander'
import { CID } from 'multiformats/cid'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { dataDirPaths } from '../../node/data-dir.ts'
import { readNetworkFile } from '../../node/network-file.ts'
import { systemClock } from '../../protocols/clock.ts'
import { decodeRecord, type SignedRecord } from '../../protocols/records/envelope.ts'
import { isRecordError } from '../../protocols/records/errors.ts'
import { CliError, EXIT, print } from '../output.ts'
import { clientFor, dataDirOf, withDataDir, withJson } from './common.ts'

/** Read record bytes from a file: raw DAG-CBOR, base64 text, or a network.json file. */
function recordBytesFromFile(path: string): Uint8Array {
  const bytes = new Uint8Array(readFileSync(path))
  const text = new TextDecoder().decode(bytes).trim()
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as { record?: unknown }
      if (typeof json.record === 'string') return bytesFromString(json.record, 'base64')
    } catch {
      // not JSON after all: treat as bytes
    }
  }
  if (/^[A-Za-z0-9+/=\s]+$/.test(text) && text.length > 0) {
    try {
      return bytesFromString(text.replace(/\s+/g, ''), 'base64')
    } catch {
      // not base64: raw bytes
    }
  }
  return bytes
}

function networkNameOf(bytes: Uint8Array): string {
  try {
    const name = (dagCbor.decode(bytes) as { body?: { network?: unknown } })?.body?.network
    return typeof name === 'string' ? name : ''
  } catch {
    return ''
  }
}

/** `consort record inspect`: decode and verify a record and say why it is invalid if it is. */
export function registerRecordCommands(program: Command): void {
  const record = program.command('record').description('signed records')
  withJson(
    withDataDir(
      record
        .command('inspect')
        .description('decode and verify a record from a file or, by CID, through the running daemon')
        .argument('<file|cid>', 'a file with the record (DAG-CBOR, base64 or network.json) or a record CID')
        .option(
          '--network <file>',
          "check against this network (default: the data dir's network, else the record's own)",
        ),
    ),
  ).action(async (target: string, options) => {
    if (!existsSync(target)) {
      let cid: CID
      try {
        cid = CID.parse(target)
      } catch {
        throw new CliError(`${target}: no such file, and not a CID`, EXIT.usage)
      }
      const result = await clientFor(options).request('GET', `/v1/records/${cid}`)
      print({ valid: true, ...(result as object) }, options)
      return
    }
    const bytes = recordBytesFromFile(target)
    const now = systemClock.now()
    let network: string
    if (options.network != null) network = readNetworkFile(options.network, now).body.network
    else if (existsSync(dataDirPaths(dataDirOf(options)).network))
      network = readNetworkFile(dataDirPaths(dataDirOf(options)).network, now).body.network
    else network = networkNameOf(bytes)
    let decoded: SignedRecord
    try {
      decoded = decodeRecord(bytes, { network, now })
    } catch (err) {
      if (!isRecordError(err)) throw err
      print(
        { valid: false, error: { code: err.code, field: err.field, message: err.message } },
        options,
        () => `INVALID ${err.code}: ${err.message}`,
      )
      process.exitCode = EXIT.failed
      return
    }
    print({ valid: true, id: decoded.id, type: decoded.type, signer: decoded.signer, body: decoded.body }, options)
  })
}
