/**
 * A deadline of `ms` and the signal to pass on: it aborts when the caller's `signal` does (if there is one) or when
 * the deadline passes, whichever comes first. `deadline` alone tells the two apart afterwards (`deadline.aborted`
 * while the caller's signal is not: the time ran out). The one way every protocol client and role bounds a call.
 */
export function withDeadline(ms: number, signal?: AbortSignal | null): { signal: AbortSignal; deadline: AbortSignal } {
  const deadline = AbortSignal.timeout(ms)
  return { signal: signal == null ? deadline : AbortSignal.any([signal, deadline]), deadline }
}
