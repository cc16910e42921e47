/**
 * Errors more than one role throws for the same condition: one class each (a name is never defined twice), matched by
 * `name` like every error (decision 0014).
 */

/** A role's sublevel was written by a build with another layout version. */
export class StoreVersionError extends Error {
  static override name = 'StoreVersionError'
  override name = StoreVersionError.name
  readonly code = 'ERR_STORE_VERSION'

  constructor(message = "the role's store was written by another layout version", options?: ErrorOptions) {
    super(message, options)
  }
}

/** A byte range asked of a page or stream lies outside its bytes (answered 416 with the size). */
export class RangeNotSatisfiableError extends Error {
  static override name = 'RangeNotSatisfiableError'
  override name = RangeNotSatisfiableError.name
  readonly code = 'ERR_RANGE_NOT_SATISFIABLE'
  readonly size: number

  constructor(size: number, message = `the range lies outside the ${size} bytes`) {
    super(message)
    this.size = size
  }
}
