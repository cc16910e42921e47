import { randomUUID } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { isError } from '../../protocols/errors.ts'
import type { SegmentsService } from '../../protocols/segments/service.ts'
import { MAX_STREAM_RANGE_BYTES, MAX_STREAM_SESSIONS, STREAM_SESSION_IDLE_MS } from './constants.ts'
import { BadPlayerRequestError, RangeNotSatisfiableError, SessionNotFoundError, UsageDeniedError } from './errors.ts'
import { byteAtMs, decryptTrackSegment, msAtByte, segmentOfByte } from './media.ts'
import type { Playback } from './playback.ts'
import type { OpenedPlayback } from './types.ts'
import type { Uses } from './uses.ts'

/**
 * Web playback: an `<audio>` element streams a track from the local daemon with HTTP byte ranges, seeking as it
 * likes. Opening a session checks the licence (or starts a preview); each range is fetched from the swarm and
 * decrypted, the play is counted with the first range that came (a session none of whose audio came is no play), and
 * the seconds of audio a range covers that were not served before in this session are counted with `play-seconds`
 * before they are sent. A session ends when closed or after `STREAM_SESSION_IDLE_MS` idle, and its
 * play becomes ready to report.
 */

const log = logger('consort:player:streams')

interface Session {
  readonly id: string
  readonly opened: OpenedPlayback
  /** Audio already served, as sorted disjoint [from, to) intervals in ms. */
  served: Array<[number, number]>
  countedSeconds: number
  /** Bytes that may be served (the preview limit, or where the licence stopped). */
  limitBytes: number
  lastUsed: number
}

export interface StreamInfo {
  session: string
  content: string
  title: string
  mode: 'licensed' | 'preview'
  mime: string
  codec: string
  size: number
  durationMs: number
}

export interface StreamRange {
  status: 200 | 206
  start: number
  end: number
  size: number
  mime: string
  body: Uint8Array
}

/** Add [from, to) to sorted disjoint intervals; returns the new list and how many ms were new. */
export function addInterval(
  list: ReadonlyArray<[number, number]>,
  from: number,
  to: number,
): { list: Array<[number, number]>; added: number } {
  if (to <= from) return { list: [...list], added: 0 }
  let covered = 0
  for (const [a, b] of list) covered += Math.max(0, Math.min(b, to) - Math.max(a, from))
  const merged: Array<[number, number]> = []
  let current: [number, number] = [from, to]
  for (const [a, b] of list) {
    if (b < current[0] || a > current[1]) merged.push([a, b])
    else current = [Math.min(a, current[0]), Math.max(b, current[1])]
  }
  merged.push(current)
  merged.sort((x, y) => x[0] - y[0])
  return { list: merged, added: to - from - covered }
}

/**
 * Where to cut [from, to) so that it adds at most `allowedNew` ms to what `list` already covers (the parts already
 * served cost nothing).
 */
export function cutAfterNew(
  list: ReadonlyArray<[number, number]>,
  from: number,
  to: number,
  allowedNew: number,
): number {
  let budget = allowedNew
  let at = from
  for (const [a, b] of list) {
    if (b <= at) continue
    if (a >= to) break
    const gap = Math.max(0, Math.min(a, to) - at)
    if (gap > budget) return at + budget
    budget -= gap
    at = Math.min(to, Math.max(at, b))
    if (at >= to) return to
  }
  return Math.min(to, at + budget)
}

/** Total length of intervals. */
function totalMs(list: ReadonlyArray<[number, number]>): number {
  return list.reduce((sum, [a, b]) => sum + (b - a), 0)
}

/** Parse a `Range: bytes=a-b` header (one range; suffix ranges allowed) against a size. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (header === undefined || header === '') return null
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (match === null) throw new BadPlayerRequestError(`range: ${JSON.stringify(header)} is not one byte range`)
  const [, a, b] = match
  if (a === '' && b === '') throw new BadPlayerRequestError('range: empty')
  if (a === '') {
    const suffix = Number(b)
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(a)
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1)
  if (start >= size || end < start) {
    throw new RangeNotSatisfiableError(size, `range: bytes ${start}-${b} lie outside the ${size} bytes of the track`)
  }
  return { start, end }
}

/** What web streams use: playback opens and begins plays, uses counts their seconds, segments fetches ranges. */
export interface StreamParts {
  playback: Pick<Playback, 'open' | 'begin'>
  uses: Pick<Uses, 'countSeconds' | 'notePreview' | 'endPlay'>
  segments: Pick<SegmentsService, 'fetch'>
}

export class StreamSessions {
  readonly #parts: StreamParts
  readonly #sessions = new Map<string, Session>()
  #sweep: ReturnType<typeof setInterval> | undefined

  constructor(parts: StreamParts) {
    this.#parts = parts
  }

  get size(): number {
    return this.#sessions.size
  }

  start(): void {
    this.#sweep = setInterval(() => {
      const now = performance.now()
      for (const session of this.#sessions.values()) {
        if (now - session.lastUsed > STREAM_SESSION_IDLE_MS) {
          this.close(session.id).catch((err) => log('closing idle session: %s', (err as Error).message))
        }
      }
    }, 60_000)
    this.#sweep.unref?.()
  }

  async stop(): Promise<void> {
    clearInterval(this.#sweep)
    for (const id of [...this.#sessions.keys()]) await this.close(id).catch(() => {})
  }

  /** Open a track for streaming: checks the licence (the play is counted with its first audio), or starts a preview. */
  async open(content: string, options: { preview?: boolean } = {}): Promise<StreamInfo> {
    if (this.#sessions.size >= MAX_STREAM_SESSIONS) {
      const oldest = [...this.#sessions.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0]
      if (oldest !== undefined) await this.close(oldest.id)
    }
    const opened = await this.#parts.playback.open(content, options)
    const id = randomUUID()
    const limitBytes = byteAtMs(opened.track, opened.maxMs)
    this.#sessions.set(id, { id, opened, served: [], countedSeconds: 0, limitBytes, lastUsed: performance.now() })
    return this.#info(this.#sessions.get(id)!)
  }

  info(id: string): StreamInfo {
    return this.#info(this.#get(id))
  }

  #info(session: Session): StreamInfo {
    const { track, mode } = session.opened
    return {
      session: session.id,
      content: `isrc:${track.isrc}`,
      title: track.manifest.body.title,
      mode,
      mime: track.mime,
      codec: track.codec,
      size: session.limitBytes,
      durationMs: msAtByte(track, session.limitBytes),
    }
  }

  #get(id: string): Session {
    const session = this.#sessions.get(id)
    if (session === undefined) throw new SessionNotFoundError(`no playback session ${id} (it ended or expired)`)
    session.lastUsed = performance.now()
    return session
  }

  /**
   * Serve one byte range (a `Range` header, or the start of the track without one). The seconds it adds to what
   * this session has served are counted first; where the licence stops, the range is cut there.
   */
  async read(id: string, rangeHeader?: string, signal?: AbortSignal): Promise<StreamRange> {
    const session = this.#get(id)
    const { track, key, held } = session.opened
    const size = session.limitBytes
    if (size === 0) throw new UsageDeniedError('play-seconds-exhausted', 'nothing of this track may be played')
    const range = parseRange(rangeHeader, size)
    const start = range?.start ?? 0
    const end = Math.min(range?.end ?? size - 1, start + MAX_STREAM_RANGE_BYTES - 1)
    // Fetch and decrypt first: a range whose segments never come counts nothing (and a play none of whose audio
    // came is no play: it is counted with its first audio, issue 11 finding 6).
    const first = segmentOfByte(track, start)
    const last = segmentOfByte(track, end)
    const fetch = this.#parts.segments.fetch(track.segments.slice(first, last + 1), {
      root: track.manifest.id,
      priority: 'now',
      ...(signal !== undefined ? { signal } : {}),
    })
    const plain: Array<{ index: number; bytes: Uint8Array }> = []
    try {
      for await (const block of fetch.blocks()) {
        const index = first + block.index
        plain.push({ index, bytes: decryptTrackSegment(track, key, index, block.bytes) })
      }
    } finally {
      if (fetch.present < fetch.total) fetch.abort()
    }
    if (held !== null && !session.opened.begun) await this.#parts.playback.begin(session.opened)
    // Count what this range adds before serving it.
    let servedEnd = end
    const fromMs = msAtByte(track, start)
    const toMs = msAtByte(track, end + 1)
    const { list } = addInterval(session.served, fromMs, toMs)
    if (held !== null) {
      const wanted = Math.ceil(totalMs(list) / 1000) - session.countedSeconds
      const eventId = session.opened.event.eventId
      const { counted, limit } = await this.#parts.uses.countSeconds(held.purchaseId, eventId, wanted)
      session.countedSeconds += counted
      if (counted < wanted) {
        const allowedNewMs = Math.max(0, session.countedSeconds * 1000 - totalMs(session.served))
        const cutMs = cutAfterNew(session.served, fromMs, toMs, allowedNewMs)
        servedEnd = Math.min(end, byteAtMs(track, cutMs) - 1)
        session.limitBytes = Math.max(start, servedEnd + 1)
        if (servedEnd < start) throw new UsageDeniedError(limit ?? 'limit', 'the licence allows no more of this track')
      }
    }
    session.served = addInterval(session.served, fromMs, msAtByte(track, servedEnd + 1)).list
    const parts: Uint8Array[] = []
    for (const { index, bytes } of plain) {
      const segmentStart = index * track.segmentSize
      const from = Math.max(0, start - segmentStart)
      const to = Math.min(bytes.length, servedEnd + 1 - segmentStart)
      if (to > from) parts.push(bytes.subarray(from, to))
    }
    const body = Buffer.concat(parts)
    if (held === null) {
      const heardMs = totalMs(session.served)
      session.opened.event.seconds = Math.max(session.opened.event.seconds, Math.ceil(heardMs / 1000))
    }
    return {
      status: range === null && start === 0 && servedEnd === size - 1 ? 200 : 206,
      start,
      end: start + body.length - 1,
      size,
      mime: track.mime,
      body,
    }
  }

  /** The range as an HTTP response (for a control API that passes responses through). */
  async response(id: string, rangeHeader?: string, signal?: AbortSignal): Promise<Response> {
    try {
      const range = await this.read(id, rangeHeader, signal)
      const headers: Record<string, string> = {
        'content-type': range.mime,
        'accept-ranges': 'bytes',
        'content-length': String(range.body.length),
        'cache-control': 'no-store',
      }
      if (range.status === 206) headers['content-range'] = `bytes ${range.start}-${range.end}/${range.size}`
      return new Response(new Uint8Array(range.body) as Uint8Array<ArrayBuffer>, { status: range.status, headers })
    } catch (err) {
      if (isError(err, RangeNotSatisfiableError)) {
        return new Response(null, { status: 416, headers: { 'content-range': `bytes */${err.size}` } })
      }
      throw err
    }
  }

  /** End a session: its play becomes ready to report (a preview is logged with the seconds served). */
  async close(id: string): Promise<{ session: string; seconds: number }> {
    const session = this.#sessions.get(id)
    if (session === undefined) throw new SessionNotFoundError(`no playback session ${id}`)
    this.#sessions.delete(id)
    const { key, held, event } = session.opened
    key.fill(0)
    const seconds = Math.ceil(totalMs(session.served) / 1000)
    if (held === null) await this.#parts.uses.notePreview({ ...event, seconds })
    else if (session.opened.begun) await this.#parts.uses.endPlay(event.eventId)
    return { session: id, seconds }
  }
}
