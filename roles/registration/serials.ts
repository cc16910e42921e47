import type { Clock } from '../../protocols/clock.ts'
import { type BatchOp, KEYS, put, type RegistrationStore } from './store.ts'

/**
 * Serial numbers of the certificates and device records this registrar issues. A node keeps the highest serial
 * it has seen per subject, so serials must only grow: each is `max(last + 1, now)`. Taking the clock as a floor
 * also puts them above the small serials a network's genesis tooling (the devnet) gives its first certificates,
 * and keeps them growing if the stored counter were ever lost. Allocation is synchronous, so two concurrent
 * issuers never share a serial; the counter is persisted in the batch that stores the record.
 */
export class SerialSource {
  readonly #clock: Clock
  #last = 0

  constructor(clock: Clock) {
    this.#clock = clock
  }

  async load(store: RegistrationStore): Promise<void> {
    this.#last = (await store.get(KEYS.serial)) ?? 0
  }

  next(): number {
    this.#last = Math.max(this.#last + 1, this.#clock.now())
    return this.#last
  }

  /** The batch operation that persists the counter as it stands. */
  op(): BatchOp {
    return put(KEYS.serial, this.#last)
  }
}
