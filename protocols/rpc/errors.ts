/** Error codes that every protocol shares; a role adds its own (`ERR_OFFER_REVOKED`…). */
export const RPC_CODES = {
  badRequest: 'ERR_BAD_REQUEST',
  unknownOp: 'ERR_UNKNOWN_OP',
  tooLarge: 'ERR_TOO_LARGE',
  deadline: 'ERR_DEADLINE',
  internal: 'ERR_INTERNAL',
  unauthorised: 'ERR_UNAUTHORISED',
  notFound: 'ERR_NOT_FOUND',
} as const

/**
 * Throw this (or any error with a string `code`) from a handler to send a typed error reply. Other errors
 * become `ERR_INTERNAL` without their message, so that a handler's internals never leak to a peer.
 */
export class RpcHandlerError extends Error {
  override name = 'RpcHandlerError'
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/** The peer answered with an error reply. */
export class RpcRemoteError extends Error {
  override name = 'RpcRemoteError'
  readonly code: string
  readonly protocol: string

  constructor(protocol: string, code: string, message: string) {
    super(`${protocol}: ${code}: ${message}`)
    this.code = code
    this.protocol = protocol
  }
}

/** The peer's reply could not be understood. */
export class RpcProtocolError extends Error {
  override name = 'RpcProtocolError'
  readonly code = 'ERR_RPC_PROTOCOL'
}

/** The exchange did not finish before its deadline. */
export class RpcTimeoutError extends Error {
  override name = 'RpcTimeoutError'
  readonly code = 'ERR_RPC_TIMEOUT'
}
