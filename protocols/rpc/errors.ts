import { InvalidParametersError, NotFoundError } from '@libp2p/interface'

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
 * The wire codes of the errors that `@libp2p/interface` defines, which Consort reuses rather than redefines (they
 * carry no code of their own), by error name. Every protocol's replies and the control API answer them with these.
 */
export const LIBP2P_ERROR_CODES: Readonly<Record<string, string>> = {
  NotFoundError: RPC_CODES.notFound,
  InvalidParametersError: RPC_CODES.badRequest,
}

/**
 * The code that goes on the wire for `err`: its own `code` when that is an `ERR_` code, else the one listed for a
 * reused `@libp2p/interface` error, else none (the peer then sees `ERR_INTERNAL`, never the error's internals).
 */
export function wireCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const { code, name } = err as { code?: unknown; name?: unknown }
  if (typeof code === 'string' && code.startsWith('ERR_')) return code
  return typeof name === 'string' && Object.hasOwn(LIBP2P_ERROR_CODES, name) ? LIBP2P_ERROR_CODES[name] : undefined
}

/**
 * A reply with a raw wire code: for stand-in services in tests and for wire-level checks. A role throws its own
 * error class per condition instead (its `code` goes on the wire, decision 0014). An error with no `ERR_` code
 * and no listed name becomes `ERR_INTERNAL` without its message, so that a handler's internals never leak to a peer.
 */
export class RpcHandlerError extends Error {
  static override name = 'RpcHandlerError'
  override name = RpcHandlerError.name

  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/** The peer answered with an error reply. */
export class RpcRemoteError extends Error {
  static override name = 'RpcRemoteError'
  override name = RpcRemoteError.name

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
  static override name = 'RpcProtocolError'
  override name = RpcProtocolError.name

  constructor(message = "the peer's reply could not be understood", options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_RPC_PROTOCOL'
}

/** The exchange did not finish before its deadline. */
export class RpcTimeoutError extends Error {
  static override name = 'RpcTimeoutError'
  override name = RpcTimeoutError.name

  constructor(message = 'the exchange did not finish before its deadline', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_RPC_TIMEOUT'
}

/**
 * A service could not be reached: no address is known for it, or none of its announced addresses answered. The
 * message names the service, its peer id and each address tried, with the reason (`ECONNREFUSED`, a time-out).
 */
export class RpcUnreachableError extends Error {
  static override name = 'RpcUnreachableError'
  override name = RpcUnreachableError.name

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

/** The peer does not serve the op asked for (it runs an older version of the protocol). */
export class UnknownOpError extends Error {
  static override name = 'UnknownOpError'
  override name = UnknownOpError.name
  readonly code = RPC_CODES.unknownOp

  constructor(message = 'the peer does not serve this op', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The errors every protocol's replies may carry, by wire code: reused `@libp2p/interface` ones and `UnknownOpError`. */
const SHARED_ERROR_OF_CODE: ReadonlyMap<string, new (message?: string) => Error> = new Map<
  string,
  new (
    message?: string,
  ) => Error
>([
  [RPC_CODES.notFound, NotFoundError],
  [RPC_CODES.badRequest, InvalidParametersError],
  [RPC_CODES.unknownOp, UnknownOpError],
])

function isRemoteError(err: unknown): err is RpcRemoteError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === RpcRemoteError.name
}

/**
 * Whether `err` is the peer's answer, a refusal: the `RpcRemoteError` itself or the protocol's own error decoded from
 * it (`WireErrors`). Asking another peer will not change a refusal; an unreachable peer or a time-out may.
 */
export function isRefusal(err: unknown): err is Error {
  if (typeof err !== 'object' || err === null) return false
  return isRemoteError(err) || isRemoteError((err as { cause?: unknown }).cause)
}

/** An error class that a protocol's replies carry: constructible from a message, with its wire `code`. */
export interface WireErrorType {
  readonly name: string
  new (message?: string): Error & { readonly code: string }
}

/**
 * A protocol's refusals, by wire code and back: the server sends each class's `code`, and a client that passes
 * this to `rpcCall` (`errors`) gets an error of the class the code names, matched by `.name` like any other, with
 * the `RpcRemoteError` as its `cause` and the same message. Codes it does not list stay `RpcRemoteError`s.
 */
export class WireErrors {
  readonly #byCode: ReadonlyMap<string, WireErrorType>

  constructor(types: readonly WireErrorType[]) {
    const byCode = new Map<string, WireErrorType>()
    for (const type of types) {
      const code = new type().code
      if (byCode.has(code))
        throw new Error(`wire code ${code} is listed twice (${byCode.get(code)?.name}, ${type.name})`)
      byCode.set(code, type)
    }
    this.#byCode = byCode
  }

  /** Only the codes every protocol shares (`ERR_NOT_FOUND`, `ERR_BAD_REQUEST`, `ERR_UNKNOWN_OP`), for a protocol without its own. */
  static readonly shared = new WireErrors([])

  /**
   * The error a peer's refusal stands for: the protocol's own for a code it lists, a shared one (a reused
   * `@libp2p/interface` error, `UnknownOpError`), else the `RpcRemoteError` itself; any other error as it is.
   */
  decode(remote: unknown): unknown {
    if (!isRemoteError(remote)) return remote
    const type = this.#byCode.get(remote.code) ?? SHARED_ERROR_OF_CODE.get(remote.code)
    if (type == null) return remote
    const err = new type(remote.message)
    err.cause = remote
    return err
  }
}
