import * as dagCbor from '@ipld/dag-cbor'
import { MAX_ERROR_MESSAGE_CHARS, MAX_OP_CHARS, RPC_VERSION } from './constants.ts'

/**
 * One request and one response per stream, each one length-prefixed (unsigned varint) DAG-CBOR frame:
 *   request  = { v: 1, op: string, body: any }
 *   response = { v: 1, ok: true, body: any } | { v: 1, ok: false, code: string, message: string }
 */
export interface RpcRequest {
  op: string
  body: unknown
}

export type RpcResponse = { ok: true; body: unknown } | { ok: false; code: string; message: string }

export class FrameError extends Error {
  static override name = 'FrameError'
  override name = FrameError.name

  constructor(message = 'the frame does not decode', options?: ErrorOptions) {
    super(message, options)
  }
}

function decodeMap(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new FrameError(`not DAG-CBOR: ${(err as Error).message}`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new FrameError('frame is not a map')
  }
  const map = value as Record<string, unknown>
  if (map.v !== RPC_VERSION) throw new FrameError(`unsupported frame version ${String(map.v)}`)
  return map
}

export function encodeRequest(request: RpcRequest): Uint8Array {
  return dagCbor.encode({ v: RPC_VERSION, op: request.op, body: request.body ?? null })
}

export function decodeRequest(bytes: Uint8Array): RpcRequest {
  const map = decodeMap(bytes)
  const keys = Object.keys(map).sort().join(',')
  if (keys !== 'body,op,v') throw new FrameError(`request fields are ${keys}, expected body,op,v`)
  if (typeof map.op !== 'string' || map.op.length === 0 || map.op.length > MAX_OP_CHARS) {
    throw new FrameError('op must be a non-empty string')
  }
  return { op: map.op, body: map.body }
}

export function encodeResponse(response: RpcResponse): Uint8Array {
  if (response.ok) return dagCbor.encode({ v: RPC_VERSION, ok: true, body: response.body ?? null })
  return dagCbor.encode({
    v: RPC_VERSION,
    ok: false,
    code: response.code,
    message: response.message.slice(0, MAX_ERROR_MESSAGE_CHARS),
  })
}

export function decodeResponse(bytes: Uint8Array): RpcResponse {
  const map = decodeMap(bytes)
  if (map.ok === true) {
    if (Object.keys(map).sort().join(',') !== 'body,ok,v') throw new FrameError('malformed success response')
    return { ok: true, body: map.body }
  }
  if (map.ok === false && typeof map.code === 'string' && typeof map.message === 'string') {
    if (Object.keys(map).length !== 4) throw new FrameError('malformed error response')
    return { ok: false, code: map.code, message: map.message }
  }
  throw new FrameError('response has neither a body nor an error')
}
