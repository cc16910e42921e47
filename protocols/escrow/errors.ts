import { WireErrors } from '../rpc/errors.ts'
import { ESCROW_CODES } from './index.ts'

/**
 * The refusal of `/escrow/1` that a depositor acts on, with its wire code from `ESCROW_CODES` (the protocol's one
 * list of codes). The registration manager throws it; `depositEscrow` passes `ESCROW_ERRORS` to `rpcCall`, so the
 * producer gets it back, matched by name. The message names the field and what is wrong with it.
 */

/** A deposit is refused: not from a certified producer, not addressed here, or its key does not open. */
export class EscrowInvalidError extends Error {
  static override name = 'EscrowInvalidError'
  override name = EscrowInvalidError.name
  readonly code = ESCROW_CODES.escrowInvalid

  constructor(message = 'the escrow deposit is invalid', options?: ErrorOptions) {
    super(message, options)
  }
}

/** `/escrow/1`'s refusals by wire code, for `rpcCall`'s `errors` option. */
export const ESCROW_ERRORS = new WireErrors([EscrowInvalidError])
