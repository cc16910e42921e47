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

/**
 * A service could not be reached: no address is known for it, or none of its announced addresses answered. The
 * message names the service, its peer id and each address tried, with the reason (`ECONNREFUSED`, a time-out).
 */
export class RpcUnreachableError extends Error {
  override name = 'RpcUnreachableError'
  readonly code = 'ERR_UNREACHABLE'
  readonly service: string
  readonly peer: string
  readonly addresses: string[]

  constructor(service: string, peer: string, addresses: string[], reason: string) {
    super(
      addresses.length > 0
        ? `${service} ${peer} unreachable at ${addresses.join(', ')}: ${reason}`
        : `${service} ${peer} unreachable: ${reason}`,
    )
    this.service = service
    this.peer = peer
    this.addresses = addresses
  }
}
