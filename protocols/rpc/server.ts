import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import { decodeRequest, encodeResponse, FrameError, type RpcResponse } from './codec.ts'
import { DEFAULT_DEADLINE_MS, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_MESSAGE_BYTES } from './constants.ts'
import { RPC_CODES } from './errors.ts'

const log = logger('consort:rpc')

export interface RpcContext {
  /** The peer that opened the stream (authenticated by the connection's encryption). */
  remotePeer: PeerId
  connection: Connection
  signal: AbortSignal
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
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('ERR_') && code !== RPC_CODES.internal) {
    return { ok: false, code, message: (err as Error).message }
  }
  return { ok: false, code: RPC_CODES.internal, message: 'internal error' }
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

  async function serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(deadlineMs)
    const lp = lpStream(stream, { maxDataLength: maxRequestBytes })
    let response: RpcResponse
    try {
      const frame = await lp.read({ signal })
      const request = decodeRequest(frame.subarray())
      const handler = Object.hasOwn(handlers, request.op) ? handlers[request.op] : undefined
      if (handler == null) {
        response = { ok: false, code: RPC_CODES.unknownOp, message: `unknown op ${JSON.stringify(request.op)}` }
      } else {
        const body = await handler(request.body, { remotePeer: connection.remotePeer, connection, signal })
        response = { ok: true, body }
      }
    } catch (err) {
      if (err instanceof FrameError) {
        response = { ok: false, code: RPC_CODES.badRequest, message: err.message }
      } else if ((err as Error).name === 'InvalidDataLengthError') {
        response = { ok: false, code: RPC_CODES.tooLarge, message: `request exceeds ${maxRequestBytes} bytes` }
      } else if (signal.aborted) {
        response = { ok: false, code: RPC_CODES.deadline, message: `no answer within ${deadlineMs} ms` }
      } else {
        response = errorReply(err)
        if (!response.ok && response.code === RPC_CODES.internal) log.error('%s handler failed: %e', protocol, err)
      }
    }
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
    { maxInboundStreams: options.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS },
  )
  return async () => {
    await libp2p.unhandle(protocol)
  }
}
