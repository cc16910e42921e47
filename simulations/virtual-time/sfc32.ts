import { createHash } from 'node:crypto'

/**
 * sfc32 (Chris Doty-Humphrey's small fast counting generator): a 128-bit state, 32-bit outputs, fast in JavaScript.
 * Not cryptographic, and it does not need to be: a simulation's randomness must be repeatable, not secret. The
 * state comes from SHA-256 of the seed, so any string seeds it.
 */
export class Sfc32 {
  #a = 0
  #b = 0
  #c = 0
  #d = 0
  draws = 0

  constructor(seed: string) {
    this.reseed(seed)
  }

  reseed(seed: string): void {
    const h = createHash('sha256').update(`consort/sfc32/${seed}`).digest()
    this.#a = h.readUInt32LE(0)
    this.#b = h.readUInt32LE(4)
    this.#c = h.readUInt32LE(8)
    this.#d = h.readUInt32LE(12)
    for (let i = 0; i < 12; i++) this.next()
    this.draws = 0
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.draws++
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return t >>> 0
  }

  /** A uniform float in [0, 1) with 53 random bits, as Math.random gives. */
  float(): number {
    const hi = this.next() >>> 5
    const lo = this.next() >>> 6
    return (hi * 67108864 + lo) / 9007199254740992
  }

  fill(view: ArrayBufferView): void {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    let i = 0
    for (; i + 4 <= bytes.length; i += 4) {
      const x = this.next()
      bytes[i] = x & 0xff
      bytes[i + 1] = (x >>> 8) & 0xff
      bytes[i + 2] = (x >>> 16) & 0xff
      bytes[i + 3] = x >>> 24
    }
    if (i < bytes.length) {
      let x = this.next()
      for (; i < bytes.length; i++) {
        bytes[i] = x & 0xff
        x >>>= 8
      }
    }
  }
}
