import { DeviceLimitError, DeviceRevokedError } from '../licence/errors.ts'
import { WireErrors } from '../rpc/errors.ts'
import { REGISTER_CODES } from './index.ts'

/**
 * The refusals of `/register/1` that a caller acts on: one class per condition, each with its wire code from
 * `REGISTER_CODES` (the protocol's one list of codes). The registration manager throws them (the signature and
 * freshness checks also on `/licence/1`'s reissue and transfer); a caller that passes `REGISTER_ERRORS` to `rpcCall`
 * gets them back, matched by name, from the code on the wire.
 */

/** A signature on a request does not verify, or the request was signed by someone who may not ask. */
export class RequestUnauthorisedError extends Error {
  static override name = 'RequestUnauthorisedError'
  override name = RequestUnauthorisedError.name
  readonly code = REGISTER_CODES.unauthorised

  constructor(message = 'the request is not signed by who may ask', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A signed request is for another network, too old, or dated in the future. */
export class RequestStaleError extends Error {
  static override name = 'RequestStaleError'
  override name = RequestStaleError.name
  readonly code = REGISTER_CODES.staleRequest

  constructor(message = 'the request is for another network, too old or dated in the future', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The device key is already registered to another account. */
export class DeviceTakenError extends Error {
  static override name = 'DeviceTakenError'
  override name = DeviceTakenError.name
  readonly code = REGISTER_CODES.deviceTaken

  constructor(message = 'the device is registered to another account', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Too many certificate requests wait for an operator; new ones are refused until some are decided. */
export class TooManyPendingError extends Error {
  static override name = 'TooManyPendingError'
  override name = TooManyPendingError.name
  readonly code = REGISTER_CODES.tooManyPending

  constructor(message = 'too many certificate requests wait for an operator', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A rotation does not continue its predecessor: another name or roles, an invalid or revoked old certificate. */
export class RotationInvalidError extends Error {
  static override name = 'RotationInvalidError'
  override name = RotationInvalidError.name
  readonly code = REGISTER_CODES.rotationInvalid

  constructor(message = 'the rotation does not continue its predecessor', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The old certificate was already rotated to another key. */
export class RotationConflictError extends Error {
  static override name = 'RotationConflictError'
  override name = RotationConflictError.name
  readonly code = REGISTER_CODES.rotationConflict

  constructor(message = 'the old certificate was already rotated to another key', options?: ErrorOptions) {
    super(message, options)
  }
}

/** `/register/1`'s refusals by wire code, for `rpcCall`'s `errors` option. */
export const REGISTER_ERRORS = new WireErrors([
  RequestUnauthorisedError,
  RequestStaleError,
  DeviceTakenError,
  DeviceRevokedError,
  DeviceLimitError,
  TooManyPendingError,
  RotationInvalidError,
  RotationConflictError,
])
