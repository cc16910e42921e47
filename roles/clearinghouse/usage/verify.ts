/**
 * Verifying one usage report: everything that needs no state, so that it can run on any thread. The envelope is
 * decoded and its device signature checked (`decodeRecordAs`), the device registration decoded and checked (once
 * per registration: a worker remembers the hashes of those it verified), the report matched to its device and
 * account, and the box sealed to this clearinghouse opened and decoded. Whether the registrar that signed the
 * registration is one of the network's, unrevoked and current, is checked on the main thread, which holds the
 * trust state.
 */
import { hash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../../keys/hex.ts'
import { Lru } from '../../../keys/lru.ts'
import type { SealOpener } from '../../../keys/seal.ts'
import { type DecodeOptions, decodeRecordAs, recordId } from '../../../protocols/records/envelope.ts'
import { isRecordError } from '../../../protocols/records/errors.ts'
import { usageSealContext } from '../../../protocols/usage/index.ts'
import { readUsageEvents, type UsageEventView } from '../../../protocols/usage/read-events.ts'
import { readUsageReport, type UsageReportView } from '../../../protocols/usage/read-report.ts'
import { CID_STRING_CACHE_ENTRIES, DEVICE_RECORD_CACHE_ENTRIES } from '../constants.ts'
import { ReportInvalidError } from '../errors.ts'
import type { StoredEvent } from '../state.ts'

/** A device registration, as much of it as settlement needs. */
export interface DeviceInfo {
  /** The registration record's CID. */
  id: string
  /** Who signed it (hex): must be a registrar of the network. */
  signer: string
  account: string
  device: string
  notBefore: number
  notAfter: number
}

export interface VerifiedReport {
  reportId: string
  /** The usage record's bytes (stored as the report). */
  bytes: Uint8Array
  /** The device registration's bytes (the main thread learns a registration it has not seen). */
  deviceBytes: Uint8Array
  created: number
  device: string
  account: string
  seq: number
  prev: string | null
  registration: DeviceInfo
  events: StoredEvent[]
}

export interface VerifyContext {
  decode: DecodeOptions
  /** This clearinghouse's signing key: the `recipient` its box is addressed to. */
  recipient: Uint8Array
  /** Its X25519 sealing public key (a box addressed by sealing key is accepted too). */
  sealingPublicKey: Uint8Array
  opener: SealOpener
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A record id's first bytes: CIDv1, dag-cbor, sha2-256, 32 bytes of digest (then the digest). */
const RECORD_ID_PREFIX = recordId(new Uint8Array(0)).bytes.slice(0, 4)

/**
 * The id a report will have, as text: cheap (one hash), so that replays are answered before any verification. The
 * same text as `recordId(bytes).toString()` (tested), written from the CID's bytes without building a CID: a third of
 * the cost, on the main thread, for every report.
 */
export function reportIdOf(bytes: Uint8Array): string {
  const digest = hash('sha256', bytes, 'buffer')
  if (digest.length !== 32) throw new Error('sha-256 gave a digest of another length')
  return base32Text(RECORD_ID_PREFIX, digest)
}

/**
 * A CIDv1's text (multibase base32: 'b', lower case, no padding) from its bytes, given in two parts, written into one
 * buffer and read as one string: multiformats' encoder builds the text a character at a time (58 strings for a
 * record id), for every report.
 */
function base32Text(head: Uint8Array, tail: Uint8Array): string {
  const length = head.length + tail.length
  const chars = Math.ceil((length * 8) / 5)
  if (textBuffer.length < chars + 1) textBuffer = Buffer.alloc(2 * (chars + 1))
  const text = textBuffer
  text[0] = 0x62
  let at = 1
  let buffer = 0
  let bits = 0
  for (let i = 0; i < length; i++) {
    buffer = ((buffer << 8) | (i < head.length ? head[i]! : tail[i - head.length]!)) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      text[at++] = BASE32[(buffer >> bits) & 31]!
    }
  }
  if (bits > 0) text[at++] = BASE32[(buffer << (5 - bits)) & 31]!
  return text.toString('latin1', 0, at)
}

/** RFC 4648 base32, lower case, as character codes. */
const BASE32 = Buffer.from('abcdefghijklmnopqrstuvwxyz234567', 'latin1')
const NO_BYTES = new Uint8Array(0)
let textBuffer = Buffer.alloc(128)

/** A CID's text as `toString()` gives it; a CIDv1 without building its string a character at a time. */
export function cidText(cid: CID): string {
  return cid.version === 1 ? base32Text(cid.bytes, NO_BYTES) : cid.toString()
}

/**
 * The text of CIDs that come again and again (a purchase's licence, offer and contract in every report of its plays),
 * remembered by their bytes: reading the bytes as a Map key costs less than writing the text.
 */
class CidStrings {
  readonly #strings = new Lru<string, string>(CID_STRING_CACHE_ENTRIES)

  of(bytes: Uint8Array): string {
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
    let text = this.#strings.get(key)
    if (text === undefined) {
      text = base32Text(bytes, NO_BYTES)
      this.#strings.set(key, text)
    }
    return text
  }
}

export class ReportVerifier {
  readonly #devices = new Lru<string, DeviceInfo>(DEVICE_RECORD_CACHE_ENTRIES)
  readonly #cids = new CidStrings()

  /**
   * Verify one report. `reportId` is the report's id when the caller has already worked it out from the same bytes
   * (the main thread does, to answer replays before verifying): it is not encoded again. `known`: what `registration`
   * gave for `deviceBytes` (a worker reads each registration of a batch once, for all the reports that carry it).
   */
  verify(
    usageBytes: Uint8Array,
    deviceBytes: Uint8Array,
    ctx: VerifyContext,
    reportId?: string,
    known?: DeviceInfo,
  ): VerifiedReport {
    let usage: UsageReportView
    try {
      usage = readUsageReport(usageBytes, ctx.decode)
    } catch (err) {
      if (isRecordError(err)) throw new ReportInvalidError(`usage ${err.message}`)
      throw err
    }
    const registration = known ?? this.registration(deviceBytes, ctx)
    const device = toHex(usage.device)
    const account = toHex(usage.account)
    if (!equal(usage.signer, usage.device)) {
      throw new ReportInvalidError('usage.signer: the report is not signed by the device it names')
    }
    if (registration.device !== device) {
      throw new ReportInvalidError('device.body.device: the registration is for another device than the report')
    }
    if (registration.account !== account) {
      throw new ReportInvalidError('usage.body.account: the device is registered to another account')
    }
    const box = usage.sealed.find((s) => equal(s.recipient, ctx.recipient) || equal(s.recipient, ctx.sealingPublicKey))
    if (box === undefined) throw new ReportInvalidError('usage.body.sealed: nothing is sealed to this clearinghouse')
    let events: UsageEventView[]
    try {
      events = readUsageEvents(ctx.opener.open(box.box, usageSealContext(ctx.decode.network, usage.device, usage.seq)))
    } catch (err) {
      throw new ReportInvalidError(`usage.body.sealed: ${(err as Error).message}`)
    }
    const ids = new Set<string>()
    const stored: StoredEvent[] = new Array(events.length)
    const cids = this.#cids
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!
      if (ids.has(e.eventId)) throw new ReportInvalidError(`events.${i}.eventId: ${e.eventId} repeats in the report`)
      ids.add(e.eventId)
      stored[i] = {
        eventId: e.eventId,
        kind: e.kind,
        isrc: e.isrc,
        purchaseId: e.purchaseId,
        licence: e.licence === null ? null : cids.of(e.licence),
        offer: e.offer === null ? null : cids.of(e.offer),
        contract: e.contract === null ? null : cids.of(e.contract),
        startedAt: e.startedAt,
        seconds: e.seconds,
      }
    }
    return {
      reportId: reportId ?? recordId(usageBytes).toString(),
      bytes: usageBytes,
      deviceBytes,
      created: usage.created,
      device,
      account,
      seq: usage.seq,
      prev: usage.prev === null ? null : base32Text(usage.prev, NO_BYTES),
      registration,
      events: stored,
    }
  }

  /** A device registration, decoded and its signature checked once (remembered by its hash); `ReportInvalidError`. */
  registration(bytes: Uint8Array, ctx: VerifyContext): DeviceInfo {
    const digest = hash('sha256', bytes, 'base64')
    const known = this.#devices.get(digest)
    if (known !== undefined) return known
    let record: ReturnType<typeof decodeRecordAs<'consort/device'>>
    try {
      record = decodeRecordAs('consort/device', bytes, ctx.decode)
    } catch (err) {
      if (isRecordError(err)) throw new ReportInvalidError(`device ${err.message}`)
      throw err
    }
    const info: DeviceInfo = {
      id: record.id.toString(),
      signer: toHex(record.signer),
      account: toHex(record.body.account),
      device: toHex(record.body.device),
      notBefore: record.body.notBefore,
      notAfter: record.body.notAfter,
    }
    this.#devices.set(digest, info)
    return info
  }
}
