/**
 * Matching errors. Every error class has a `static name` equal to its class name and sets its `name` from it (the
 * shape of js-libp2p's errors), so callers tell conditions apart by `.name`: a name survives being passed between
 * copies of a module, worker threads and processes, where `instanceof` does not. `.code` is read only where a wire
 * code is decoded at a protocol's boundary.
 */

/** Whether `err` is an error of `type`'s condition, by name; narrows `err` to that class for its fields. */
export function isError<T extends Error>(
  err: unknown,
  type: { readonly name: string; readonly prototype: T },
): err is T {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === type.name
}

/** Whether `err` is an error whose name is one of `names` (a family of conditions, such as every record refusal). */
export function isErrorNamed(err: unknown, names: ReadonlySet<string>): err is Error {
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined
  return typeof name === 'string' && names.has(name)
}
