/**
 * Waits for tests. None of them has a deadline of its own by default: a fixed number of milliseconds is a guess that
 * a loaded machine breaks (the same test, the same verdict, with a CPU hog beside it). The only budget is the test's
 * own mocha timeout, a safety net rather than a verdict; when it fires, the root hook in `pending-waits.ts` adds what
 * the test was still waiting for to the failure.
 */
import { trackWait } from './pending-waits.ts'

/**
 * Wait for a condition by polling a cheap predicate (never a bare sleep). `timeoutMs` is only for a test whose claim
 * is itself about time; every other wait leaves the budget to the test's timeout.
 */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<void> {
  const description = options.message ?? 'a condition'
  const deadline = options.timeoutMs == null ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs
  const wait = trackWait(description)
  try {
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms: ${description}`)
      if (wait.abandoned) throw new Error(`abandoned when its test ended: ${description}`)
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25))
    }
  } finally {
    wait.end()
  }
}

/** Resolve with the first event of `type` on `target` whose detail passes `filter`. */
export function nextEvent<T>(
  target: EventTarget,
  type: string,
  filter: (detail: T) => boolean = () => true,
  timeoutMs?: number,
): Promise<T> {
  const wait = trackWait(`the event ${type}`)
  return new Promise<T>((resolve, reject) => {
    const timer =
      timeoutMs == null
        ? undefined
        : setTimeout(() => {
            target.removeEventListener(type, listener)
            reject(new Error(`timed out after ${timeoutMs} ms waiting for ${type}`))
          }, timeoutMs)
    const listener = (event: Event) => {
      const detail = (event as CustomEvent<T>).detail
      if (!filter(detail)) return
      clearTimeout(timer)
      target.removeEventListener(type, listener)
      resolve(detail)
    }
    target.addEventListener(type, listener)
  }).finally(wait.end)
}
