/**
 * One operation at a time per key (a purchase id, an account), in arrival order; different keys run in
 * parallel. The map holds only keys with work queued, so it is bounded by the operations in flight (themselves
 * bounded by the RPC layer's inbound stream limit).
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>()

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const current = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(() => current)
    this.#tails.set(key, tail)
    await previous
    try {
      return await fn()
    } finally {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }

  /** Keys with work queued or running (for tests). */
  get size(): number {
    return this.#tails.size
  }
}
