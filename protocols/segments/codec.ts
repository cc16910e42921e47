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
 *   request  { v: 1, op: "get" | "have", pri: 0 | 1 | 2, cids: [CID…] }            client → server, once
 *   block    { v: 1, i: index, block: bytes }                                         server → client
 *   absent   { v: 1, i: index, absent: true }                                         server → client
 *   have     { v: 1, have: bitfield }                                                 server → client
 *   error    { v: 1, error: "ERR_…", message: string }                               server → client, last
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

export function encodeRequest(request: SegmentRequest): Uint8Array {
  return dagCbor.encode({ v: FRAME_VERSION, op: request.op, pri: request.priority, cids: request.cids })
}

export function decodeRequest(bytes: Uint8Array): SegmentRequest {
  const map = decodeMap(bytes, 'request')
  if (fieldsOf(map) !== 'cids,op,pri,v') {
    throw new SegmentFrameError('request', `fields are ${fieldsOf(map)}, expected cids,op,pri,v`)
  }
  if (map.op !== SEGMENT_OPS.get && map.op !== SEGMENT_OPS.have) {
    throw new SegmentFrameError('request.op', `unknown op ${JSON.stringify(map.op)}`)
  }
  if (map.pri !== 0 && map.pri !== 1 && map.pri !== 2) {
    throw new SegmentFrameError('request.pri', `priority must be 0, 1 or 2, got ${String(map.pri)}`)
  }
  const max = map.op === SEGMENT_OPS.get ? MAX_GET_CIDS : MAX_HAVE_CIDS
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
 * The DAG-CBOR encoding of `{ v: 1, i: index, block: bytes }` written by hand, so that a block is framed with
 * one copy: map(3), then the keys in DAG-CBOR order (shorter first: "i", "v", "block"). Equal byte for byte to
 * `dagCbor.encode` (asserted by the unit tests).
 */
export function encodeBlockFrame(index: number, block: Uint8Array): Uint8Array {
  const header: number[] = [0xa3, 0x61, 0x69, ...cborUint(0, index), 0x61, 0x76, FRAME_VERSION]
  header.push(0x65, 0x62, 0x6c, 0x6f, 0x63, 0x6b, ...cborUint(2, block.length))
  const frame = new Uint8Array(header.length + block.length)
  frame.set(header, 0)
  frame.set(block, header.length)
  return frame
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

export function encodeHaveFrame(bitfield: Uint8Array): Uint8Array {
  return dagCbor.encode({ v: FRAME_VERSION, have: bitfield })
}

export function encodeErrorFrame(code: string, message: string): Uint8Array {
  return dagCbor.encode({ v: FRAME_VERSION, error: code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) })
}

/**
 * Decode one server frame. `requested` is how many CIDs the request named: a block or absent frame must name
 * one of them, a have bitfield must be exactly long enough for them.
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
  if (fields === 'have,v') {
    if (!(map.have instanceof Uint8Array) || map.have.length !== bitfieldBytes(requested)) {
      throw new SegmentFrameError('response.have', `expected a ${bitfieldBytes(requested)}-byte bitfield`)
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
