import { createHash } from 'node:crypto'
import type { AbortOptions } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { type Random, systemRandom } from '../../../keys/random.ts'
import { decryptSegment, encryptSegment, generateContentKey, generateKeyId } from '../../../keys/segments.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import {
  MAX_SEGMENT_BYTES,
  MAX_SEGMENTS,
  type ManifestBody,
  MIN_SEGMENT_BYTES,
} from '../../../protocols/records/types/manifest.ts'
import { type Clip, cutClip, type ScannedAudio } from '../audio/index.ts'
import { SegmentLayoutError, SegmentReadError } from './errors.ts'
import { SealPool, sealRunHere } from './seal-pool.ts'

export * from './errors.ts'

/**
 * Packaging: audio in, encrypted segments out. The plaintext is cut into fixed-size segments; segment i is sealed
 * with AES-256-GCM under the track's content key (nonce i, associated data key id || i, `keys/segments.ts`) and
 * stored as a raw block named by the SHA-256 of its ciphertext. Sealing and hashing run on every core (worker
 * threads over runs of segments); each ciphertext is made once, in a buffer of its own, and stored as it is.
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

/** Plaintext bytes a worker seals per message: large enough that messaging costs little, small enough to spread. */
export const RUN_BYTES = 1024 * 1024

let sharedPool: SealPool | undefined
/** The process's packaging workers (started on first use). */
export function sealPool(): SealPool {
  sharedPool ??= new SealPool()
  return sharedPool
}

/**
 * Encrypt `plaintext` segment by segment under `contentKey` and store each as a raw block; the CIDs in order.
 * Runs of consecutive segments (about `RUN_BYTES`) are sealed and hashed on the packaging workers, every core at
 * once (`seal-pool.ts`, docs/decisions/0108); this thread names each ciphertext and writes it to the store, in
 * order of completion, with at most `RUNS_PER_WORKER` runs per worker between the workers and the store. A track of a single run
 * is sealed here: starting a worker would cost more.
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
  const cids: CID[] = new Array(count)
  const perRun = Math.max(1, Math.floor(RUN_BYTES / segmentSize))
  const runs = Math.ceil(count / perRun)
  const pool = runs > 1 ? sealPool() : undefined
  let stored = 0
  let next = 0
  let failure: unknown
  const lane = async () => {
    while (next < runs && failure === undefined) {
      options.signal?.throwIfAborted()
      const first = next++ * perRun
      const bytes = plaintext.subarray(first * segmentSize, Math.min(count, first + perRun) * segmentSize)
      const sealed =
        pool === undefined
          ? sealRunHere(contentKey, keyId, first, bytes, segmentSize)
          : await pool.seal(contentKey, keyId, first, bytes, segmentSize)
      for (const [k, ciphertext] of sealed.ciphertexts.entries()) {
        const cid = cidOfDigest(sealed.digests[k]!)
        cids[first + k] = cid
        await store.put(cid, ciphertext, options)
        options.onSegment?.({ segment: ++stored, segments: count })
      }
    }
  }
  const lanes = pool === undefined ? 1 : pool.depth
  await Promise.all(
    Array.from({ length: lanes }, () =>
      lane().catch((err) => {
        failure ??= err
      }),
    ),
  )
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
