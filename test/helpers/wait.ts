/** Wait for a condition by polling a cheap predicate, failing with a message after a deadline (never a bare sleep). */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${options.message ?? 'condition not met'}`)
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25))
  }
}

/** Resolve with the first event of `type` on `target` whose detail passes `filter`. */
export function nextEvent<T>(
  target: EventTarget,
  type: string,
  filter: (detail: T) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, listener)
      reject(new Error(`timed out waiting for ${type}`))
    }, timeoutMs)
    const listener = (event: Event) => {
      const detail = (event as CustomEvent<T>).detail
      if (!filter(detail)) return
      clearTimeout(timer)
      target.removeEventListener(type, listener)
      resolve(detail)
    }
    target.addEventListener(type, listener)
  })
}
