import { createHash } from 'node:crypto'
import { MAX_PLANNED_EVENTS } from './scenario.ts'

/**
 * The plan of a run: every workload step, fault and attack with its time, fixed before the first node starts and
 * drawn only from the seed, and what it runs on (the scenario as run, the nodes, the overlay: `describe`). Two runs
 * with the same scenario and seed have the same plan; its hash is in metrics.json.
 */
export interface PlannedEvent {
  /** Milliseconds after the workload starts. */
  t: number
  /** What happens, in words that identify it (`publish offers from retailer-2 #14`): the plan's hash covers them. */
  label: string
  run(): Promise<void>
}

export class Plan {
  readonly #events: PlannedEvent[] = []
  readonly #context: string[] = []
  #sorted = true

  /** Add what the plan runs on to its hash: `what` names it, `value` is any JSON value (kept in its order). */
  describe(what: string, value: unknown): void {
    this.#context.push(`${what} ${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`)
  }

  add(t: number, label: string, run: () => Promise<void>): void {
    if (this.#events.length >= MAX_PLANNED_EVENTS)
      throw new RangeError(`a plan holds at most ${MAX_PLANNED_EVENTS} events: lower the scenario's rates`)
    this.#events.push({ t, label, run })
    this.#sorted = false
  }

  get events(): readonly PlannedEvent[] {
    if (!this.#sorted) {
      // Stable: events at the same time keep the order they were planned in.
      this.#events.sort((a, b) => a.t - b.t)
      this.#sorted = true
    }
    return this.#events
  }

  get size(): number {
    return this.#events.length
  }

  /** SHA-256 over what the plan runs on, then every event's time and label, in order. */
  hash(): string {
    const h = createHash('sha256')
    for (const line of this.#context) h.update(`${line}\n`)
    for (const e of this.events) h.update(`${e.t} ${e.label}\n`)
    return h.digest('hex')
  }

  /** How many events of each kind (the label's first word). */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const e of this.events) {
      const kind = e.label.split(' ')[0]!
      counts[kind] = (counts[kind] ?? 0) + 1
    }
    return counts
  }
}
