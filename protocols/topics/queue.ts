/**
 * What a topic's delivery queue does when it is full:
 * - `refuse-newest`: the arriving message is refused at the door (the validator answers `ignore`: gossipsub neither
 *   forwards it nor counts it against the sender), so everything a node accepted also reaches its subscribers, and
 *   catch-up brings the refused message back later from a peer that took it;
 * - `drop-oldest`: the arriving message is accepted (and forwarded) and the oldest message still waiting is dropped
 *   unseen by the subscribers: for topics where passing messages on matters more than this node's own use of them.
 */
export type WhenFull = 'refuse-newest' | 'drop-oldest'

/** The bounds of one topic's delivery queue. Messages waiting and messages being delivered both count. */
export interface QueuePolicy {
  /** Messages held at once. */
  maxItems: number
  /** Bytes of message data held at once (what the queue costs in memory). */
  maxBytes: number
  /** Messages delivered to the subscribers at the same time. */
  concurrency: number
  whenFull: WhenFull
}

/** How one queued item ended: its subscribers ran, or it was dropped to make room or because the queue closed. */
export type QueueOutcome = 'delivered' | 'dropped'

interface Entry<T> {
  item: T
  bytes: number
  settle: (outcome: QueueOutcome) => void
}

/**
 * A bounded queue in front of a topic's subscribers: at most `maxItems` messages and `maxBytes` bytes held, at most
 * `concurrency` delivered at once, first in first out. What happens to a message that does not fit is the policy's
 * `whenFull`; a caller that can wait (a catch-up pull) waits for room instead (`roomFreed`).
 */
export class DeliveryQueue<T> {
  readonly #policy: QueuePolicy
  readonly #deliver: (item: T) => Promise<void>
  readonly #onDrop: (item: T) => void
  readonly #waiting: Entry<T>[] = []
  #running = 0
  #items = 0
  #bytes = 0
  #dropped = 0
  #closed = false
  /** Callers waiting for room, woken one at a time as items finish. */
  readonly #roomWaiters: Array<() => void> = []
  readonly #idleWaiters: Array<() => void> = []

  constructor(policy: QueuePolicy, deliver: (item: T) => Promise<void>, onDrop: (item: T) => void = () => {}) {
    if (!(policy.maxItems >= 1 && policy.maxBytes >= 1 && policy.concurrency >= 1)) {
      throw new RangeError(
        `a delivery queue needs room for one item and one delivery at a time: ${JSON.stringify(policy)}`,
      )
    }
    this.#policy = policy
    this.#deliver = deliver
    this.#onDrop = onDrop
  }

  /** Messages held (waiting or being delivered). */
  get depth(): number {
    return this.#items
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Messages dropped so far to make room (`drop-oldest`) or at close. */
  get dropped(): number {
    return this.#dropped
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Would a message of `bytes` be taken now by `push` (perhaps by dropping older ones)? */
  admits(bytes: number): boolean {
    if (this.#closed || bytes > this.#policy.maxBytes) return false
    if (this.hasRoom(bytes)) return true
    return this.#policy.whenFull === 'drop-oldest' && this.#evictable(bytes)
  }

  /** Is there room for a message of `bytes` without dropping anything? */
  hasRoom(bytes: number): boolean {
    return !this.#closed && this.#items < this.#policy.maxItems && this.#bytes + bytes <= this.#policy.maxBytes
  }

  /**
   * Take a message if the policy lets it in: answers how its delivery ended, or null when it was refused (the queue
   * is full and refuses the newest, it cannot make room, or it is closed). Never waits.
   */
  push(item: T, bytes: number): Promise<QueueOutcome> | null {
    if (!this.admits(bytes)) return null
    while (!this.hasRoom(bytes)) this.#dropOldest()
    const { promise, resolve } = Promise.withResolvers<QueueOutcome>()
    this.#waiting.push({ item, bytes, settle: resolve })
    this.#items += 1
    this.#bytes += bytes
    this.#pump()
    return promise
  }

  /**
   * Resolves the next time room is freed (a delivery finished, a message was dropped) or the queue closes. A caller
   * that can wait (a catch-up pull) loops on `hasRoom` and this, then pushes in the same synchronous step.
   */
  roomFreed(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    return new Promise<void>((resolve) => this.#roomWaiters.push(resolve))
  }

  /** Resolves once nothing is waiting or being delivered. */
  async idle(): Promise<void> {
    while (this.#items > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Drop everything still waiting and refuse what comes after; deliveries already running finish. */
  close(): void {
    this.#closed = true
    while (this.#waiting.length > 0) this.#dropOldest()
    this.#wake()
  }

  /** Could dropping waiting items (never running ones) make room? */
  #evictable(bytes: number): boolean {
    let items = this.#items
    let held = this.#bytes
    for (const entry of this.#waiting) {
      if (items < this.#policy.maxItems && held + bytes <= this.#policy.maxBytes) return true
      items -= 1
      held -= entry.bytes
    }
    return items < this.#policy.maxItems && held + bytes <= this.#policy.maxBytes
  }

  #dropOldest(): void {
    const entry = this.#waiting.shift()
    if (entry == null) return
    this.#release(entry)
    this.#dropped += 1
    this.#onDrop(entry.item)
    entry.settle('dropped')
  }

  #pump(): void {
    while (this.#running < this.#policy.concurrency && this.#waiting.length > 0) {
      const entry = this.#waiting.shift()!
      this.#running += 1
      this.#deliver(entry.item)
        .catch(() => {})
        .finally(() => {
          this.#running -= 1
          this.#release(entry)
          entry.settle('delivered')
          this.#pump()
        })
    }
  }

  #release(entry: Entry<T>): void {
    this.#items -= 1
    this.#bytes -= entry.bytes
    this.#wake()
  }

  #wake(): void {
    for (const wake of this.#roomWaiters.splice(0)) wake()
    if (this.#items === 0) for (const wake of this.#idleWaiters.splice(0)) wake()
  }
}
