import { createCipheriv, createDecipheriv, webcrypto } from 'node:crypto'

type CipherKey = webcrypto.CryptoKey

import { assertBytes, bufferView } from './bytes.ts'
import { InvalidSegmentIndexError, InvalidSegmentSizeError, SegmentAuthenticationError } from './errors.ts'
import { withoutStackTraces } from './node-crypto.ts'
import { type Random, systemRandom } from './random.ts'

/**
 * Content keys and segment encryption. Each track has a fresh 256-bit content key; segment `i` is encrypted with
 * AES-256-GCM under it with nonce = i (96-bit big-endian) and associated data = key id || i (64-bit big-endian).
 * Since a content key is never reused across tracks and each index is encrypted once, no nonce repeats under a
 * key. The layout is specified in `keys/README.md`.
 */

export const CONTENT_KEY_BYTES = 32
export const KEY_ID_BYTES = 16
export const SEGMENT_NONCE_BYTES = 12
export const SEGMENT_TAG_BYTES = 16
/** Associated data: key id, then the index as 8 bytes big-endian. */
export const SEGMENT_AAD_BYTES = KEY_ID_BYTES + 8
/**
 * Largest plaintext segment. Manifests use 256 KiB segments by default; 64 MiB stays far above any sensible
 * segment size while refusing a runaway allocation (AES-GCM itself allows ~64 GiB per nonce).
 */
export const MAX_SEGMENT_BYTES = 64 * 1024 * 1024

/** A fresh 32-byte content key. */
export function generateContentKey(random: Random = systemRandom): Uint8Array {
  return random.bytes(CONTENT_KEY_BYTES)
}

/** A fresh 16-byte key id (names a content key in manifests, escrows and licences without revealing it). */
export function generateKeyId(random: Random = systemRandom): Uint8Array {
  return random.bytes(KEY_ID_BYTES)
}

/**
 * Checks a content key (32 bytes) and key id (16 bytes) before segments are sealed elsewhere (packaging's worker
 * threads), so a bad one is refused here by the same `InvalidByteLengthError` `encryptSegment` throws.
 */
export function assertSegmentKeys(contentKey: unknown, keyId: unknown): void {
  assertBytes('contentKey', contentKey, CONTENT_KEY_BYTES)
  assertBytes('keyId', keyId, KEY_ID_BYTES)
}

function assertIndex(index: number): void {
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw new InvalidSegmentIndexError(index)
}

/** Writes `index` as an unsigned 64-bit big-endian integer at `offset` (index is a safe integer, < 2^53). */
function writeIndex(view: DataView, offset: number, index: number): void {
  view.setUint32(offset, Math.floor(index / 2 ** 32))
  view.setUint32(offset + 4, index >>> 0)
}

function segmentNonce(index: number): Buffer {
  const nonce = Buffer.alloc(SEGMENT_NONCE_BYTES)
  writeIndex(new DataView(nonce.buffer, nonce.byteOffset, nonce.byteLength), SEGMENT_NONCE_BYTES - 8, index)
  return nonce
}

function segmentAad(keyId: Uint8Array, index: number): Buffer {
  const aad = Buffer.alloc(SEGMENT_AAD_BYTES)
  aad.set(keyId, 0)
  writeIndex(new DataView(aad.buffer, aad.byteOffset, aad.byteLength), KEY_ID_BYTES, index)
  return aad
}

/**
 * Encrypts segment `index` of a track: returns ciphertext || 16-byte tag (plaintext.length + 16 bytes).
 * Throws `InvalidByteLengthError` (key, key id), `InvalidSegmentIndexError`, `InvalidSegmentSizeError`.
 */
export function encryptSegment(
  contentKey: Uint8Array,
  keyId: Uint8Array,
  index: number,
  plaintext: Uint8Array,
): Uint8Array {
  checkSegment(contentKey, keyId, index, plaintext)
  const out = new Uint8Array(plaintext.length + SEGMENT_TAG_BYTES)
  sealInto(contentKey, keyId, index, plaintext, out)
  return out
}

/**
 * What `encryptSegment` gives, written into `out` (exactly plaintext.length + 16 bytes, which may be a view into a
 * larger buffer): packaging's worker threads seal a run of segments into one buffer they hand over whole
 * (docs/decisions/0201). `out` must not overlap `plaintext`. Throws what `encryptSegment` throws.
 */
export function encryptSegmentInto(
  contentKey: Uint8Array,
  keyId: Uint8Array,
  index: number,
  plaintext: Uint8Array,
  out: Uint8Array,
): void {
  checkSegment(contentKey, keyId, index, plaintext)
  assertBytes('out', out, plaintext.length + SEGMENT_TAG_BYTES)
  sealInto(contentKey, keyId, index, plaintext, out)
}

function checkSegment(contentKey: Uint8Array, keyId: Uint8Array, index: number, plaintext: Uint8Array): void {
  assertBytes('contentKey', contentKey, CONTENT_KEY_BYTES)
  assertBytes('keyId', keyId, KEY_ID_BYTES)
  assertIndex(index)
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('segment plaintext must be a Uint8Array')
  if (plaintext.length > MAX_SEGMENT_BYTES) {
    throw new InvalidSegmentSizeError(`segment ${index} is ${plaintext.length} bytes, at most ${MAX_SEGMENT_BYTES}`)
  }
}

/** AES-256-GCM of a checked segment: ciphertext, then the tag, into `out`. */
function sealInto(contentKey: Uint8Array, keyId: Uint8Array, index: number, plaintext: Uint8Array, out: Uint8Array) {
  const cipher = withoutStackTraces(() => createCipheriv('aes-256-gcm', contentKey, segmentNonce(index)))
  cipher.setAAD(segmentAad(keyId, index))
  const body = cipher.update(plaintext)
  const tail = cipher.final()
  out.set(body, 0)
  out.set(tail, body.length)
  out.set(cipher.getAuthTag(), plaintext.length)
}

/** A track's content key as a WebCrypto key, for `encryptSegmentOffThread` (import it once per track). */
export async function segmentCipherKey(contentKey: Uint8Array): Promise<CipherKey> {
  assertBytes('contentKey', contentKey, CONTENT_KEY_BYTES)
  return webcrypto.subtle.importKey('raw', contentKey, 'AES-GCM', false, ['encrypt'])
}

/**
 * What `encryptSegment` gives, byte for byte, computed on libuv's thread pool (WebCrypto's AES-256-GCM) while this
 * thread does other work: the block (ciphertext || tag) comes back in one buffer of its own, where `encryptSegment`
 * allocates the cipher's output and copies it into a second one. Packaging seals a track's segments this way on
 * every core (docs/decisions/0109). Throws what `encryptSegment` throws.
 */
export async function encryptSegmentOffThread(
  key: CipherKey,
  keyId: Uint8Array,
  index: number,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  assertBytes('keyId', keyId, KEY_ID_BYTES)
  assertIndex(index)
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('segment plaintext must be a Uint8Array')
  if (plaintext.length > MAX_SEGMENT_BYTES) {
    throw new InvalidSegmentSizeError(`segment ${index} is ${plaintext.length} bytes, at most ${MAX_SEGMENT_BYTES}`)
  }
  const sealed = await webcrypto.subtle.encrypt(
    { name: 'AES-GCM', iv: segmentNonce(index), additionalData: segmentAad(keyId, index), tagLength: 128 },
    key,
    plaintext,
  )
  return new Uint8Array(sealed)
}

/**
 * Decrypts what `encryptSegment` made. Throws `SegmentAuthenticationError` if the tag does not verify (wrong
 * content key, key id or index, any altered byte), `InvalidSegmentSizeError` if it is shorter than the tag.
 */
export function decryptSegment(
  contentKey: Uint8Array,
  keyId: Uint8Array,
  index: number,
  ciphertext: Uint8Array,
): Uint8Array {
  assertBytes('contentKey', contentKey, CONTENT_KEY_BYTES)
  assertBytes('keyId', keyId, KEY_ID_BYTES)
  assertIndex(index)
  if (!(ciphertext instanceof Uint8Array)) throw new TypeError('segment ciphertext must be a Uint8Array')
  if (ciphertext.length < SEGMENT_TAG_BYTES) {
    throw new InvalidSegmentSizeError(
      `encrypted segment ${index} is ${ciphertext.length} bytes, shorter than its ${SEGMENT_TAG_BYTES}-byte tag`,
    )
  }
  if (ciphertext.length > MAX_SEGMENT_BYTES + SEGMENT_TAG_BYTES) {
    throw new InvalidSegmentSizeError(
      `encrypted segment ${index} is ${ciphertext.length} bytes, at most ${MAX_SEGMENT_BYTES + SEGMENT_TAG_BYTES}`,
    )
  }
  const bodyLength = ciphertext.length - SEGMENT_TAG_BYTES
  const decipher = withoutStackTraces(() => createDecipheriv('aes-256-gcm', contentKey, segmentNonce(index)))
  decipher.setAAD(segmentAad(keyId, index))
  decipher.setAuthTag(bufferView(ciphertext.subarray(bodyLength)))
  const out = new Uint8Array(bodyLength)
  try {
    const body = decipher.update(ciphertext.subarray(0, bodyLength))
    out.set(body, 0)
    const tail = decipher.final()
    out.set(tail, body.length)
  } catch (err) {
    out.fill(0)
    throw new SegmentAuthenticationError(index, { cause: err })
  }
  return out
}
