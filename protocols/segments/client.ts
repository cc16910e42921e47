import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import { withDeadline } from '../deadline.ts'
import { openProtocolStream, type StreamDialer } from '../rpc/streams.ts'
import { bitfieldBytes, bitfieldGet, decodeResponse, encodeRequest, parseBlockFrameHead } from './codec.ts'
import {
  HAVE_DEADLINE_MS,
  MAX_HAVE_CIDS,
  MAX_RESPONSE_FRAME_BYTES,
  PRIORITY_CODES,
  SEGMENT_ERROR_CODES,
  SEGMENT_OPS,
  type SegmentPriority,
} from './constants.ts'
import { RequestCancelledError, SegmentFrameError, SegmentRemoteError, SegmentTimeoutError } from './errors.ts'

const log = logger('consort:segments:client')

export type SegmentDialer = StreamDialer

/** Default silence after which a session with blocks outstanding is given up. */
export const DEFAULT_SESSION_IDLE_MS = 15_000
/** Enough of a frame to hold any block frame's head (map, keys, a 4-byte index and a 4-byte length). */
const BLOCK_HEAD_PEEK_BYTES = 24

type Frame = Awaited<ReturnType<ReturnType<typeof lpStream>['read']>>

export interface BlockSessionOptions {
  priority?: SegmentPriority
  /** Give up every outstanding block when the stream stays silent this long while blocks are outstanding. */
  idleTimeoutMs?: number
}

interface Outstanding {
  cid: CID
  resolve: (block: Uint8Array | null) => void
  reject: (err: Error) => void
}

interface HaveWaiter {
  count: number
  resolve: (bitfield: Uint8Array) => void
  reject: (err: Error) => void
}

/**
 * One stream to one peer carrying any number of block requests (a fetch opens one per peer). Each `get` sends
 * a request frame and resolves with the block when its frame arrives (unverified: the caller checks it
 * against its CID), or null when the peer does not hold it. Aborting a `get` sends `cancel`, which takes the
 * block out of the server's queue if it has not started. Requests are pipelined: the server serves them one
 * after another with no round trip in between.
 */
export class BlockSession {
  readonly peer: PeerId
  readonly #libp2p: SegmentDialer
  readonly #protocol: string
  readonly #priority: number
  readonly #idleMs: number
  readonly #outstanding = new Map<number, Outstanding>()
  #have: HaveWaiter | null = null
  #opening: Promise<void> | null = null
  #stream: Stream | null = null
  #lp: ReturnType<typeof lpStream> | null = null
  #next = 0
  #failure: Error | null = null
  #closed = false

  constructor(libp2p: SegmentDialer, peer: PeerId, protocol: string, options: BlockSessionOptions = {}) {
    this.#libp2p = libp2p
    this.peer = peer
    this.#protocol = protocol
    this.#priority = PRIORITY_CODES[options.priority ?? 'now']
    this.#idleMs = options.idleTimeoutMs ?? DEFAULT_SESSION_IDLE_MS
  }

  /** Whether the stream failed (a new session is needed). */
  get failed(): boolean {
    return this.#failure != null
  }

  /** Blocks asked for and not yet answered. */
  get outstanding(): number {
    return this.#outstanding.size
  }

  /** Ask for one block. Rejects with `SegmentRemoteError` (`ERR_BUSY` if the server's queue is full). */
  async get(cid: CID, options: AbortOptions = {}): Promise<Uint8Array | null> {
    options.signal?.throwIfAborted()
    if (this.#failure != null) throw this.#failure
    if (this.#closed) throw new RequestCancelledError('the session is closed')
    await this.#open(options)
    if (this.#failure != null) throw this.#failure
    const index = this.#next++
    const answer = new Promise<Uint8Array | null>((resolve, reject) => {
      this.#outstanding.set(index, { cid, resolve, reject })
    })
    const onAbort = () => {
      const outstanding = this.#outstanding.get(index)
      if (outstanding == null) return
      this.#outstanding.delete(index)
      outstanding.reject(new RequestCancelledError(`request for ${cid} cancelled`))
      this.#write(SEGMENT_OPS.cancel, [cid])
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    this.#write(SEGMENT_OPS.get, [cid])
    try {
      return await answer
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Ask which of `cids` the peer holds, on this session (so that a fetch probes and then fetches on one
   * stream): one boolean per CID. One `have` at a time per session.
   */
  async have(cids: CID[], options: AbortOptions & { timeoutMs?: number } = {}): Promise<boolean[]> {
    const { signal, deadline } = withDeadline(options.timeoutMs ?? HAVE_DEADLINE_MS, options.signal)
    const have: boolean[] = []
    try {
      await this.#open({ signal })
      for (let start = 0; start < cids.length; start += MAX_HAVE_CIDS) {
        const slice = cids.slice(start, start + MAX_HAVE_CIDS)
        if (this.#failure != null) throw this.#failure
        if (this.#have != null) throw new SegmentFrameError('have', 'one have at a time per session')
        const answer = new Promise<Uint8Array>((resolve, reject) => {
          this.#have = { count: slice.length, resolve, reject }
        })
        const onAbort = () => this.#have?.reject(signal.reason as Error)
        signal.addEventListener('abort', onAbort, { once: true })
        this.#write(SEGMENT_OPS.have, slice)
        try {
          const bitfield = await answer
          for (let i = 0; i < slice.length; i++) have.push(bitfieldGet(bitfield, i))
        } finally {
          this.#have = null
          signal.removeEventListener('abort', onAbort)
        }
      }
      return have
    } catch (err) {
      if (deadline.aborted && !(options.signal?.aborted ?? false)) {
        const timeout = new SegmentTimeoutError(
          `${this.peer}: no have answer within ${options.timeoutMs ?? HAVE_DEADLINE_MS} ms`,
        )
        this.#fail(timeout)
        throw timeout
      }
      throw err
    }
  }

  /** Close our side gracefully (the server finishes what is outstanding). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#stream?.close().catch((err) => this.#stream?.abort(err as Error))
  }

  /** Reset the stream and fail everything outstanding. */
  abort(err: Error): void {
    this.#closed = true
    this.#fail(err)
  }

  async #open(options: AbortOptions): Promise<void> {
    if (this.#stream != null) return
    if (this.#opening == null) {
      this.#opening = (async () => {
        const stream = await openProtocolStream(this.#libp2p, this.peer, this.#protocol, options)
        if (this.#closed) {
          stream.abort(new RequestCancelledError('the session closed while opening'))
          throw new RequestCancelledError('the session is closed')
        }
        this.#stream = stream
        this.#lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_FRAME_BYTES })
        stream.addEventListener(
          'close',
          (event) => {
            const error = (event as Event & { error?: Error }).error
            this.#fail(error ?? new RequestCancelledError('the stream closed'))
          },
          { once: true },
        )
        this.#readLoop().catch((err) => this.#fail(err as Error))
      })()
      this.#opening.catch((err) => this.#fail(err as Error))
    }
    await this.#opening
  }

  #write(op: (typeof SEGMENT_OPS)[keyof typeof SEGMENT_OPS], cids: CID[]): void {
    const stream = this.#stream
    if (stream == null || this.#failure != null || stream.writeStatus !== 'writable') return
    try {
      const frame = encodeRequest({ op, priority: this.#priority, cids })
      // unsigned varint length prefix, then the frame (requests are small: no backpressure to wait for)
      stream.send(Uint8Array.from([...lengthPrefix(frame.length), ...frame]))
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  async #readLoop(): Promise<void> {
    const lp = this.#lp!
    for (;;) {
      let frame: Frame
      const timeout = AbortSignal.timeout(this.#idleMs)
      try {
        frame = await lp.read({ signal: timeout })
      } catch (err) {
        if (timeout.aborted && this.#failure == null) {
          if (this.#outstanding.size === 0 && this.#have == null) continue
          throw new SegmentTimeoutError(`${this.peer}: no answer within ${this.#idleMs} ms`)
        }
        throw err
      }
      this.#dispatch(frame)
    }
  }

  #dispatch(frame: Frame): void {
    const head = parseBlockFrameHead(
      frame.subarray(0, Math.min(frame.byteLength, BLOCK_HEAD_PEEK_BYTES)),
      frame.byteLength,
    )
    if (head != null) {
      if (head.index >= this.#next) throw new SegmentFrameError('response.i', `no block ${head.index} was asked for`)
      const outstanding = this.#outstanding.get(head.index)
      // a block we cancelled too late arrives anyway: it is dropped
      if (outstanding == null) return
      this.#outstanding.delete(head.index)
      outstanding.resolve(plain(frame.subarray(head.offset)))
      return
    }
    const response = decodeResponse(frame.subarray(), this.#next)
    if (response.kind === 'error') throw new SegmentRemoteError(response.code, response.message)
    if (response.kind === 'have') {
      const waiter = this.#have
      if (waiter == null) throw new SegmentFrameError('response', 'a have frame nobody asked for')
      if (response.bitfield.length !== bitfieldBytes(waiter.count)) {
        throw new SegmentFrameError('response.have', `expected a ${bitfieldBytes(waiter.count)}-byte bitfield`)
      }
      waiter.resolve(response.bitfield)
      return
    }
    const outstanding = this.#outstanding.get(response.index)
    if (outstanding == null) return
    this.#outstanding.delete(response.index)
    if (response.kind === 'busy') outstanding.reject(new SegmentRemoteError(SEGMENT_ERROR_CODES.busy, 'queue full'))
    else if (response.kind === 'absent') outstanding.resolve(null)
    else outstanding.resolve(response.block)
  }

  #fail(err: Error): void {
    if (this.#failure != null) return
    this.#failure = err
    const pending = this.#outstanding.size + (this.#have != null ? 1 : 0)
    for (const outstanding of this.#outstanding.values()) outstanding.reject(err)
    this.#outstanding.clear()
    this.#have?.reject(err)
    // a session we closed, whose stream then ended with nothing outstanding, simply finished
    if (this.#closed && pending === 0) return
    const stream = this.#stream
    if (stream != null && (stream.status === 'open' || stream.status === 'closing')) {
      log.trace('resetting session with %p: %s', this.peer, err.message)
      stream.abort(err)
    }
  }
}

/** A plain Uint8Array view of the same bytes (the list hands back Node Buffers). */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** An unsigned varint (LEB128). */
function lengthPrefix(value: number): number[] {
  const out: number[] = []
  let v = value
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return out
}

/** One answer to a `get`: the block (unverified: the caller checks it against its CID) or null when absent. */
export interface BlockAnswer {
  index: number
  block: Uint8Array | null
}

/**
 * Ask `peer` for blocks on one session and yield the answers in the order asked (tools and tests; the
 * fetcher keeps its own sessions).
 */
export async function* getBlocks(
  libp2p: SegmentDialer,
  peer: PeerId,
  protocol: string,
  cids: CID[],
  options: BlockSessionOptions & AbortOptions = {},
): AsyncGenerator<BlockAnswer> {
  const session = new BlockSession(libp2p, peer, protocol, options)
  try {
    const answers = cids.map((cid) => session.get(cid, options))
    for (const answer of answers) answer.catch(() => {})
    for (let index = 0; index < answers.length; index++) yield { index, block: await answers[index]! }
  } finally {
    session.close()
  }
}

/**
 * Ask `peer` which of `cids` it holds: one boolean per CID. Lists longer than `MAX_HAVE_CIDS` are asked in
 * several requests.
 */
export async function requestHave(
  libp2p: SegmentDialer,
  peer: PeerId,
  protocol: string,
  cids: CID[],
  options: AbortOptions & { timeoutMs?: number } = {},
): Promise<boolean[]> {
  const have: boolean[] = []
  const { signal, deadline } = withDeadline(options.timeoutMs ?? HAVE_DEADLINE_MS, options.signal)
  let stream: Stream | undefined
  try {
    stream = await openProtocolStream(libp2p, peer, protocol, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_FRAME_BYTES })
    for (let start = 0; start < cids.length; start += MAX_HAVE_CIDS) {
      const slice = cids.slice(start, start + MAX_HAVE_CIDS)
      await lp.write(encodeRequest({ op: SEGMENT_OPS.have, priority: PRIORITY_CODES.now, cids: slice }), { signal })
      const response = decodeResponse((await lp.read({ signal })).subarray(), slice.length)
      if (response.kind === 'error') throw new SegmentRemoteError(response.code, response.message)
      if (response.kind !== 'have')
        throw new SegmentFrameError('response', `a ${response.kind} frame in answer to have`)
      for (let i = 0; i < slice.length; i++) have.push(bitfieldGet(response.bitfield, i))
    }
    await stream.close({ signal })
    return have
  } catch (err) {
    stream?.abort(err as Error)
    if (deadline.aborted && !(options.signal?.aborted ?? false)) {
      throw new SegmentTimeoutError(`${peer}: no have answer within ${options.timeoutMs ?? HAVE_DEADLINE_MS} ms`)
    }
    throw err
  }
}
