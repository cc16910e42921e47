import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { withDeadline } from '../deadline.ts'
import { isError } from '../errors.ts'
import { announcedAddresses, dialFailureReason, isAddressBook } from './addresses.ts'
import { decodeResponse, encodeRequest, FrameError } from './codec.ts'
import { DEFAULT_DEADLINE_MS, DEFAULT_MAX_MESSAGE_BYTES, serviceOfProtocol } from './constants.ts'
import {
  isRefusal,
  RpcProtocolError,
  RpcRemoteError,
  RpcTimeoutError,
  RpcUnreachableError,
  type WireErrors,
} from './errors.ts'
import { localRpcServer } from './server.ts'
import { openProtocolStream, type StreamDialer } from './streams.ts'

function isPeerId(value: unknown): value is PeerId {
  return (
    value != null &&
    typeof value === 'object' &&
    typeof (value as PeerId).equals === 'function' &&
    'type' in value &&
    !Array.isArray(value) &&
    typeof (value as { toMultihash?: unknown }).toMultihash === 'function'
  )
}

/** A request to a protocol this same node serves: encoded and decoded like any other, without a stream. */
async function callLocal(
  serve: (frame: Uint8Array, remotePeer: PeerId) => Promise<Uint8Array>,
  self: PeerId,
  protocol: string,
  op: string,
  body: unknown,
  options: RpcCallOptions,
): Promise<unknown> {
  const frame = encodeRequest({ op, body })
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RpcTimeoutError(`${protocol} ${op}: no answer within ${deadlineMs} ms`)),
      deadlineMs,
    )
  })
  try {
    const reply = await Promise.race([serve(frame, self), timeout])
    let response: ReturnType<typeof decodeResponse>
    try {
      response = decodeResponse(reply)
    } catch (err) {
      throw new RpcProtocolError(`${protocol}: ${(err as Error).message}`)
    }
    if (!response.ok) throw refusal(new RpcRemoteError(protocol, response.code, response.message), options)
    return response.body
  } finally {
    clearTimeout(timer)
  }
}

export interface RpcCallOptions extends AbortOptions {
  /** Whole-exchange deadline in ms (dial, write, wait, read). */
  deadlineMs?: number
  /** Largest response accepted, in bytes. */
  maxResponseBytes?: number
  /** Who answers, for errors (`clearinghouse`); by default named from the protocol id. */
  service?: string
  /** The protocol's refusals: a listed code is thrown as its own error class instead of `RpcRemoteError`. */
  errors?: WireErrors
  /**
   * Told which of the protocols offered the peer chose (multistream-select: the first in the list it serves) and the
   * connection it was chosen on (absent for this node itself), before the request is written.
   */
  onProtocol?: (protocol: string, connection: Connection | undefined) => void
}

export type RpcDialer = StreamDialer & { peerId?: PeerId }

/**
 * Send one request on a fresh stream and return the response body. A typed error reply throws
 * `RpcRemoteError` with the peer's code; a missed deadline throws `RpcTimeoutError`. `protocols`: one protocol id, or
 * several, newest first, of which the peer chooses the first it serves (`options.onProtocol` is told which).
 */
export async function rpcCall(
  libp2p: RpcDialer,
  peer: PeerId | Multiaddr | Multiaddr[],
  protocols: string | readonly string[],
  op: string,
  body: unknown,
  options: RpcCallOptions = {},
): Promise<unknown> {
  const offered = typeof protocols === 'string' ? [protocols] : [...protocols]
  const protocol = offered[0]!
  if (isPeerId(peer) && libp2p.peerId?.equals(peer) === true) {
    for (const candidate of offered) {
      const local = localRpcServer(libp2p, candidate)
      if (local == null) continue
      options.onProtocol?.(candidate, undefined)
      return callLocal(local, libp2p.peerId, candidate, op, body, options)
    }
  }
  const { signal, deadline } = withDeadline(options.deadlineMs ?? DEFAULT_DEADLINE_MS, options.signal)
  let stream: Stream | undefined
  const service = options.service ?? serviceOfProtocol(protocol)
  let target: PeerId | Multiaddr | Multiaddr[] = peer
  const unreachable = (err: unknown) =>
    new RpcUnreachableError(
      service,
      peerName(peer),
      addressList(target),
      deadline.aborted
        ? `no connection within ${options.deadlineMs ?? DEFAULT_DEADLINE_MS} ms`
        : dialFailureReason(err),
    )
  try {
    // A peer named by its id is dialled at the addresses it announced; a node that has not heard of it yet waits
    // (within the deadline) until it does, instead of failing at once with "no valid addresses".
    if (isPeerId(peer) && isAddressBook(libp2p) && !hasConnection(libp2p, peer)) {
      target = await announcedAddresses(libp2p, peer, { signal, service })
    }
  } catch (err) {
    if (isError(err, RpcUnreachableError) && deadline.aborted && !(options.signal?.aborted ?? false)) {
      throw new RpcUnreachableError(
        service,
        peer.toString(),
        [],
        `no address known within ${options.deadlineMs ?? DEFAULT_DEADLINE_MS} ms (it has not announced itself to this node)`,
      )
    }
    throw err
  }
  try {
    try {
      // An open connection is used as it is, relayed ones too (a peer behind NAT): see streams.ts.
      stream = await openProtocolStream(libp2p, target, offered, { signal })
    } catch (err) {
      if (options.signal?.aborted ?? false) throw err
      // Addresses from the peer store may be those of an earlier run of the peer: look for fresh ones, once.
      if (isPeerId(peer) && Array.isArray(target) && !deadline.aborted && isAddressBook(libp2p)) {
        const stale = target.map((a) => a.toString())
        const fresh = await announcedAddresses(libp2p, peer, { signal, service, stale }).catch(() => null)
        if (fresh != null) {
          target = fresh
          stream = await openProtocolStream(libp2p, target, offered, { signal }).catch((again: unknown) => {
            throw unreachable(again)
          })
        }
      }
      if (stream == null) throw unreachable(err)
    }

    if (options.onProtocol != null) {
      const opened = stream
      const connection = isPeerId(peer)
        ? libp2p.getConnections?.(peer).find((c) => c.streams.includes(opened))
        : undefined
      options.onProtocol(stream.protocol, connection)
    }
    const lp = lpStream(stream, { maxDataLength: options.maxResponseBytes ?? DEFAULT_MAX_MESSAGE_BYTES })
    await lp.write(encodeRequest({ op, body }), { signal })
    const reply = await lp.read({ signal })
    await stream.close({ signal }).catch(() => {})
    const response = decodeResponse(reply.subarray())
    if (!response.ok) throw refusal(new RpcRemoteError(protocol, response.code, response.message), options)
    return response.body
  } catch (err) {
    stream?.abort(err as Error)
    if (isRefusal(err) || isError(err, RpcUnreachableError)) throw err
    if (isError(err, FrameError)) throw new RpcProtocolError(`${protocol}: ${err.message}`)
    if ((err as Error).name === 'InvalidDataLengthError') {
      const cap = options.maxResponseBytes ?? DEFAULT_MAX_MESSAGE_BYTES
      throw new RpcProtocolError(`${protocol} ${op}: the response exceeds ${cap} bytes`)
    }
    if (deadline.aborted && !(options.signal?.aborted ?? false)) {
      throw new RpcTimeoutError(`${protocol} ${op}: no answer within ${options.deadlineMs ?? DEFAULT_DEADLINE_MS} ms`)
    }
    throw err
  }
}

function hasConnection(libp2p: RpcDialer, peer: PeerId): boolean {
  const connections = (libp2p as { getConnections?: (peer?: PeerId) => unknown[] }).getConnections
  return typeof connections === 'function' && connections.call(libp2p, peer).length > 0
}

function peerName(peer: PeerId | Multiaddr | Multiaddr[]): string {
  if (isPeerId(peer)) return peer.toString()
  const first = Array.isArray(peer) ? peer[0] : peer
  return first?.getComponents().find((c) => c.name === 'p2p')?.value ?? 'at an address'
}

function addressList(target: PeerId | Multiaddr | Multiaddr[]): string[] {
  if (isPeerId(target)) return []
  return (Array.isArray(target) ? target : [target]).map((a) => a.toString())
}

/** What a refusal is thrown as: the protocol's own error for a code it lists, else the `RpcRemoteError`. */
function refusal(remote: RpcRemoteError, options: RpcCallOptions): unknown {
  return options.errors?.decode(remote) ?? remote
}
