import { createCipheriv, createDecipheriv, hkdfSync, type KeyObject } from 'node:crypto'
import { assertBytes, bufferView, copyBytes } from './bytes.ts'
import { InvalidSealContextError, MalformedSealError, SealOpenError, WeakSealingKeyError } from './errors.ts'
import { withoutStackTraces } from './node-crypto.ts'
import { type Random, systemRandom } from './random.ts'
import {
  type SealingKeyPair,
  X25519_KEY_BYTES,
  x25519PrivateKeyObject,
  x25519RawPublicKey,
  x25519SharedSecret,
} from './x25519.ts'

/**
 * Sealed boxes: anonymous public-key encryption to one X25519 key (ephemeral X25519 + HKDF-SHA256 +
 * AES-256-GCM), bound to a context string that names what the box is for (`consort/licence/content-key`...),
 * so a box made for one purpose never opens as another. The wire format is specified in `keys/README.md`.
 */

/** The first byte of every sealed box this code writes. */
export const SEAL_VERSION = 1
/** HKDF info prefix; the context follows after a 0x00 byte. */
export const SEAL_DOMAIN = 'consort/v1/seal'
const HEADER_BYTES = 1 + X25519_KEY_BYTES
const KEY_BYTES = 32
const NONCE_BYTES = 12
const TAG_BYTES = 16
/** Bytes a sealed box adds to its plaintext: version, ephemeral public key, tag. */
export const SEAL_OVERHEAD_BYTES = HEADER_BYTES + TAG_BYTES

/** Longest context (UTF-8 bytes). Contexts are short fixed labels, optionally with an id; 256 leaves room for both. */
export const MAX_SEAL_CONTEXT_BYTES = 256
/**
 * Largest plaintext. Seals carry content keys (32 bytes) and batches of usage events; bulk data goes through
 * segment encryption. 16 MiB refuses a runaway allocation while leaving ample room for large usage batches.
 */
export const MAX_SEAL_PLAINTEXT_BYTES = 16 * 1024 * 1024

const DOMAIN_BYTES = new TextEncoder().encode(SEAL_DOMAIN)
const encoder = new TextEncoder()

function contextBytes(context: string): Uint8Array {
  if (typeof context !== 'string' || context.length === 0) {
    throw new InvalidSealContextError('seal context must be a non-empty string')
  }
  if (!context.isWellFormed()) {
    throw new InvalidSealContextError('seal context must be well-formed Unicode (it has a lone surrogate)')
  }
  const bytes = encoder.encode(context)
  if (bytes.length > MAX_SEAL_CONTEXT_BYTES) {
    throw new InvalidSealContextError(`seal context is ${bytes.length} bytes, at most ${MAX_SEAL_CONTEXT_BYTES}`)
  }
  return bytes
}

/** HKDF-SHA256 -> 32-byte AES key and 12-byte nonce. */
function deriveKeyAndNonce(
  shared: Uint8Array,
  ephemeralPublicKey: Uint8Array,
  recipientPublicKey: Uint8Array,
  context: Uint8Array,
): { key: Buffer; nonce: Buffer } {
  const salt = Buffer.concat([ephemeralPublicKey, recipientPublicKey])
  const info = Buffer.concat([DOMAIN_BYTES, Uint8Array.of(0), context])
  const okm = Buffer.from(withoutStackTraces(() => hkdfSync('sha256', shared, salt, info, KEY_BYTES + NONCE_BYTES)))
  return { key: okm.subarray(0, KEY_BYTES), nonce: okm.subarray(KEY_BYTES) }
}

/**
 * Seals `plaintext` to `recipientPublicKey` under `context`. Draws 32 bytes from `random` for the ephemeral
 * key. Output: version (1) || ephemeral public key (32) || ciphertext (plaintext.length) || tag (16).
 * Throws `InvalidByteLengthError`, `InvalidSealContextError`, `WeakSealingKeyError` (low-order recipient key).
 */
export function seal(
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  context: string,
  random: Random = systemRandom,
): Uint8Array {
  assertBytes('recipientPublicKey', recipientPublicKey, X25519_KEY_BYTES)
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('seal plaintext must be a Uint8Array')
  if (plaintext.length > MAX_SEAL_PLAINTEXT_BYTES) {
    throw new RangeError(`seal plaintext is ${plaintext.length} bytes, at most ${MAX_SEAL_PLAINTEXT_BYTES}`)
  }
  const ctx = contextBytes(context)
  const ephemeralPrivate = random.bytes(X25519_KEY_BYTES)
  const ephemeralKey = x25519PrivateKeyObject(ephemeralPrivate)
  ephemeralPrivate.fill(0)
  const ephemeralPublicKey = x25519RawPublicKey(ephemeralKey)
  const shared = x25519SharedSecret(ephemeralKey, recipientPublicKey)
  if (shared === undefined) throw new WeakSealingKeyError()
  const { key, nonce } = deriveKeyAndNonce(shared, ephemeralPublicKey, recipientPublicKey, ctx)
  shared.fill(0)

  const out = new Uint8Array(SEAL_OVERHEAD_BYTES + plaintext.length)
  out[0] = SEAL_VERSION
  out.set(ephemeralPublicKey, 1)
  const cipher = withoutStackTraces(() => createCipheriv('aes-256-gcm', key, nonce))
  cipher.setAAD(Buffer.concat([out.subarray(0, HEADER_BYTES), ctx]))
  const body = cipher.update(plaintext)
  const tail = cipher.final()
  out.set(body, HEADER_BYTES)
  out.set(tail, HEADER_BYTES + body.length)
  out.set(cipher.getAuthTag(), HEADER_BYTES + plaintext.length)
  key.fill(0)
  return out
}

/**
 * Opens sealed boxes addressed to one recipient. Its X25519 private key becomes a node:crypto KeyObject once:
 * building it costs about as much as the key agreement itself, and a clearinghouse opens one box per usage report.
 */
export class SealOpener {
  readonly #privateKey: KeyObject
  readonly #publicKey: Uint8Array

  /** Throws `InvalidByteLengthError` when a key is not 32 bytes. */
  constructor(recipient: SealingKeyPair) {
    assertBytes('recipient.publicKey', recipient.publicKey, X25519_KEY_BYTES)
    assertBytes('recipient.privateKey', recipient.privateKey, X25519_KEY_BYTES)
    this.#privateKey = x25519PrivateKeyObject(recipient.privateKey)
    this.#publicKey = copyBytes(recipient.publicKey)
  }

  /**
   * Opens a sealed box made by `seal` for this recipient under `context`.
   * Throws `MalformedSealError` (too short, too long, unknown version), `SealOpenError` (altered, another
   * recipient, another context, low-order ephemeral key), `InvalidSealContextError`.
   */
  open(sealed: Uint8Array, context: string): Uint8Array {
    if (!(sealed instanceof Uint8Array)) throw new MalformedSealError('sealed box must be a Uint8Array')
    if (sealed.length < SEAL_OVERHEAD_BYTES) {
      throw new MalformedSealError(`sealed box is ${sealed.length} bytes, at least ${SEAL_OVERHEAD_BYTES}`)
    }
    if (sealed.length > SEAL_OVERHEAD_BYTES + MAX_SEAL_PLAINTEXT_BYTES) {
      throw new MalformedSealError(
        `sealed box is ${sealed.length} bytes, at most ${SEAL_OVERHEAD_BYTES + MAX_SEAL_PLAINTEXT_BYTES}`,
      )
    }
    if (sealed[0] !== SEAL_VERSION) {
      throw new MalformedSealError(`sealed box version is ${sealed[0]}, only ${SEAL_VERSION} is known`)
    }
    const ctx = contextBytes(context)
    const ephemeralPublicKey = sealed.subarray(1, HEADER_BYTES)
    const shared = x25519SharedSecret(this.#privateKey, ephemeralPublicKey)
    if (shared === undefined) throw new SealOpenError('sealed box did not open: its ephemeral key is a low-order point')
    const { key, nonce } = deriveKeyAndNonce(shared, ephemeralPublicKey, this.#publicKey, ctx)
    shared.fill(0)

    const tagStart = sealed.length - TAG_BYTES
    const decipher = withoutStackTraces(() => createDecipheriv('aes-256-gcm', key, nonce))
    decipher.setAAD(Buffer.concat([sealed.subarray(0, HEADER_BYTES), ctx]))
    decipher.setAuthTag(bufferView(sealed.subarray(tagStart)))
    try {
      const body = decipher.update(sealed.subarray(HEADER_BYTES, tagStart))
      decipher.final()
      const plaintext = copyBytes(body)
      body.fill(0)
      return plaintext
    } catch (err) {
      throw new SealOpenError(undefined, { cause: err })
    } finally {
      key.fill(0)
    }
  }
}

/**
 * Opens a sealed box made by `seal` for `recipient` under `context` (once; `SealOpener` for many).
 * Throws `MalformedSealError` (too short, too long, unknown version), `SealOpenError` (altered, another
 * recipient, another context, low-order ephemeral key), `InvalidByteLengthError`, `InvalidSealContextError`.
 */
export function open(recipient: SealingKeyPair, sealed: Uint8Array, context: string): Uint8Array {
  return new SealOpener(recipient).open(sealed, context)
}
