/** A bounded map that forgets its least recently used entry beyond `max` entries. */
export class Lru<K, V> {
  readonly #map = new Map<K, V>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key)
    if (value !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, value)
    }
    return value
  }

  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K)
  }

  delete(key: K): void {
    this.#map.delete(key)
  }

  get size(): number {
    return this.#map.size
  }
}
