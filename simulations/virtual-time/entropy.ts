import { createRequire, syncBuiltinESMExports } from 'node:module'
import { Sfc32 } from './sfc32.ts'

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
