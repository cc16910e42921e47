import { createHash, hash } from 'node:crypto'
import type { AbortOptions } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { type Random, systemRandom } from '../../../keys/random.ts'
import {
  assertSegmentKeys,
  decryptSegment,
  encryptSegmentOffThread,
  generateContentKey,
  generateKeyId,
  segmentCipherKey,
} from '../../../keys/segments.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import {
  MAX_SEGMENT_BYTES,
  MAX_SEGMENTS,
  type ManifestBody,
  MIN_SEGMENT_BYTES,
} from '../../../protocols/records/types/manifest.ts'
import { type Clip, cutClip, type ScannedAudio } from '../audio/index.ts'
import { SegmentLayoutError, SegmentReadError } from './errors.ts'
import type { SealedRun, SealJob, SealPool } from './seal-pool.ts'

export * from './errors.ts'
export { MAX_SEAL_WORKERS, SealPool, type SealPoolInit } from './seal-pool.ts'

/**
 * Packaging: audio in, encrypted segments out. The plaintext is cut into fixed-size segments; segment i is sealed
 * with AES-256-GCM under the track's content key (nonce i, associated data key id || i, `keys/segments.ts`) and
 * stored as a raw block named by the SHA-256 of its ciphertext. With a `SealPool`, worker threads on every core seal
 * and hash runs of segments and the calling thread names and stores the blocks (docs/decisions/0201); without one,
 * AES runs on libuv's thread pool and SHA-256 on the calling thread (0109). Either way each block is made once, in a
 * buffer of its own, and stored as it is; the blocks and their CIDs are the same bytes both ways.
 */

/** The default plaintext segment: 256 KiB (DESIGN.md), a second or two of lossless audio. */
export const DEFAULT_SEGMENT_BYTES = 256 * 1024
/** The part of a Helia blockstore packaging writes to. */
export interface SegmentStore {
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<unknown> | unknown
}

/** The part of a Helia blockstore packaging reads back from. */
export interface SegmentSource {
  get(cid: CID, options?: AbortOptions & { offline?: boolean }): AsyncIterable<Uint8Array> | Iterable<Uint8Array>
}

export interface PackagingProgress {
  segment: number
  segments: number
}

export interface StoreSegmentsOptions extends AbortOptions {
  onSegment?(progress: PackagingProgress): void
  /**
   * Worker threads that seal and hash (decision 0201; the production role's). Without one, or where it has no
   * threads, or for a track of a single run, segments are sealed as decision 0109 says: AES on libuv's thread pool,
   * SHA-256 on the calling thread.
   */
  pool?: SealPool
}

/** The CID of a raw block (CIDv1, raw, sha2-256). */
export function rawBlockCid(bytes: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(sha256.code, createHash('sha256').update(bytes).digest()))
}

/** Check a segment size and the number of segments `byteSize` needs at it. */
export function segmentCount(byteSize: number, segmentSize: number): number {
  if (!Number.isSafeInteger(segmentSize) || segmentSize < MIN_SEGMENT_BYTES || segmentSize > MAX_SEGMENT_BYTES) {
    throw new SegmentLayoutError(
      `segment size ${segmentSize} is outside ${MIN_SEGMENT_BYTES}..${MAX_SEGMENT_BYTES} bytes`,
    )
  }
  const count = Math.ceil(byteSize / segmentSize)
  if (count < 1) throw new SegmentLayoutError('nothing to package: 0 bytes')
  if (count > MAX_SEGMENTS) {
    throw new SegmentLayoutError(
      `${byteSize} bytes need ${count} segments of ${segmentSize} bytes, a manifest lists at most ${MAX_SEGMENTS}`,
    )
  }
  return count
}

/** The CID of a raw block from its SHA-256 digest. */
function cidOfDigest(digest: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(sha256.code, digest))
}

/**
 * Segments sealed at once: each lane hands one segment's AES to libuv's thread pool (four threads unless
 * UV_THREADPOOL_SIZE says otherwise) and hashes the one it got back on this thread, so four keep the pool and this
 * thread busy without queueing more than a megabyte of plaintext ahead of the file system's own requests.
 */
export const SEAL_LANES = 4

/**
 * Encrypt `plaintext` segment by segment under `contentKey` and store each as a raw block; the CIDs in order.
 * With `options.pool` (and more than one run of segments), worker threads seal and hash (`storeWithPool`);
 * otherwise `SEAL_LANES` segments are in flight: AES-256-GCM on libuv's thread pool (`encryptSegmentOffThread`, the
 * bytes of `encryptSegment`), the SHA-256 that names the block here, then the write, in order of completion.
 */
export async function storeEncryptedSegments(
  store: SegmentStore,
  contentKey: Uint8Array,
  keyId: Uint8Array,
  plaintext: Uint8Array,
  segmentSize: number,
  options: StoreSegmentsOptions = {},
): Promise<CID[]> {
  const count = segmentCount(plaintext.length, segmentSize)
  const pool = options.pool
  // A track of one run is sealed here: starting (or waking) workers would cost more than it saves.
  if (pool !== undefined && count > pool.runSegments(segmentSize) && pool.available) {
    assertSegmentKeys(contentKey, keyId)
    return storeWithPool(store, pool, pool.job(contentKey, keyId, plaintext, segmentSize), count, options)
  }
  const key = await segmentCipherKey(contentKey)
  const cids: CID[] = new Array(count)
  let stored = 0
  let next = 0
  let failure: unknown
  const lane = async () => {
    while (next < count && failure === undefined) {
      options.signal?.throwIfAborted()
      const i = next++
      const block = await encryptSegmentOffThread(
        key,
        keyId,
        i,
        plaintext.subarray(i * segmentSize, (i + 1) * segmentSize),
      )
      const cid = cidOfDigest(hash('sha256', block, 'buffer'))
      cids[i] = cid
      await store.put(cid, block, options)
      options.onSegment?.({ segment: ++stored, segments: count })
    }
  }
  await Promise.all(
    Array.from({ length: Math.min(SEAL_LANES, count) }, () =>
      lane().catch((err) => {
        failure ??= err
      }),
    ),
  )
  if (failure !== undefined) throw failure
  return cids
}

/**
 * The track's segments sealed and hashed on the pool's workers, `pool.depth` runs asked for at once; each run's
 * blocks are named from their digests here and written in index order within the run, runs in order of completion.
 */
async function storeWithPool(
  store: SegmentStore,
  pool: SealPool,
  job: SealJob,
  count: number,
  options: StoreSegmentsOptions,
): Promise<CID[]> {
  const perRun = pool.runSegments(job.segmentSize)
  const runs = Math.ceil(count / perRun)
  const cids: CID[] = new Array(count)
  let stored = 0
  let next = 0
  let failure: unknown
  const lane = async () => {
    try {
      while (next < runs && failure === undefined) {
        options.signal?.throwIfAborted()
        const first = next++ * perRun
        const sealed: SealedRun = await pool.seal(job, first, Math.min(perRun, count - first))
        for (const [n, block] of sealed.blocks.entries()) {
          // Another lane failed or the caller gave up: nothing more is written.
          if (failure !== undefined) return
          options.signal?.throwIfAborted()
          const cid = cidOfDigest(sealed.digests.subarray(32 * n, 32 * (n + 1)))
          cids[first + n] = cid
          await store.put(cid, block, options)
          options.onSegment?.({ segment: ++stored, segments: count })
        }
      }
    } catch (err) {
      failure ??= err
    }
  }
  await Promise.all(Array.from({ length: Math.min(pool.depth, runs) }, lane))
  if (failure !== undefined) throw failure
  return cids
}

/** A track's encrypted segments and the key material that opens them. */
export interface EncryptedAudio {
  contentKey: Uint8Array
  keyId: Uint8Array
  segments: CID[]
  byteSize: number
  segmentSize: number
}

export interface PackageAudioOptions extends StoreSegmentsOptions {
  segmentSize?: number
  random?: Random
  /** Reuse this key (an update whose audio did not change); default: a fresh key and key id. */
  key?: { contentKey: Uint8Array; keyId: Uint8Array }
}

/** Package a whole recording under its own (fresh unless given) content key. */
export async function packageAudio(
  store: SegmentStore,
  plaintext: Uint8Array,
  options: PackageAudioOptions = {},
): Promise<EncryptedAudio> {
  const random = options.random ?? systemRandom
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_BYTES
  const contentKey = options.key?.contentKey ?? generateContentKey(random)
  const keyId = options.key?.keyId ?? generateKeyId(random)
  const segments = await storeEncryptedSegments(store, contentKey, keyId, plaintext, segmentSize, options)
  return { contentKey, keyId, segments, byteSize: plaintext.length, segmentSize }
}

export type PreviewFields = NonNullable<ManifestBody['preview']>

/**
 * Cut the clip out of the recording as a playable file of its own and package it under a fresh key that the
 * manifest publishes: anyone may play the preview, and since it is a separate file under a separate key it opens
 * nothing of the rest of the recording.
 */
export async function packagePreview(
  store: SegmentStore,
  scanned: ScannedAudio,
  clip: { startMs: number; durationMs: number },
  options: PackageAudioOptions = {},
): Promise<{ fields: PreviewFields; clip: Clip }> {
  const cut = cutClip(scanned, clip.startMs, clip.durationMs)
  const packaged = await packageAudio(store, cut.bytes, { ...options, key: undefined })
  return {
    clip: cut,
    fields: {
      startMs: cut.startMs,
      durationMs: cut.durationMs,
      codec: cut.codec,
      mime: cut.mime,
      byteSize: packaged.byteSize,
      keyId: packaged.keyId,
      key: packaged.contentKey,
      segments: packaged.segments,
    },
  }
}

/**
 * Fetch and decrypt segments in order and join them: what a licensed player does with the content key, and what
 * anyone does with a manifest's preview key. Each block is checked against its CID before it is opened.
 */
export async function readSegments(
  source: SegmentSource,
  segments: readonly CID[],
  contentKey: Uint8Array,
  keyId: Uint8Array,
  options: AbortOptions & { offline?: boolean } = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for (const [i, cid] of segments.entries()) {
    let block: Uint8Array
    try {
      block = await collectBlock(source.get(cid, options))
    } catch (err) {
      throw new SegmentReadError(`segment ${i} (${cid}) could not be read: ${(err as Error).message}`, { cause: err })
    }
    if (!rawBlockCid(block).equals(cid)) throw new SegmentReadError(`segment ${i} does not match its CID ${cid}`)
    let plain: Uint8Array
    try {
      plain = decryptSegment(contentKey, keyId, i, block)
    } catch (err) {
      throw new SegmentReadError(`segment ${i} does not decrypt under this key`, { cause: err })
    }
    parts.push(plain)
    length += plain.length
  }
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
