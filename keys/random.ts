import { createHash, randomBytes } from 'node:crypto'

/**
 * Randomness as a component. Keys, nonces and ids take their bytes from an injected source, so that a
 * simulation can run from a seed and replay exactly; a node uses the operating system's CSPRNG.
 */
export interface Random {
  bytes(length: number): Uint8Array
}

export const systemRandom: Random = {
  bytes: (length) => new Uint8Array(randomBytes(length)),
}

/**
 * A deterministic source for simulations and tests: SHA-256 in counter mode over the seed. It is
 * predictable by design — never use it for keys that protect anything real.
 */
export class SeededRandom implements Random {
  readonly #seed: Buffer
  #counter = 0n

  constructor(seed: string | number | bigint) {
    this.#seed = createHash('sha256').update(`consort/seeded-random/${seed}`).digest()
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length)
    let filled = 0
    while (filled < length) {
      const block = createHash('sha256')
        .update(this.#seed)
        .update(Buffer.from(this.#counter.toString(16).padStart(16, '0'), 'hex'))
        .digest()
      this.#counter++
      const take = Math.min(block.length, length - filled)
      out.set(block.subarray(0, take), filled)
      filled += take
    }
    return out
  }

  /** A uniform float in [0, 1) for workload decisions (never for money). */
  float(): number {
    const b = this.bytes(7)
    let x = 0
    for (const byte of b) x = x * 256 + byte
    return (x % 2 ** 53) / 2 ** 53
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }
}
