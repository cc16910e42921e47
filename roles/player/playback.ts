import { logger } from '@libp2p/logger'
import type { FetchSummary } from '../../protocols/segments/fetcher.ts'
import type { SegmentsService } from '../../protocols/segments/service.ts'
import { evaluate, initialUsageState, resolveRules } from '../../protocols/usage-rules/index.ts'
import { sameBytes } from './bytes.ts'
import type { PlayerCore } from './core.ts'
import type { DeliveryReceipts } from './deliveries.ts'
import type { ContentDirectory } from './directory.ts'
import { InvalidLicenceError, NoLicenceError } from './errors.ts'
import { byteAtMs, decryptTrackSegment, fullTrack, msAtByte, previewTrack } from './media.ts'
import type { Prefetcher } from './prefetch.ts'
import { openContentKey } from './purchase.ts'
import { AudioDeviceSink, type AudioSink, FileSink } from './sinks.ts'
import type { OpenedPlayback, PlayOptions, PlayResult, StopReason } from './types.ts'
import type { Uses } from './uses.ts'

/**
 * Playback: open a track under a licence (or its preview clip without one), fetch its segments from the swarm
 * (priority `now`, segment 0 alone first), verify and decrypt them in order as they arrive, and hand each chunk to a sink — counting the
 * play with its first audio and each second before it is heard, and cutting the audio where the licence stops.
 * Web streams (`streams.ts`) open and begin plays here too, and serve byte ranges themselves.
 */

const log = logger('consort:player:playback')

export class Playback {
  readonly #core: PlayerCore
  readonly #directory: ContentDirectory
  readonly #segments: SegmentsService
  readonly #uses: Uses
  readonly #prefetch: Prefetcher
  readonly #deliveries: DeliveryReceipts

  constructor(
    core: PlayerCore,
    directory: ContentDirectory,
    segments: SegmentsService,
    uses: Uses,
    prefetch: Prefetcher,
    deliveries: DeliveryReceipts,
  ) {
    this.#deliveries = deliveries
    this.#core = core
    this.#directory = directory
    this.#segments = segments
    this.#uses = uses
    this.#prefetch = prefetch
  }

  /**
   * Open a track for playback: the full track under a licence (counting a play), or its preview clip when the
   * device holds no licence for it. Returns the track, its key and the limits to stop at.
   */
  async open(content: string, options: { preview?: boolean; signal?: AbortSignal } = {}): Promise<OpenedPlayback> {
    const core = this.#core
    await core.checkStore()
    const manifest = await this.#directory.resolve(content, options.signal)
    const isrc = manifest.body.isrc
    const hasLicence = core.library.licencesFor(isrc).length > 0
    if (!hasLicence || options.preview === true) {
      const preview = previewTrack(manifest)
      if (preview === null) {
        throw new NoLicenceError(
          hasLicence
            ? `${isrc} has no preview clip`
            : `this device holds no licence for ${isrc} and it has no preview clip`,
        )
      }
      const rules = resolveRules({}, core.components.network.body.policy.ruleDefaults)
      const now = core.now()
      const clipSeconds = Math.ceil(preview.track.durationMs / 1000)
      const decision = evaluate(rules, initialUsageState(now), { kind: 'preview', seconds: clipSeconds }, now)
      const maxMs = decision.allow
        ? preview.track.durationMs
        : Math.min(preview.track.durationMs, (rules.previewSeconds ?? 0) * 1000)
      return {
        track: preview.track,
        key: Uint8Array.from(preview.key),
        mode: 'preview',
        held: null,
        event: this.#uses.newEvent('preview', isrc, null),
        maxMs,
        begun: true,
      }
    }
    // Which licence, and may it play now? Asked here; the play is counted with its first audio (`begin`).
    const held = await this.#uses.start(isrc, { kind: 'play' }, () => this.#uses.newEvent('play', isrc, null), {
      dryRun: true,
    })
    const track = fullTrack(manifest)
    const entry = held.record.body.keys.find((k) => k.isrc === isrc)
    if (entry !== undefined && !sameBytes(entry.keyId, track.keyId)) {
      throw new InvalidLicenceError(
        `the licence holds the key of another version of ${isrc}; fetch it again (consort licences --resync)`,
      )
    }
    const key = openContentKey(held.record, isrc, core.components.keys.sealing)
    return {
      track,
      key,
      mode: 'licensed',
      held,
      event: this.#uses.newEvent('play', isrc, held),
      maxMs: track.durationMs,
      begun: false,
    }
  }

  /**
   * Count an opened licensed play: called when its first audio has been fetched and decrypted, so that a play that
   * failed before (its segments never came) is no play — not counted against the licence, not reported. The rules are
   * asked again now (another play may have used the last one meanwhile).
   */
  async begin(opened: OpenedPlayback): Promise<void> {
    if (opened.held === null || opened.begun) return
    const isrc = opened.track.isrc
    const purchaseId = opened.held.purchaseId
    await this.#uses.start(
      isrc,
      { kind: 'play' },
      (h) => {
        opened.event = this.#uses.newEvent('play', isrc, h)
        return opened.event
      },
      { purchaseId },
    )
    opened.begun = true
  }

  /**
   * Play a track: fetch its segments from the swarm (priority "now"), verify and decrypt them in order as they
   * arrive, and hand each to the sink, checking the rules before each second is heard. Stops at the end, at
   * `seconds`, or where the licence stops (`playSeconds`, expiry, rental, revocation).
   */
  async play(content: string, options: PlayOptions = {}): Promise<PlayResult> {
    const started = performance.now()
    // The output is opened before anything is counted: a missing audio device or an unwritable file costs no play.
    const manifest = await this.#directory.resolve(content, options.signal)
    const sink: AudioSink =
      options.sink ??
      (options.out !== undefined ? await FileSink.open(options.out) : await AudioDeviceSink.open(manifest.body.codec))
    let opened: OpenedPlayback
    try {
      opened = await this.open(`isrc:${manifest.body.isrc}`, {
        ...(options.preview !== undefined ? { preview: options.preview } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      })
    } catch (err) {
      // Nothing was played (no licence and no preview, a revoked licence…): no empty output file stays behind.
      await (sink.discard?.() ?? sink.close()).catch(() => {})
      throw err
    }
    const { track, key, held } = opened
    let bytes = 0
    let countedSeconds = 0
    let firstAudioMs: number | null = null
    let stopped: StopReason = 'end'
    let limit: string | null = null
    const maxMs = Math.min(
      opened.maxMs,
      options.seconds !== undefined ? options.seconds * 1000 : Number.POSITIVE_INFINITY,
    )
    if (opened.mode === 'preview' && opened.maxMs < track.durationMs) limit = 'preview-too-long'
    // A licensed fetch is receipted for paid delivery; fetched again under the same licence it is a free re-download.
    const recorder = held !== null ? this.#deliveries.recorder(track.segments) : null
    const redownload = held !== null && (await this.#deliveries.isRedownload(held.record, track.manifest))
    // Segment 0 is asked for alone and the rest once it is in: the first audio waits for one block, not for a share
    // of every seeder's slots and of the process with the other 40 (issue 17: the licensed replay's tail).
    const fetch = this.#segments.fetch([...track.segments], {
      root: track.manifest.id,
      priority: 'now',
      leadIndex: 0,
      ...(recorder !== null ? { onProgress: recorder.onProgress } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    })
    try {
      let offset = 0
      for await (const block of fetch.blocks()) {
        if (options.signal?.aborted === true) {
          stopped = 'aborted'
          break
        }
        const plain = decryptTrackSegment(track, key, block.index, block.bytes)
        if (!opened.begun) await this.begin(opened)
        let chunk = plain
        let endMs = msAtByte(track, offset + plain.length)
        let last = false
        if (endMs > maxMs) {
          chunk = plain.subarray(0, Math.max(0, byteAtMs(track, maxMs) - offset))
          endMs = maxMs
          last = true
          if (maxMs < opened.maxMs || options.seconds !== undefined) stopped = 'seconds'
          else stopped = 'limit'
        }
        if (held !== null) {
          const wanted = Math.ceil(endMs / 1000) - countedSeconds
          const { counted, limit: hit } = await this.#uses.countSeconds(held.purchaseId, opened.event.eventId, wanted)
          countedSeconds += counted
          if (counted < wanted) {
            // The licence stops here: play only the seconds it still allowed.
            const allowedMs = Math.min(endMs, countedSeconds * 1000)
            chunk = chunk.subarray(0, Math.max(0, byteAtMs(track, allowedMs) - offset))
            endMs = allowedMs
            last = true
            stopped = 'limit'
            limit = hit
          }
        }
        if (chunk.length > 0) {
          await sink.write(chunk)
          if (firstAudioMs === null) {
            firstAudioMs = performance.now() - started
            options.onFirstAudio?.(firstAudioMs)
            this.#core.events.dispatchEvent(
              new CustomEvent('play:first-audio', { detail: { isrc: track.isrc, ms: firstAudioMs } }),
            )
          }
          bytes += chunk.length
        }
        offset += plain.length
        if (last) break
      }
    } catch (err) {
      if (bytes === 0) await sink.discard?.().catch(() => {})
      throw err
    } finally {
      key.fill(0)
      if (fetch.present < fetch.total) fetch.abort()
      if (recorder !== null && held !== null) {
        const summary = fetch.summary()
        await this.#deliveries.noteFetch(summary, recorder, held.record, track.manifest)
      }
      await sink.close().catch((err) => log.error('sink close failed: %e', err))
      const seconds = Math.ceil(msAtByte(track, bytes) / 1000)
      if (held === null) await this.#uses.notePreview({ ...opened.event, seconds })
      else if (opened.begun) await this.#uses.endPlay(opened.event.eventId)
    }
    return {
      content: `isrc:${track.isrc}`,
      isrc: track.isrc,
      title: track.manifest.body.title,
      mode: opened.mode,
      purchaseId: held?.purchaseId ?? null,
      eventId: opened.event.eventId,
      sink: sink.description,
      bytes,
      seconds: msAtByte(track, bytes) / 1000,
      firstAudioMs: firstAudioMs === null ? null : Math.round(firstAudioMs * 10) / 10,
      elapsedMs: Math.round(performance.now() - started),
      stopped,
      limit,
      remaining: held === null ? null : this.#uses.remainingOf(held.purchaseId),
      sources: sourcesOf(fetch.summary(), this.#prefetch.sourcesOf(track.isrc)),
      delivery:
        held === null
          ? null
          : {
              fetchedBytes: fetch.summary().bytesFetched,
              redownload: redownload && fetch.summary().fetched > 0,
              charged: 0,
            },
    }
  }
}

/** Where a play's blocks came from, per peer: its own fetch, and the prefetch after the purchase that preceded it. */
function sourcesOf(summary: FetchSummary, prefetch: FetchSummary | undefined): PlayResult['sources'] {
  const peers = new Map<string, { peer: string; bytes: number; bytesRelayed: number }>()
  for (const p of [...(prefetch?.peers ?? []), ...summary.peers]) {
    if (p.bytes === 0) continue
    const known = peers.get(p.peer) ?? { peer: p.peer, bytes: 0, bytesRelayed: 0 }
    known.bytes += p.bytes
    known.bytesRelayed += p.bytesRelayed
    peers.set(p.peer, known)
  }
  return { cachedBlocks: Math.max(0, summary.cached - (prefetch?.fetched ?? 0)), peers: [...peers.values()] }
}
