import { isUtf8 } from 'node:buffer'
import { CID } from 'multiformats/cid'

/**
 * A decoder of canonical DAG-CBOR, written for the record path: one pass over the bytes that builds the values and
 * checks, as it goes, everything that makes the bytes exactly what `@ipld/dag-cbor`'s encoder would write — so that
 * a record has one encoding and one id without being encoded a second time to compare:
 *
 * - integers and lengths in their shortest form, definite lengths only;
 * - map keys are strings, in DAG-CBOR's order (shorter encoding first, then bytewise), none repeated;
 * - floats only where the encoder writes them: 64-bit, not whole, not NaN or infinite;
 * - no `undefined` and no other simple values than false, true and null;
 * - text that is valid UTF-8;
 * - the only tag is 42 (a CID: a zero byte, then the CID in its canonical binary form).
 *
 * It gives back what `@ipld/dag-cbor`'s `decode` gives for the same bytes: plain objects (a `__proto__` key as an own
 * property), arrays, strings, numbers (bigints beyond the safe integers), booleans, null, byte strings as copies in
 * their own `Uint8Array`s, CIDs. A test holds it to encode-and-compare on every single-bit flip of every record type.
 * Valid but non-canonical bytes throw `NotCanonicalError`; bytes that are not DAG-CBOR at all throw a plain `Error`.
 */

/** A record's bytes are valid DAG-CBOR but not in the one canonical form. */
export class NotCanonicalError extends Error {
  static override name = 'NotCanonicalError'
  override name = NotCanonicalError.name

  constructor(message = 'valid DAG-CBOR, but not in its one canonical form', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * Deepest nesting of arrays, maps and tags. The deepest record body nests about six levels; 64 leaves ample room and
 * keeps a hostile 64 KiB of nested arrays from exhausting the stack.
 */
export const MAX_CBOR_DEPTH = 64

const MAJOR_UINT = 0
const MAJOR_NEGINT = 1
const MAJOR_BYTES = 2
const MAJOR_TEXT = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5
const MAJOR_TAG = 6
const CID_TAG = 42
const TWO_32 = 2 ** 32
const NEG_ONE = -1n

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

class Reader {
  readonly bytes: Uint8Array
  pos = 0
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }
}

function truncated(): Error {
  return new Error('unexpected end of data')
}

/**
 * The argument of a head whose additional information is `info` (the byte after the head byte onward): a number,
 * or a bigint for a 64-bit value beyond the safe integers. Refuses reserved and indefinite forms and longer
 * encodings than needed.
 */
function argument(r: Reader, info: number): number | bigint {
  if (info < 24) return info
  const b = r.bytes
  const p = r.pos
  switch (info) {
    case 24: {
      if (p + 1 > b.length) throw truncated()
      const v = b[p]!
      r.pos = p + 1
      if (v < 24) throw new NotCanonicalError('an integer or length encoded in more bytes than needed')
      return v
    }
    case 25: {
      if (p + 2 > b.length) throw truncated()
      const v = (b[p]! << 8) | b[p + 1]!
      r.pos = p + 2
      if (v < 0x100) throw new NotCanonicalError('an integer or length encoded in more bytes than needed')
      return v
    }
    case 26: {
      if (p + 4 > b.length) throw truncated()
      const v = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
      r.pos = p + 4
      if (v < 0x10000) throw new NotCanonicalError('an integer or length encoded in more bytes than needed')
      return v
    }
    case 27: {
      if (p + 8 > b.length) throw truncated()
      const hi = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
      const lo = b[p + 4]! * 0x1000000 + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!)
      r.pos = p + 8
      if (hi === 0) throw new NotCanonicalError('an integer or length encoded in more bytes than needed')
      // 2^53 - 1 is the largest safe integer: hi below 2^21 keeps the value within it.
      if (hi < 0x200000) return hi * TWO_32 + lo
      return (BigInt(hi) << 32n) | BigInt(lo)
    }
    case 31:
      throw new Error('indefinite lengths are not DAG-CBOR')
    default:
      throw new Error(`reserved additional information ${info}`)
  }
}

/** A length or count: a safe integer no larger than what the rest of the data could hold. */
function length(r: Reader, info: number, unit: number, what: string): number {
  const n = argument(r, info)
  if (typeof n !== 'number' || n * unit > r.bytes.length - r.pos) {
    throw new Error(`${what} of ${n} does not fit in the ${r.bytes.length - r.pos} bytes left`)
  }
  return n
}

function text(r: Reader, start: number, end: number): string {
  const b = r.bytes
  // Record text is mostly short ASCII (keys, ids, codes): build it directly, without a decoder call.
  if (end - start <= 32) {
    let s = ''
    for (let i = start; i < end; i++) {
      const c = b[i]!
      if (c > 0x7f) return utf8Text(b, start, end)
      s += String.fromCharCode(c)
    }
    return s
  }
  return utf8Text(b, start, end)
}

function utf8Text(b: Uint8Array, start: number, end: number): string {
  const view = b.subarray(start, end)
  if (!isUtf8(view)) throw new NotCanonicalError('text that is not valid UTF-8')
  return utf8.decode(view)
}

/** DAG-CBOR's key order: the shorter encoding first, then bytewise; equal keys are repeats. */
function keyAfter(b: Uint8Array, prevStart: number, prevEnd: number, start: number, end: number): boolean {
  const la = prevEnd - prevStart
  const lb = end - start
  if (la !== lb) return la < lb
  for (let i = 0; i < la; i++) {
    const x = b[prevStart + i]!
    const y = b[start + i]!
    if (x !== y) return x < y
  }
  return false
}

function value(r: Reader, depth: number): unknown {
  const b = r.bytes
  if (r.pos >= b.length) throw truncated()
  const head = b[r.pos++]!
  const major = head >> 5
  const info = head & 0x1f
  switch (major) {
    case MAJOR_UINT:
      return argument(r, info)
    case MAJOR_NEGINT: {
      const n = argument(r, info)
      if (typeof n === 'number') {
        const v = -1 - n
        if (v >= Number.MIN_SAFE_INTEGER) return v
        return NEG_ONE - BigInt(n)
      }
      return NEG_ONE - n
    }
    case MAJOR_BYTES: {
      const n = length(r, info, 1, 'a byte string')
      const start = r.pos
      r.pos += n
      return b.slice(start, start + n)
    }
    case MAJOR_TEXT: {
      const n = length(r, info, 1, 'a text string')
      const start = r.pos
      r.pos += n
      return text(r, start, start + n)
    }
    case MAJOR_ARRAY: {
      const n = length(r, info, 1, 'an array')
      if (depth >= MAX_CBOR_DEPTH) throw new Error(`nested deeper than ${MAX_CBOR_DEPTH}`)
      const out = new Array(n)
      for (let i = 0; i < n; i++) out[i] = value(r, depth + 1)
      return out
    }
    case MAJOR_MAP: {
      const n = length(r, info, 2, 'a map')
      if (depth >= MAX_CBOR_DEPTH) throw new Error(`nested deeper than ${MAX_CBOR_DEPTH}`)
      const out: Record<string, unknown> = {}
      let prevStart = 0
      let prevEnd = -1
      for (let i = 0; i < n; i++) {
        if (r.pos >= b.length) throw truncated()
        const keyHead = b[r.pos++]!
        if (keyHead >> 5 !== MAJOR_TEXT) throw new NotCanonicalError('a map key that is not a string')
        const kn = length(r, keyHead & 0x1f, 1, 'a map key')
        const start = r.pos
        const end = start + kn
        r.pos = end
        // The order compares the keys' whole encodings; with canonical heads, comparing lengths then bytes is the same.
        if (prevEnd >= 0 && !keyAfter(b, prevStart, prevEnd, start, end)) {
          throw new NotCanonicalError(
            `map key ${JSON.stringify(text(r, start, end))} out of canonical order or repeated`,
          )
        }
        prevStart = start
        prevEnd = end
        const key = text(r, start, end)
        const v = value(r, depth + 1)
        if (key === '__proto__')
          Object.defineProperty(out, key, { value: v, configurable: true, enumerable: true, writable: true })
        else out[key] = v
      }
      return out
    }
    case MAJOR_TAG: {
      const tag = argument(r, info)
      if (tag !== CID_TAG) throw new Error(`tag ${tag} is not DAG-CBOR (only 42, a CID)`)
      if (r.pos >= b.length) throw truncated()
      if (b[r.pos]! >> 5 !== MAJOR_BYTES) throw new Error('invalid CID for CBOR tag 42: expected bytes')
      const bytes = value(r, depth + 1) as Uint8Array
      if (bytes[0] !== 0) throw new Error('invalid CID for CBOR tag 42: expected bytes with a leading 0x00')
      const cidBytes = bytes.subarray(1)
      const cid = CID.decode(cidBytes)
      if (!equalBytes(cid.bytes, cidBytes)) throw new NotCanonicalError('a CID not in its canonical binary form')
      return cid
    }
    default:
      return simple(r, info)
  }
}

function simple(r: Reader, info: number): unknown {
  switch (info) {
    case 20:
      return false
    case 21:
      return true
    case 22:
      return null
    case 23:
      throw new NotCanonicalError('an undefined value')
    case 25:
    case 26: {
      const n = info === 25 ? 2 : 4
      if (r.pos + n > r.bytes.length) throw truncated()
      const b = r.bytes
      const p = r.pos
      r.pos += n
      // All exponent bits set: NaN or an infinity (half: bits 10–14; single: bits 23–30).
      const special = n === 2 ? (b[p]! & 0x7c) === 0x7c : (b[p]! & 0x7f) === 0x7f && (b[p + 1]! & 0x80) === 0x80
      if (special) throw new Error('NaN and infinities are not DAG-CBOR')
      throw new NotCanonicalError('a float that the encoder would have written in 64 bits')
    }
    case 27: {
      if (r.pos + 8 > r.bytes.length) throw truncated()
      const f = new DataView(r.bytes.buffer, r.bytes.byteOffset + r.pos, 8).getFloat64(0)
      r.pos += 8
      if (!Number.isFinite(f)) throw new Error('NaN and infinities are not DAG-CBOR')
      if (Number.isInteger(f)) throw new NotCanonicalError('a whole number written as a float')
      return f
    }
    case 31:
      throw new Error('a break outside an indefinite-length item')
    default:
      throw new Error(`simple value ${info} is not DAG-CBOR`)
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Decode DAG-CBOR that must be canonical: throws `NotCanonicalError` for valid but non-canonical bytes, and a plain
 * `Error` for anything that is not DAG-CBOR at all (truncated, trailing bytes, other tags, indefinite lengths…).
 */
export function decodeCanonical(bytes: Uint8Array): unknown {
  // Copies of byte strings are plain Uint8Arrays, as @ipld/dag-cbor gives them, also when the input is a Buffer.
  const input =
    bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const r = new Reader(input)
  const out = value(r, 0)
  if (r.pos !== input.length) throw new Error(`${input.length - r.pos} bytes after the end of the value`)
  return out
}
