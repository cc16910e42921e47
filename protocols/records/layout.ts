/**
 * Reading DAG-CBOR that must be laid out exactly as one record type's canonical encoding: the building blocks of the
 * hand-written readers of the records a clearinghouse reads most (`protocols/usage/read-report.ts`,
 * `protocols/usage/read-events.ts`). Such a reader walks the bytes once, expecting each key, in canonical order, and each
 * value in its shortest form; it builds no intermediate maps and copies no bytes (byte strings are views into the
 * input). Whatever it does not expect — another layout, a non-canonical head, a value the schema would refuse — makes
 * it give up (`undefined`), and the general path (`decodeCanonical`, the quick check or the schema) gives the verdict
 * and names the field. So a reader can only ever accept less than the general path, never more; each has a test that
 * holds it to the general path on every single-bit flip of its records.
 */

/** Thrown inside a reader when the bytes are not laid out as it expects (not an Error: no stack is captured). */
const MISS: unique symbol = Symbol('layout miss')

/** Run a reader: what it gives up on (`MISS`) becomes `undefined`; anything else it throws goes through. */
export function readLayout<T>(bytes: Uint8Array, read: (c: Cursor) => T): T | undefined {
  const c = new Cursor(bytes)
  try {
    const value = read(c)
    if (c.pos !== bytes.length) return undefined
    return value
  } catch (err) {
    if (err === MISS) return undefined
    throw err
  }
}

export function ensure(condition: boolean): void {
  if (!condition) throw MISS
}

/** The encoding of a text string (a map key, a fixed value), to be expected byte for byte. */
export function textBytes(text: string): Uint8Array {
  const utf8 = new TextEncoder().encode(text)
  if (utf8.length >= 24) throw new RangeError(`a fixed text of ${utf8.length} bytes (at most 23)`)
  return Uint8Array.of(0x60 | utf8.length, ...utf8)
}

const TWO_32 = 2 ** 32
/** Tag 42, a 37-byte byte string, the zero byte, then the head of CIDv1 dag-cbor sha2-256 with a 32-byte digest. */
const RECORD_CID_HEAD = Uint8Array.of(0xd8, 0x2a, 0x58, 0x25, 0x00, 0x01, 0x71, 0x12, 0x20)
const RECORD_CID_BYTES = 36

export class Cursor {
  readonly bytes: Uint8Array
  pos = 0

  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }

  /** One byte that must be `value` (a head with its argument inside it: a small map or array, null, a small integer). */
  byte(value: number): void {
    if (this.bytes[this.pos] !== value) throw MISS
    this.pos++
  }

  /** Whether the next byte is `value`; consumed if it is. */
  maybe(value: number): boolean {
    if (this.bytes[this.pos] !== value) return false
    this.pos++
    return true
  }

  /** Bytes that must be `expected` exactly (a key, a fixed value). */
  fixed(expected: Uint8Array): void {
    const b = this.bytes
    const p = this.pos
    if (p + expected.length > b.length) throw MISS
    for (let i = 0; i < expected.length; i++) if (b[p + i] !== expected[i]) throw MISS
    this.pos = p + expected.length
  }

  /** The argument of a head of major type `major`, in its shortest form, as a safe integer. */
  #argument(major: number): number {
    const b = this.bytes
    const p = this.pos
    if (p >= b.length) throw MISS
    const head = b[p]!
    if (head >> 5 !== major) throw MISS
    const info = head & 0x1f
    if (info < 24) {
      this.pos = p + 1
      return info
    }
    let v: number
    switch (info) {
      case 24:
        if (p + 2 > b.length) throw MISS
        v = b[p + 1]!
        if (v < 24) throw MISS
        this.pos = p + 2
        return v
      case 25:
        if (p + 3 > b.length) throw MISS
        v = (b[p + 1]! << 8) | b[p + 2]!
        if (v < 0x100) throw MISS
        this.pos = p + 3
        return v
      case 26:
        if (p + 5 > b.length) throw MISS
        v = b[p + 1]! * 0x1000000 + ((b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!)
        if (v < 0x10000) throw MISS
        this.pos = p + 5
        return v
      case 27: {
        if (p + 9 > b.length) throw MISS
        const hi = b[p + 1]! * 0x1000000 + ((b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!)
        const lo = b[p + 5]! * 0x1000000 + ((b[p + 6]! << 16) | (b[p + 7]! << 8) | b[p + 8]!)
        // Shortest form (hi ≥ 1) and a safe integer (hi < 2^21): anything else is the general path's to judge.
        if (hi === 0 || hi >= 0x200000) throw MISS
        this.pos = p + 9
        return hi * TWO_32 + lo
      }
      default:
        throw MISS
    }
  }

  /** An unsigned integer that is a safe integer (`natural` of the quick checks). */
  natural(): number {
    return this.#argument(0)
  }

  /** The head of an array of `min` to `max` items: its length. */
  array(min: number, max: number): number {
    const n = this.#argument(4)
    if (n < min || n > max) throw MISS
    return n
  }

  /** A byte string of exactly `length` bytes, as a view into the input. */
  bytesOf(length: number): Uint8Array {
    return this.bytesUpTo(length, length)
  }

  /** A byte string of `min` to `max` bytes, as a view into the input. */
  bytesUpTo(min: number, max: number): Uint8Array {
    const n = this.#argument(2)
    if (n < min || n > max || this.pos + n > this.bytes.length) throw MISS
    const start = this.pos
    this.pos = start + n
    return this.bytes.subarray(start, start + n)
  }

  /**
   * `fields.ts` `recordCid`, nullable: null, or a record's CID (tag 42 of CIDv1, dag-cbor, sha2-256 with a 32-byte
   * digest: the only form the encoder writes for a record's id) as its 36 bytes, a view into the input.
   */
  recordCid(): Uint8Array | null {
    if (this.maybe(0xf6)) return null
    this.fixed(RECORD_CID_HEAD)
    const start = this.pos - 4
    if (start + RECORD_CID_BYTES > this.bytes.length) throw MISS
    this.pos = start + RECORD_CID_BYTES
    return this.bytes.subarray(start, this.pos)
  }

  /** A text string of `min` to `max` bytes, all ASCII (so valid UTF-8, one UTF-16 unit per byte): its span. */
  asciiSpan(min: number, max: number): number {
    const n = this.#argument(3)
    const b = this.bytes
    const start = this.pos
    if (n < min || n > max || start + n > b.length) throw MISS
    for (let i = start; i < start + n; i++) if (b[i]! > 0x7f) throw MISS
    this.pos = start + n
    return start
  }

  /** The ASCII text at `start`, `length` bytes long (read after `asciiSpan`). */
  latin1(start: number, length: number): string {
    const b = this.bytes
    return Buffer.from(b.buffer, b.byteOffset + start, length).toString('latin1')
  }
}
