/**
 * One task at a time per key (a purchase id, an account, a contract, an offer), in arrival order; different keys
 * run side by side. A task that fails does not stop the next one. The map holds only keys with work queued or
 * running, so it is bounded by the tasks in flight.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>()

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const current = new Promise<void>((resolve) => {
      release = resolve
    })
    const tail = previous.then(() => current)
    this.#tails.set(key, tail)
    await previous
    try {
      return await task()
    } finally {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }

  /** Wait for everything queued so far. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()])
  }

  /** Keys with work queued or running. */
  get size(): number {
    return this.#tails.size
  }
}
