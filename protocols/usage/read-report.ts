import {
  capFor,
  checkSignedBody,
  DEFAULT_RECORD_CAPS,
  type DecodeOptions,
  decodeRecordAs,
} from '../records/envelope.ts'
import { type Cursor, ensure, readLayout, textBytes } from '../records/layout.ts'
import { MAX_SEALED_USAGE_BYTES } from '../records/types/usage.ts'

/**
 * A `consort/usage` report as a clearinghouse reads it, every check of `decodeRecordAs('consort/usage', …)` made: the
 * size cap, canonical DAG-CBOR, the envelope, the body's schema, the network, the time and the device's signature.
 * Byte fields are views into the bytes read (nothing is copied: the caller keeps the bytes unchanged while it uses
 * them), and `prev` is the previous report's CID in binary (36 bytes), not a `CID`.
 */
export interface UsageReportView {
  signer: Uint8Array
  network: string
  created: number
  device: Uint8Array
  account: Uint8Array
  seq: number
  /** The previous report's id, binary (CIDv1, dag-cbor, sha2-256), or null for the first report (seq 0). */
  prev: Uint8Array | null
  sealed: Array<{ recipient: Uint8Array; box: Uint8Array }>
}

const TYPE = 'consort/usage'

// The canonical envelope: `{ v, sig, body, type, signer }` in DAG-CBOR's key order (shorter keys first, then bytewise).
const ENVELOPE_HEAD = Uint8Array.of(0xa5, ...textBytes('v'), 0x01, ...textBytes('sig'))
const KEY_BODY = textBytes('body')
const TYPE_AND_SIGNER_KEY = Uint8Array.of(...textBytes('type'), ...textBytes(TYPE), ...textBytes('signer'))
// The body: `{ seq, prev, device, sealed, account, created, network }`, and each box `{ box, recipient }`.
const BODY_HEAD = Uint8Array.of(0xa7, ...textBytes('seq'))
const KEY_PREV = textBytes('prev')
const KEY_DEVICE = textBytes('device')
const KEY_SEALED = textBytes('sealed')
const KEY_ACCOUNT = textBytes('account')
const KEY_CREATED = textBytes('created')
const KEY_NETWORK = textBytes('network')
const BOX_HEAD = Uint8Array.of(0xa2, ...textBytes('box'))
const KEY_RECIPIENT = textBytes('recipient')
/** `types/common.ts` `networkName`: 1 to 64 of `a-z 0-9 -`, not starting with `-`. */
const MAX_NETWORK_CHARS = 64

function networkName(c: Cursor): string {
  const start = c.asciiSpan(1, MAX_NETWORK_CHARS)
  const b = c.bytes
  for (let i = start; i < c.pos; i++) {
    const ch = b[i]!
    const ok = (ch >= 0x61 && ch <= 0x7a) || (ch >= 0x30 && ch <= 0x39) || (ch === 0x2d && i > start)
    ensure(ok)
  }
  return c.latin1(start, c.pos - start)
}

interface Laid {
  view: UsageReportView
  sig: Uint8Array
  bodyStart: number
  bodyEnd: number
}

function read(c: Cursor): Laid {
  c.fixed(ENVELOPE_HEAD)
  const sig = c.bytesOf(64)
  c.fixed(KEY_BODY)
  const bodyStart = c.pos
  c.fixed(BODY_HEAD)
  const seq = c.natural()
  c.fixed(KEY_PREV)
  const prev = c.recordCid()
  ensure((seq === 0) === (prev === null))
  c.fixed(KEY_DEVICE)
  const device = c.bytesOf(32)
  c.fixed(KEY_SEALED)
  const boxes = c.array(1, 16)
  const sealed = new Array<{ recipient: Uint8Array; box: Uint8Array }>(boxes)
  for (let i = 0; i < boxes; i++) {
    c.fixed(BOX_HEAD)
    const box = c.bytesUpTo(1, MAX_SEALED_USAGE_BYTES)
    c.fixed(KEY_RECIPIENT)
    sealed[i] = { recipient: c.bytesOf(32), box }
  }
  c.fixed(KEY_ACCOUNT)
  const account = c.bytesOf(32)
  c.fixed(KEY_CREATED)
  const created = c.natural()
  c.fixed(KEY_NETWORK)
  const network = networkName(c)
  const bodyEnd = c.pos
  c.fixed(TYPE_AND_SIGNER_KEY)
  const signer = c.bytesOf(32)
  return { view: { signer, network, created, device, account, seq, prev, sealed }, sig, bodyStart, bodyEnd }
}

/** The report's fields as laid out by hand, without the signature check; `undefined` where the general path decides. */
export function readUsageReportLayout(bytes: Uint8Array): UsageReportView | undefined {
  return readLayout(bytes, read)?.view
}

/**
 * Read and verify a usage report. The usual report (canonical, as every player writes it) is read by hand in one pass
 * and its signature checked over its body's bytes in place; anything else goes to `decodeRecordAs`, which gives its
 * verdict and names the field at fault. Throws what `decodeRecordAs` throws (a `RecordError`), for the same bytes.
 */
export function readUsageReport(bytes: Uint8Array, options: DecodeOptions): UsageReportView {
  const caps = options.caps ?? DEFAULT_RECORD_CAPS
  // Past the type's cap the general path names the error (the cap is the first thing it checks).
  const laid = bytes.length <= capFor(TYPE, caps) ? readLayout(bytes, read) : undefined
  if (laid !== undefined) {
    checkSignedBody(TYPE, laid.view, laid.view.signer, laid.sig, bytes.subarray(laid.bodyStart, laid.bodyEnd), options)
    return laid.view
  }
  const record = decodeRecordAs(TYPE, bytes, options)
  const body = record.body
  return {
    signer: record.signer,
    network: body.network,
    created: body.created,
    device: body.device,
    account: body.account,
    seq: body.seq,
    prev: body.prev === null ? null : body.prev.bytes,
    sealed: body.sealed,
  }
}
