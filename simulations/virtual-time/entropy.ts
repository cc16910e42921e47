import { createHash } from 'node:crypto'
import { createRequire, syncBuiltinESMExports } from 'node:module'

const require = createRequire(import.meta.url)

/**
 * Every source of randomness a library in the process can reach, drawn from one seeded generator: `Math.random`
 * (gossipsub's shuffles and peer choices, libp2p's back-offs), `crypto.randomBytes`/`randomFill(Sync)`/`randomInt`/
 * `randomUUID` and `crypto.getRandomValues` (kad-dht's random walks, nanoid, @noble's and @libp2p/crypto's
 * `randomBytes`, gossipsub's sequence numbers, libp2p's ids). The whole process runs one deterministic sequence
 * of events, so one stream is enough for the draws to come in the same order every run.
 *
 * Not covered, and why it does not matter: keys OpenSSL generates inside `node:crypto` (Noise's ephemeral X25519
 * keys): they change ciphertext bytes, never sizes or timing. Nothing drawn here protects anything real.
 */
export interface InstalledEntropy {
  /** Start the sequence again from another seed (the run's), e.g. after modules were loaded. */
  reseed(seed: string): void
  /** Values drawn so far (a cheap fingerprint of how much randomness the run used). */
  readonly draws: number
  restore(): void
}

/** sfc32: a small, fast generator with a 128-bit state (not cryptographic; it does not need to be). */
class Sfc32 {
  #a = 0
  #b = 0
  #c = 0
  #d = 0
  draws = 0

  constructor(seed: string) {
    this.reseed(seed)
  }

  reseed(seed: string): void {
    const h = createHash('sha256').update(`consort/sim-entropy/${seed}`).digest()
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

let installed = false

export function installEntropy(seed: string): InstalledEntropy {
  if (installed) throw new Error('seeded entropy is already installed in this process')
  installed = true
  const crypto = require('node:crypto') as Record<string, unknown> & { webcrypto: Crypto }
  const generator = new Sfc32(seed)
  const webcrypto = globalThis.crypto
  const NODE_NAMES = [
    'randomBytes',
    'randomFillSync',
    'randomFill',
    'randomInt',
    'randomUUID',
    'getRandomValues',
    'pseudoRandomBytes',
  ]
  const saved = {
    random: Math.random,
    node: NODE_NAMES.map((n) => [n, Object.getOwnPropertyDescriptor(crypto, n)] as const),
    web: (['getRandomValues', 'randomUUID'] as const).map(
      (n) => [n, Object.getOwnPropertyDescriptor(webcrypto, n)] as const,
    ),
  }

  const bytes = (size: number): Buffer => {
    const out = Buffer.alloc(size)
    generator.fill(out)
    return out
  }
  const randomBytes = (size: number, callback?: (err: Error | null, buf: Buffer) => void) => {
    const out = bytes(size)
    if (callback == null) return out
    process.nextTick(callback, null, out)
    return undefined
  }
  const randomFillSync = <T extends ArrayBufferView>(view: T, offset = 0, size?: number): T => {
    const length = size ?? view.byteLength - offset
    generator.fill(new Uint8Array(view.buffer, view.byteOffset + offset, length))
    return view
  }
  const randomFill = (view: ArrayBufferView, ...rest: unknown[]) => {
    const callback = rest.pop() as (err: Error | null, v: ArrayBufferView) => void
    randomFillSync(view, ...(rest as [number?, number?]))
    process.nextTick(callback, null, view)
  }
  const randomInt = (min: number, max?: number | ((e: Error | null, n: number) => void), cb?: unknown) => {
    let lo = min
    let hi = max as number
    let callback = cb as ((e: Error | null, n: number) => void) | undefined
    if (typeof max !== 'number') {
      callback = max as typeof callback
      lo = 0
      hi = min
    }
    const n = lo + Math.floor(generator.float() * (hi - lo))
    if (callback == null) return n
    process.nextTick(callback, null, n)
    return undefined
  }
  const randomUUID = () => {
    const b = bytes(16)
    b[6] = (b[6]! & 0x0f) | 0x40
    b[8] = (b[8]! & 0x3f) | 0x80
    const hex = b.toString('hex')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }
  const getRandomValues = <T extends ArrayBufferView | null>(view: T): T => {
    if (view != null) generator.fill(view)
    return view
  }

  Math.random = () => generator.float()
  const replacements: Record<string, unknown> = {
    randomBytes,
    randomFillSync,
    randomFill,
    randomInt,
    randomUUID,
    getRandomValues,
    pseudoRandomBytes: randomBytes,
  }
  // `crypto.getRandomValues` is a fixed getter onto the WebCrypto object's method, patched below.
  for (const [name, descriptor] of saved.node)
    if (descriptor?.configurable === true || descriptor?.writable === true) define(crypto, name, replacements[name])
  define(webcrypto, 'getRandomValues', getRandomValues)
  define(webcrypto, 'randomUUID', randomUUID)
  syncBuiltinESMExports()

  return {
    reseed: (s) => generator.reseed(s),
    get draws() {
      return generator.draws
    },
    restore() {
      Math.random = saved.random
      for (const [name, descriptor] of saved.node)
        if (descriptor?.configurable === true || descriptor?.writable === true)
          Object.defineProperty(crypto, name, descriptor)
      for (const [name, descriptor] of saved.web) {
        if (descriptor != null) Object.defineProperty(webcrypto, name, descriptor)
        else delete (webcrypto as unknown as Record<string, unknown>)[name]
      }
      syncBuiltinESMExports()
      installed = false
    },
  }
}

function define(target: object, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, configurable: true, writable: true, enumerable: true })
}
