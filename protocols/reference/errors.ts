import { WireErrors } from '../rpc/errors.ts'
import { REFERENCE_CODES } from './index.ts'

/**
 * The refusal of `/reference/1` that is its own, with its wire code from `REFERENCE_CODES` (the protocol's one list
 * of codes). The reference service throws it; the retailer's certify and contract look-ups and the market query
 * pass `REFERENCE_ERRORS` to `rpcCall`, so they get it back, matched by name.
 */

/** The service was asked to work before `start()` or after `stop()`. */
export class ReferenceNotRunningError extends Error {
  static override name = 'ReferenceNotRunningError'
  override name = ReferenceNotRunningError.name
  readonly code = REFERENCE_CODES.notRunning

  constructor(message = 'the reference service is not running', options?: ErrorOptions) {
    super(message, options)
  }
}

/** `/reference/1`'s refusals by wire code, for `rpcCall`'s `errors` option. */
export const REFERENCE_ERRORS = new WireErrors([ReferenceNotRunningError])
