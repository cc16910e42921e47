import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { decodeResponse, encodeRequest, FrameError } from './codec.ts'
import { DEFAULT_DEADLINE_MS, DEFAULT_MAX_MESSAGE_BYTES } from './constants.ts'
import { RpcProtocolError, RpcRemoteError, RpcTimeoutError } from './errors.ts'

export interface RpcCallOptions extends AbortOptions {
  /** Whole-exchange deadline in ms (dial, write, wait, read). */
  deadlineMs?: number
  /** Largest response accepted, in bytes. */
  maxResponseBytes?: number
}

export type RpcDialer = Pick<Libp2p, 'dialProtocol'>

/**
 * Send one request on a fresh stream and return the response body. A typed error reply throws
 * `RpcRemoteError` with the peer's code; a missed deadline throws `RpcTimeoutError`.
 */
export async function rpcCall(
  libp2p: RpcDialer,
  peer: PeerId | Multiaddr | Multiaddr[],
  protocol: string,
  op: string,
  body: unknown,
  options: RpcCallOptions = {},
): Promise<unknown> {
  const deadline = AbortSignal.timeout(options.deadlineMs ?? DEFAULT_DEADLINE_MS)
  const signal = options.signal == null ? deadline : AbortSignal.any([deadline, options.signal])
  let stream: Awaited<ReturnType<RpcDialer['dialProtocol']>> | undefined
  try {
    stream = await libp2p.dialProtocol(peer, protocol, { signal })
    const lp = lpStream(stream, { maxDataLength: options.maxResponseBytes ?? DEFAULT_MAX_MESSAGE_BYTES })
    await lp.write(encodeRequest({ op, body }), { signal })
    const reply = await lp.read({ signal })
    await stream.close({ signal }).catch(() => {})
    const response = decodeResponse(reply.subarray())
    if (!response.ok) throw new RpcRemoteError(protocol, response.code, response.message)
    return response.body
  } catch (err) {
    stream?.abort(err as Error)
    if (err instanceof RpcRemoteError) throw err
    if (err instanceof FrameError) throw new RpcProtocolError(`${protocol}: ${err.message}`)
    if (deadline.aborted && !(options.signal?.aborted ?? false)) {
      throw new RpcTimeoutError(`${protocol} ${op}: no answer within ${options.deadlineMs ?? DEFAULT_DEADLINE_MS} ms`)
    }
    throw err
  }
}
