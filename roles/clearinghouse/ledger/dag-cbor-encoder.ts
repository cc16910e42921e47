/**
 * Canonical DAG-CBOR for the role's rows, written by hand: the same bytes as `@ipld/dag-cbor`'s `encode`, without its
 * token objects. Every group commit encodes a few hundred rows (device, account, usage counters, statement lines,
 * ledger balances and transfers, the journal row); through cborg that was a fifth of the ingest's main thread and much
 * of its garbage (issue 17).
 *
 * The fast path covers what rows hold: plain objects and arrays, ASCII strings, safe integers, bigints of 64 bits,
 * booleans, null and byte arrays. Anything else (floats, non-ASCII text, CIDs, Maps, `undefined`, other classes)
 * is handed to `@ipld/dag-cbor` whole, so the bytes — and the errors — are always that library's.
 */
import * as dagCbor from '@ipld/dag-cbor'

/** Thrown inside the fast path when a value needs the library: never escapes this module. */
const FALLBACK = Symbol('dag-cbor fallback')
const MAX_DEPTH = 32
const U64_MAX = (1n << 64n) - 1n

let buf = Buffer.allocUnsafeSlow(16 * 1024)
let view = new DataView(buf.buffer, buf.byteOffset, buf.length)
let pos = 0

function room(n: number): void {
  if (pos + n <= buf.length) return
  let size = buf.length * 2
  while (size < pos + n) size *= 2
  const next = Buffer.allocUnsafeSlow(size)
  next.set(buf.subarray(0, pos))
  buf = next
  view = new DataView(buf.buffer, buf.byteOffset, buf.length)
}

/** A major type's head with its argument in the fewest bytes (as CBOR's canonical form and cborg write it). */
function head(major: number, n: number): void {
  room(9)
  const m = major << 5
  if (n < 24) buf[pos++] = m | n
  else if (n < 0x100) {
    buf[pos++] = m | 24
    buf[pos++] = n
  } else if (n < 0x10000) {
    buf[pos++] = m | 25
    view.setUint16(pos, n)
    pos += 2
  } else if (n < 0x100000000) {
    buf[pos++] = m | 26
    view.setUint32(pos, n)
    pos += 4
  } else {
    buf[pos++] = m | 27
    view.setBigUint64(pos, BigInt(n))
    pos += 8
  }
}

function headBig(major: number, n: bigint): void {
  if (n <= 0xffffffffn) head(major, Number(n))
  else {
    room(9)
    buf[pos++] = (major << 5) | 27
    view.setBigUint64(pos, n)
    pos += 8
  }
}

/** Strings at least this long are checked and copied by Buffer's native code. */
const NATIVE_TEXT = 24

/** ASCII text only (the bytes are the characters); anything else goes to the library. */
function text(s: string): void {
  const n = s.length
  if (n >= NATIVE_TEXT) {
    if (Buffer.byteLength(s, 'utf8') !== n) throw FALLBACK
    head(3, n)
    room(n)
    pos += buf.write(s, pos, n, 'latin1')
    return
  }
  head(3, n)
  room(n)
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7f) throw FALLBACK
    buf[pos++] = c
  }
}

/** DAG-CBOR's map order: shorter keys first, then bytewise (for ASCII keys, by character code). */
function keyOrder(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Key lists seen (in the object's own order) with their sorted form, by first key: rows of one kind share a shape,
 * and comparing a key list with a known one is cheaper than sorting it again.
 */
const shapes = new Map<string, Array<{ keys: string[]; sorted: string[] }>>()
const MAX_SHAPES = 1024
let shapeCount = 0

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function keysOf(o: object): string[] {
  const keys = Object.keys(o)
  if (keys.length < 2) return keys
  const first = keys[0]!
  let known = shapes.get(first)
  if (known !== undefined) for (const s of known) if (sameKeys(s.keys, keys)) return s.sorted
  const sorted = keys.slice().sort(keyOrder)
  if (shapeCount >= MAX_SHAPES) {
    shapes.clear()
    shapeCount = 0
    known = undefined
  }
  if (known === undefined) {
    known = []
    shapes.set(first, known)
  }
  known.push({ keys, sorted })
  shapeCount++
  return sorted
}

function value(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'string':
      text(v)
      return
    case 'number':
      if (!Number.isSafeInteger(v)) throw FALLBACK
      if (v >= 0) head(0, v)
      else head(1, -1 - v)
      return
    case 'bigint':
      if (v >= 0n) {
        if (v > U64_MAX) throw FALLBACK
        headBig(0, v)
      } else {
        if (-1n - v > U64_MAX) throw FALLBACK
        headBig(1, -1n - v)
      }
      return
    case 'boolean':
      room(1)
      buf[pos++] = v ? 0xf5 : 0xf4
      return
    case 'object': {
      if (v === null) {
        room(1)
        buf[pos++] = 0xf6
        return
      }
      if (depth >= MAX_DEPTH) throw FALLBACK
      if (Array.isArray(v)) {
        head(4, v.length)
        for (let i = 0; i < v.length; i++) value(v[i], depth + 1)
        return
      }
      if (v instanceof Uint8Array) {
        if (v.constructor !== Uint8Array && v.constructor !== Buffer) throw FALLBACK
        head(2, v.length)
        room(v.length)
        buf.set(v, pos)
        pos += v.length
        return
      }
      if (Object.getPrototypeOf(v) !== Object.prototype) throw FALLBACK
      // A CID-shaped plain object ({ '/': … }) is the library's to judge.
      if ('/' in v) throw FALLBACK
      const o = v as Record<string, unknown>
      const keys = keysOf(o)
      head(5, keys.length)
      for (const k of keys) {
        if (k.length === 0) throw FALLBACK
        text(k)
        value(o[k], depth + 1)
      }
      return
    }
    default:
      throw FALLBACK
  }
}

/** The scratch buffer shrinks back to this after encoding a larger value. */
const KEPT_BUFFER_BYTES = 1024 * 1024

/** Rows are carved out of slabs of this size (a larger one gets a buffer of its own). */
const SLAB_BYTES = 64 * 1024
const MAX_SLAB_ROW_BYTES = 4 * 1024
let slab = new ArrayBuffer(SLAB_BYTES)
let slabUsed = 0

/**
 * `n` bytes of their own for a row about to be written: a view into a shared slab. A group commit writes a few hundred
 * small rows, each of which had its own ArrayBuffer before: a native allocation each, and as many for the garbage
 * collector to sweep. A slab lives while any row cut from it does (rows go to a write batch, which copies them).
 */
export function rowBytes(n: number): Uint8Array {
  if (n > MAX_SLAB_ROW_BYTES) return new Uint8Array(n)
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES)
    slabUsed = 0
  }
  const out = new Uint8Array(slab, slabUsed, n)
  // 8-byte aligned, so that a row's DataView reads stay aligned.
  slabUsed += (n + 7) & ~7
  return out
}

/** `dagCbor.encode(v)`, byte for byte. */
export function encodeDagCbor(v: unknown): Uint8Array {
  pos = 0
  try {
    value(v, 0)
    // A copy of its own (the scratch buffer is reused).
    const out = rowBytes(pos)
    out.set(buf.subarray(0, pos))
    return out
  } catch (err) {
    if (err !== FALLBACK) throw err
    return dagCbor.encode(v)
  } finally {
    if (buf.length > KEPT_BUFFER_BYTES) {
      buf = Buffer.allocUnsafeSlow(16 * 1024)
      view = new DataView(buf.buffer, buf.byteOffset, buf.length)
    }
  }
}
