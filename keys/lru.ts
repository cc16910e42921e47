/**
 * A least-recently-used map with a fixed capacity: the one bounded cache every layer uses (decoded keys here,
 * verified records, a reference service's lookups, a clearinghouse's rows). A `Map` keeps insertion order, so
 * its first key is the one used least recently; `get` moves a hit to the end.
 */
export class Lru<K, V> {
  readonly #capacity: number
  readonly #map = new Map<K, V>()

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${capacity} must be an integer ≥ 1`)
    this.#capacity = capacity
  }

  get size(): number {
    return this.#map.size
  }

  get capacity(): number {
    return this.#capacity
  }

  /** The value, marked as the most recently used. */
  get(key: K): V | undefined {
    const value = this.#map.get(key)
    if (value !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, value)
    }
    return value
  }

  /** The value without marking it used. */
  peek(key: K): V | undefined {
    return this.#map.get(key)
  }

  has(key: K): boolean {
    return this.#map.has(key)
  }

  /** Set `key` as the most recently used; the least recently used entry goes when the map is full. */
  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.#capacity) {
      const oldest = this.#map.keys().next()
      if (oldest.done !== true) this.#map.delete(oldest.value)
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key)
  }

  clear(): void {
    this.#map.clear()
  }
}
