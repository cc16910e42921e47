/**
 * Progress of the market's long steps (set-up and drain) for a person watching a run: which step, how many of how
 * many done. A 1,000-node set-up runs for many minutes of CPU; without this nobody can tell where it is.
 *
 * Only ever written to stderr (through the runner's `onProgress`), never into the results: it reads nothing the run
 * depends on and changes nothing, so the bytes of a run stay the same with or without a listener.
 */

/** Called with one step's count; the runner turns it into a progress event. */
export type StepListener = (step: string, done: number, total: number) => void

/** A line at least this often (simulated time) while a step's count moves, and at its end. */
const EVERY_MS = 10_000
/** A line this often even when the count is stuck (the step is still waiting). */
const STUCK_EVERY_MS = 60_000

/**
 * Thins each step's counts to a line at its first count, at its end, and every EVERY_MS of simulated time while it
 * moves (STUCK_EVERY_MS while it does not). Steps are thinned each on its own: two running at once both show.
 */
export class StepProgress {
  readonly #last = new Map<string, { done: number; at: number }>()
  listener: StepListener | null = null

  report(step: string, done: number, total: number): void {
    if (this.listener == null) return
    const now = performance.now()
    const last = this.#last.get(step)
    const due =
      last == null ||
      (done !== last.done && (done >= total || now - last.at >= EVERY_MS)) ||
      now - last.at >= STUCK_EVERY_MS
    if (!due) return
    this.#last.set(step, { done, at: now })
    this.listener(step, done, total)
  }
}
