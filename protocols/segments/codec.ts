import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import {
  FRAME_VERSION,
  MAX_BLOCK_BYTES,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_GET_CIDS,
  MAX_HAVE_CIDS,
  SEGMENT_OPS,
  type SegmentOp,
} from './constants.ts'
import { SegmentFrameError } from './errors.ts'

/**
 * The frames of `/consort/<net>/segments/1` (specified byte for byte in `README.md`). Every frame is one
 * unsigned-varint length prefix and that many bytes of deterministic DAG-CBOR:
 *
 *   request  { v: 1, op: "get" | "have" | "cancel", pri: 0 | 1 | 2, cids: [CID…] }   client → server, any number
 *   block    { v: 1, i: index, block: bytes }                                         server → client
 *   absent   { v: 1, i: index, absent: true }                                         server → client
 *   busy     { v: 1, i: index, busy: true }                                           server → client
 *   have     { v: 1, have: bitfield }                                                 server → client
 *   error    { v: 1, error: "ERR_…", message: string }                               server → client, last
 *
 * `i` numbers the CIDs of every `get` on the stream in the order they were asked for, from 0.
 */

export interface SegmentRequest {
  op: SegmentOp
  /** 0 (now), 1 (prefetch), 2 (sync). */
  priority: number
  cids: CID[]
}

export type SegmentResponse =
  | { kind: 'block'; index: number; block: Uint8Array }
  | { kind: 'absent'; index: number }
  | { kind: 'busy'; index: number }
  | { kind: 'have'; bitfield: Uint8Array }
  | { kind: 'error'; code: string; message: string }

function decodeMap(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new SegmentFrameError(what, `not DAG-CBOR (${(err as Error).message})`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new SegmentFrameError(what, 'not a map')
  }
  const map = value as Record<string, unknown>
  if (map.v !== FRAME_VERSION) throw new SegmentFrameError(`${what}.v`, `unsupported version ${String(map.v)}`)
  return map
}

function fieldsOf(map: Record<string, unknown>): string {
  return Object.keys(map).sort().join(',')
}

function isIndex(value: unknown, limit: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < limit
}

/**
 * `{ v: 1, op, pri, cids }` in DAG-CBOR, written by hand: a fetcher sends one per block, and the general
 * encoder allocates a large scratch buffer per call. Keys in DAG-CBOR order (shorter first: "v", "op", "pri",
 * "cids"); each CID is tag 42 over its bytes with a leading zero. Equal byte for byte to `dagCbor.encode`
 * (asserted by the unit tests).
 */
export function encodeRequest(request: SegmentRequest): Uint8Array {
  const op = TEXT.encode(request.op)
  const parts: number[] = [0xa4, 0x61, 0x76, FRAME_VERSION, 0x62, 0x6f, 0x70, ...cborUint(3, op.length), ...op]
  parts.push(0x63, 0x70, 0x72, 0x69, ...cborUint(0, request.priority))
  parts.push(0x64, 0x63, 0x69, 0x64, 0x73, ...cborUint(4, request.cids.length))
  for (const cid of request.cids) parts.push(0xd8, 0x2a, ...cborUint(2, cid.bytes.length + 1), 0x00, ...cid.bytes)
  return Uint8Array.from(parts)
}

const TEXT = new TextEncoder()

export function decodeRequest(bytes: Uint8Array): SegmentRequest {
  const map = decodeMap(bytes, 'request')
  if (fieldsOf(map) !== 'cids,op,pri,v') {
    throw new SegmentFrameError('request', `fields are ${fieldsOf(map)}, expected cids,op,pri,v`)
  }
  if (map.op !== SEGMENT_OPS.get && map.op !== SEGMENT_OPS.have && map.op !== SEGMENT_OPS.cancel) {
    throw new SegmentFrameError('request.op', `unknown op ${JSON.stringify(map.op)}`)
  }
  if (map.pri !== 0 && map.pri !== 1 && map.pri !== 2) {
    throw new SegmentFrameError('request.pri', `priority must be 0, 1 or 2, got ${String(map.pri)}`)
  }
  const max = map.op === SEGMENT_OPS.have ? MAX_HAVE_CIDS : MAX_GET_CIDS
  if (!Array.isArray(map.cids) || map.cids.length === 0 || map.cids.length > max) {
    throw new SegmentFrameError('request.cids', `expected 1 to ${max} CIDs for ${map.op}`)
  }
  const cids = map.cids.map((value, i) => {
    const cid = CID.asCID(value)
    if (cid == null) throw new SegmentFrameError(`request.cids.${i}`, 'not a CID')
    return cid
  })
  return { op: map.op, priority: map.pri, cids }
}

/**
 * The DAG-CBOR head of `{ v: 1, i: index, block: <length bytes> }`, written by hand so that a block is framed
 * without copying it: map(3), the keys in DAG-CBOR order (shorter first: "i", "v", "block"), and the byte
 * string's head; the block's bytes follow. Head and block together equal `dagCbor.encode` of the frame byte for
 * byte (asserted by the unit tests).
 */
export function blockFrameHead(index: number, blockLength: number): Uint8Array {
  return Uint8Array.from([
    0xa3,
    ...BLOCK_KEY_I,
    ...cborUint(0, index),
    ...BLOCK_KEY_V,
    FRAME_VERSION,
    ...BLOCK_KEY_BLOCK,
    ...cborUint(2, blockLength),
  ])
}

/** The whole block frame in one buffer (tests and tools; the server sends head and block separately). */
export function encodeBlockFrame(index: number, block: Uint8Array): Uint8Array {
  const head = blockFrameHead(index, block.length)
  const frame = new Uint8Array(head.length + block.length)
  frame.set(head, 0)
  frame.set(block, head.length)
  return frame
}

const BLOCK_KEY_I = [0x61, 0x69]
const BLOCK_KEY_V = [0x61, 0x76]
const BLOCK_KEY_BLOCK = [0x65, 0x62, 0x6c, 0x6f, 0x63, 0x6b]

/** What `parseBlockFrameHead` found: the block's index and where its bytes start in the frame. */
export interface BlockFrameHead {
  index: number
  offset: number
  length: number
}

/**
 * Recognise a block frame from its first bytes without decoding (and copying) the block: exactly the head
 * `blockFrameHead` writes, in shortest form, and a byte-string length equal to the rest of the frame. Anything
 * else returns null and goes through `decodeResponse`, which is strict about every other frame.
 */
export function parseBlockFrameHead(head: Uint8Array, frameLength: number): BlockFrameHead | null {
  let at = 0
  const expect = (bytes: number[]) => {
    for (const b of bytes) if (head[at++] !== b) return false
    return true
  }
  if (!expect([0xa3, ...BLOCK_KEY_I])) return null
  const index = readCborUint(head, at, 0)
  if (index == null) return null
  at = index.next
  if (!expect([...BLOCK_KEY_V, FRAME_VERSION, ...BLOCK_KEY_BLOCK])) return null
  const length = readCborUint(head, at, 2)
  if (length == null || length.next + length.value !== frameLength || length.value > MAX_BLOCK_BYTES) return null
  return { index: index.value, offset: length.next, length: length.value }
}

/** Read a CBOR head of `major` type in shortest form (DAG-CBOR), or null. */
function readCborUint(bytes: Uint8Array, at: number, major: number): { value: number; next: number } | null {
  const first = bytes[at]
  if (first == null || first >> 5 !== major) return null
  const info = first & 0x1f
  if (info < 24) return { value: info, next: at + 1 }
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 0
  if (size === 0 || at + 1 + size > bytes.length) return null
  let value = 0
  for (let i = 1; i <= size; i++) value = value * 256 + bytes[at + i]!
  const min = size === 1 ? 24 : size === 2 ? 0x100 : 0x10000
  if (value < min) return null
  return { value, next: at + 1 + size }
}

/** An unsigned varint (LEB128), as the length prefix of every frame. */
export function varint(value: number): Uint8Array {
  const out: number[] = []
  let v = value
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return Uint8Array.from(out)
}

/** A CBOR head: major type and unsigned argument in the shortest form (as DAG-CBOR requires). */
function cborUint(major: number, value: number): number[] {
  const m = major << 5
  if (value < 24) return [m | value]
  if (value < 0x100) return [m | 24, value]
  if (value < 0x10000) return [m | 25, value >> 8, value & 0xff]
  if (value < 0x100000000)
    return [m | 26, (value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]
  throw new RangeError(`${value} is too large for a segments frame`)
}

export function encodeAbsentFrame(index: number): Uint8Array {
  return dagCbor.encode({ v: FRAME_VERSION, i: index, absent: true })
}

export function encodeBusyFrame(index: number): Uint8Array {
  return dagCbor.encode({ v: FRAME_VERSION, i: index, busy: true })
}

export function encodeHaveFrame(bitfield: Uint8Array): Uint8Array {
  return dagCbor.encode({ v: FRAME_VERSION, have: bitfield })
}

export function encodeErrorFrame(code: string, message: string): Uint8Array {
  return dagCbor.encode({ v: FRAME_VERSION, error: code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) })
}

/**
 * Decode one server frame. `requested` is how many CIDs were asked for with `get` on the stream: a block,
 * absent or busy frame must name one of them. A `have` bitfield's length is checked by the caller, which knows
 * how many CIDs its `have` named.
 */
export function decodeResponse(bytes: Uint8Array, requested: number): SegmentResponse {
  const map = decodeMap(bytes, 'response')
  const fields = fieldsOf(map)
  if (fields === 'block,i,v') {
    if (!isIndex(map.i, requested)) throw new SegmentFrameError('response.i', `index out of range 0…${requested - 1}`)
    if (!(map.block instanceof Uint8Array) || map.block.length > MAX_BLOCK_BYTES) {
      throw new SegmentFrameError('response.block', `expected at most ${MAX_BLOCK_BYTES} bytes`)
    }
    return { kind: 'block', index: map.i, block: map.block }
  }
  if (fields === 'absent,i,v') {
    if (!isIndex(map.i, requested)) throw new SegmentFrameError('response.i', `index out of range 0…${requested - 1}`)
    if (map.absent !== true) throw new SegmentFrameError('response.absent', 'must be true')
    return { kind: 'absent', index: map.i }
  }
  if (fields === 'busy,i,v') {
    if (!isIndex(map.i, requested)) throw new SegmentFrameError('response.i', `index out of range 0…${requested - 1}`)
    if (map.busy !== true) throw new SegmentFrameError('response.busy', 'must be true')
    return { kind: 'busy', index: map.i }
  }
  if (fields === 'have,v') {
    // the caller checks the length against the `have` it sent
    if (!(map.have instanceof Uint8Array) || map.have.length > bitfieldBytes(MAX_HAVE_CIDS)) {
      throw new SegmentFrameError(
        'response.have',
        `expected a bitfield of at most ${bitfieldBytes(MAX_HAVE_CIDS)} bytes`,
      )
    }
    return { kind: 'have', bitfield: map.have }
  }
  if (fields === 'error,message,v') {
    if (typeof map.error !== 'string' || !map.error.startsWith('ERR_') || map.error.length > 64) {
      throw new SegmentFrameError('response.error', 'expected an ERR_ code')
    }
    if (typeof map.message !== 'string' || map.message.length > MAX_ERROR_MESSAGE_CHARS) {
      throw new SegmentFrameError('response.message', `expected at most ${MAX_ERROR_MESSAGE_CHARS} characters`)
    }
    return { kind: 'error', code: map.error, message: map.message }
  }
  throw new SegmentFrameError('response', `unknown frame with fields ${fields}`)
}

/** Bytes in a bitfield of `count` bits. */
export function bitfieldBytes(count: number): number {
  return Math.ceil(count / 8)
}

/** Bit `i` of a bitfield: byte `i >> 3`, most significant bit first. */
export function bitfieldGet(bitfield: Uint8Array, i: number): boolean {
  return ((bitfield[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0
}

export function bitfieldSet(bitfield: Uint8Array, i: number): void {
  const byte = i >> 3
  bitfield[byte] = (bitfield[byte] ?? 0) | (0x80 >> (i & 7))
}
