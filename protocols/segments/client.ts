import type { AbortOptions, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import { bitfieldGet, decodeResponse, encodeRequest } from './codec.ts'
import {
  HAVE_DEADLINE_MS,
  MAX_GET_CIDS,
  MAX_HAVE_CIDS,
  MAX_RESPONSE_FRAME_BYTES,
  PRIORITY_CODES,
  SEGMENT_OPS,
  type SegmentPriority,
} from './constants.ts'
import { RequestCancelledError, SegmentFrameError, SegmentRemoteError, SegmentTimeoutError } from './errors.ts'

export type SegmentDialer = Pick<Libp2p, 'dialProtocol'>

export interface GetBlocksOptions extends AbortOptions {
  priority?: SegmentPriority
  /** Give up when no frame arrives for this long (the request may wait in the server's queue meanwhile). */
  idleTimeoutMs?: number
}

/** One answer to a `get`: the block (unverified: the caller checks it against its CID) or `absent`. */
export type BlockAnswer = { index: number; block: Uint8Array } | { index: number; block: null }

/**
 * Ask `peer` for blocks on one stream and yield its answers as they arrive (in request order). An error
 * frame throws `SegmentRemoteError`; a silence longer than `idleTimeoutMs` throws `SegmentTimeoutError`;
 * aborting `signal` resets the stream, which takes the request out of the server's queue.
 */
export async function* getBlocks(
  libp2p: SegmentDialer,
  peer: PeerId,
  protocol: string,
  cids: CID[],
  options: GetBlocksOptions = {},
): AsyncGenerator<BlockAnswer> {
  if (cids.length === 0 || cids.length > MAX_GET_CIDS) throw new RangeError(`get takes 1 to ${MAX_GET_CIDS} CIDs`)
  const stream = await libp2p.dialProtocol(peer, protocol, options.signal != null ? { signal: options.signal } : {})
  const idle = options.idleTimeoutMs ?? 30_000
  let finished = false
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_FRAME_BYTES })
    const priority = PRIORITY_CODES[options.priority ?? 'now']
    await lp.write(encodeRequest({ op: SEGMENT_OPS.get, priority, cids }), withIdle(options.signal, idle))
    for (let answered = 0; answered < cids.length; ) {
      const frame = await readFrame(lp, options.signal, idle)
      const response = decodeResponse(frame, cids.length)
      if (response.kind === 'error') throw new SegmentRemoteError(response.code, response.message)
      if (response.kind === 'have') throw new SegmentFrameError('response', 'a have frame in answer to get')
      if (response.index !== answered) {
        throw new SegmentFrameError('response.i', `expected answer ${answered}, got ${response.index}`)
      }
      answered++
      yield response.kind === 'block'
        ? { index: response.index, block: response.block }
        : { index: response.index, block: null }
    }
    finished = true
    await stream
      .close(withIdle(options.signal, idle))
      .catch(() => stream.abort(new RequestCancelledError('close failed')))
  } finally {
    if (!finished) abortStream(stream)
  }
}

/**
 * Ask `peer` which of `cids` it holds: a bitfield, bit i (most significant bit first) set for cids[i].
 * Lists longer than `MAX_HAVE_CIDS` are asked in several requests.
 */
export async function requestHave(
  libp2p: SegmentDialer,
  peer: PeerId,
  protocol: string,
  cids: CID[],
  options: AbortOptions & { timeoutMs?: number } = {},
): Promise<boolean[]> {
  const have: boolean[] = []
  for (let start = 0; start < cids.length; start += MAX_HAVE_CIDS) {
    const slice = cids.slice(start, start + MAX_HAVE_CIDS)
    const signal = withIdle(options.signal, options.timeoutMs ?? HAVE_DEADLINE_MS).signal
    const stream = await libp2p.dialProtocol(peer, protocol, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_FRAME_BYTES })
      await lp.write(encodeRequest({ op: SEGMENT_OPS.have, priority: PRIORITY_CODES.now, cids: slice }), { signal })
      const response = decodeResponse((await lp.read({ signal })).subarray(), slice.length)
      if (response.kind === 'error') throw new SegmentRemoteError(response.code, response.message)
      if (response.kind !== 'have')
        throw new SegmentFrameError('response', `a ${response.kind} frame in answer to have`)
      for (let i = 0; i < slice.length; i++) have.push(bitfieldGet(response.bitfield, i))
      await stream.close({ signal }).catch(() => stream.abort(new RequestCancelledError('close failed')))
    } catch (err) {
      abortStream(stream)
      if (signal.aborted && !(options.signal?.aborted ?? false)) {
        throw new SegmentTimeoutError(`${peer}: no have answer within ${options.timeoutMs ?? HAVE_DEADLINE_MS} ms`)
      }
      throw err
    }
  }
  return have
}

async function readFrame(
  lp: ReturnType<typeof lpStream>,
  signal: AbortSignal | undefined,
  idleMs: number,
): Promise<Uint8Array> {
  const timeout = AbortSignal.timeout(idleMs)
  try {
    return (await lp.read({ signal: signal == null ? timeout : AbortSignal.any([signal, timeout]) })).subarray()
  } catch (err) {
    if (timeout.aborted && !(signal?.aborted ?? false)) {
      throw new SegmentTimeoutError(`no answer within ${idleMs} ms`)
    }
    throw err
  }
}

function withIdle(signal: AbortSignal | undefined, ms: number): { signal: AbortSignal } {
  const timeout = AbortSignal.timeout(ms)
  return { signal: signal == null ? timeout : AbortSignal.any([signal, timeout]) }
}

function abortStream(stream: Stream): void {
  if (stream.status === 'open' || stream.status === 'closing')
    stream.abort(new RequestCancelledError('request cancelled'))
}
