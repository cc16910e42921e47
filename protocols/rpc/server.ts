import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import { isError } from '../errors.ts'
import { decodeRequest, encodeResponse, FrameError, type RpcResponse } from './codec.ts'
import { DEFAULT_DEADLINE_MS, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_MESSAGE_BYTES } from './constants.ts'
import { RPC_CODES, wireCodeOf } from './errors.ts'

const log = logger('consort:rpc')

export interface RpcContext {
  /** The peer that opened the stream (authenticated by the connection's encryption), or this node itself. */
  remotePeer: PeerId
  /** The connection the request came on; absent for a request from a role on the same node. */
  connection?: Connection
  signal: AbortSignal
}

/**
 * Requests a node sends to itself (a storefront asking the catalog on the same node) cannot go over libp2p,
 * which never dials itself. They still go through the protocol: encoded, dispatched by the same code, decoded.
 */
type LocalServer = (frame: Uint8Array, remotePeer: PeerId) => Promise<Uint8Array>
const localServers = new WeakMap<object, Map<string, LocalServer>>()

export function localRpcServer(libp2p: object, protocol: string): LocalServer | undefined {
  return localServers.get(libp2p)?.get(protocol)
}

export type RpcHandler = (body: unknown, context: RpcContext) => Promise<unknown>

export interface RpcServerOptions {
  maxRequestBytes?: number
  /** Time a handler has to answer before the peer gets ERR_DEADLINE. */
  deadlineMs?: number
  maxInboundStreams?: number
}

export type RpcRegistrar = Pick<Libp2p, 'handle' | 'unhandle'>

function errorReply(err: unknown): RpcResponse {
  const code = wireCodeOf(err)
  if (code != null && code !== RPC_CODES.internal) {
    return { ok: false, code, message: (err as Error).message }
  }
  return { ok: false, code: RPC_CODES.internal, message: 'internal error' }
}

/** A promise that rejects when `signal` aborts and never settles otherwise. */
function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

/**
 * Serve a request/response protocol: decode one request, dispatch it to the handler for its `op`, write one
 * response. Decoding and dispatch live here; business logic stays in the role's handler.
 */
export async function registerRpc(
  libp2p: RpcRegistrar,
  protocol: string,
  handlers: Record<string, RpcHandler>,
  options: RpcServerOptions = {},
): Promise<() => Promise<void>> {
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS

  async function dispatch(
    frame: () => Promise<Uint8Array>,
    remotePeer: PeerId,
    connection: Connection | undefined,
    signal: AbortSignal,
  ): Promise<RpcResponse> {
    try {
      const request = decodeRequest(await frame())
      const handler = Object.hasOwn(handlers, request.op) ? handlers[request.op] : undefined
      if (handler == null) {
        return { ok: false, code: RPC_CODES.unknownOp, message: `unknown op ${JSON.stringify(request.op)}` }
      }
      const context: RpcContext = connection == null ? { remotePeer, signal } : { remotePeer, connection, signal }
      // The deadline holds even for a handler that ignores its signal.
      return { ok: true, body: await Promise.race([handler(request.body, context), rejectOnAbort(signal)]) }
    } catch (err) {
      if (isError(err, FrameError)) return { ok: false, code: RPC_CODES.badRequest, message: err.message }
      if ((err as Error).name === 'InvalidDataLengthError') {
        return { ok: false, code: RPC_CODES.tooLarge, message: `request exceeds ${maxRequestBytes} bytes` }
      }
      if (signal.aborted) return { ok: false, code: RPC_CODES.deadline, message: `no answer within ${deadlineMs} ms` }
      const reply = errorReply(err)
      if (!reply.ok && reply.code === RPC_CODES.internal) log.error('%s handler failed: %e', protocol, err)
      return reply
    }
  }

  async function serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(deadlineMs)
    const lp = lpStream(stream, { maxDataLength: maxRequestBytes })
    const response = await dispatch(
      async () => (await lp.read({ signal })).subarray(),
      connection.remotePeer,
      connection,
      signal,
    )
    try {
      await lp.write(encodeResponse(response), { signal: AbortSignal.timeout(deadlineMs) })
      await stream.close({ signal: AbortSignal.timeout(deadlineMs) })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  await libp2p.handle(
    protocol,
    (stream, connection) => {
      serve(stream, connection).catch((err) => {
        log.error('%s stream failed: %e', protocol, err)
        stream.abort(err as Error)
      })
    },
    { maxInboundStreams: options.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS, runOnLimitedConnection: true },
  )
  let local = localServers.get(libp2p)
  if (local == null) {
    local = new Map()
    localServers.set(libp2p, local)
  }
  local.set(protocol, async (frame, remotePeer) => {
    if (frame.length > maxRequestBytes) {
      return encodeResponse({
        ok: false,
        code: RPC_CODES.tooLarge,
        message: `request exceeds ${maxRequestBytes} bytes`,
      })
    }
    return encodeResponse(await dispatch(async () => frame, remotePeer, undefined, AbortSignal.timeout(deadlineMs)))
  })
  return async () => {
    localServers.get(libp2p)?.delete(protocol)
    await libp2p.unhandle(protocol)
  }
}
