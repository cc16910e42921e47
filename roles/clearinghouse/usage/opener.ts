/**
 * Opens sealed boxes (format version 1, specified in keys/README.md) addressed to this clearinghouse, with its
 * X25519 private key turned into a node:crypto KeyObject once instead of once per box. `keys/seal.ts` `open` builds
 * that KeyObject on every call, which costs about as much as an Ed25519 verification (measured here: 86 µs of a
 * 200 µs open); a clearinghouse opens one box per usage report, so on the ingest path this halves the cost of
 * opening. Same format, same checks, same errors (`MalformedSealError`, `InvalidSealContextError`, `SealOpenError`);
 * the tests check it against `keys/seal.ts` in both directions. See docs/decisions/0503.
 */
import {
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
} from 'node:crypto'
import {
  InvalidSealContextError,
  MAX_SEAL_CONTEXT_BYTES,
  MAX_SEAL_PLAINTEXT_BYTES,
  MalformedSealError,
  SEAL_DOMAIN,
  SEAL_OVERHEAD_BYTES,
  SEAL_VERSION,
  type SealingKeyPair,
  SealOpenError,
} from '../../../keys/index.ts'

const KEY_BYTES = 32
const NONCE_BYTES = 12
const TAG_BYTES = 16
const HEADER_BYTES = 1 + KEY_BYTES
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const DOMAIN = Buffer.from(SEAL_DOMAIN)
const ZERO = Buffer.of(0)
const encoder = new TextEncoder()

export class SealOpener {
  readonly #privateKey: KeyObject
  readonly #publicKey: Buffer

  constructor(pair: SealingKeyPair) {
    if (pair.privateKey.length !== KEY_BYTES || pair.publicKey.length !== KEY_BYTES) {
      throw new TypeError('a sealing key pair has 32-byte keys')
    }
    const der = Buffer.concat([X25519_PKCS8_PREFIX, pair.privateKey])
    try {
      this.#privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    } finally {
      der.fill(0)
    }
    this.#publicKey = Buffer.from(pair.publicKey)
  }

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
    if (typeof context !== 'string' || context.length === 0 || !context.isWellFormed()) {
      throw new InvalidSealContextError('seal context must be a non-empty, well-formed string')
    }
    const ctx = encoder.encode(context)
    if (ctx.length > MAX_SEAL_CONTEXT_BYTES) {
      throw new InvalidSealContextError(`seal context is ${ctx.length} bytes, at most ${MAX_SEAL_CONTEXT_BYTES}`)
    }
    const view = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
    const ephemeral = view.subarray(1, HEADER_BYTES)
    let shared: Buffer
    try {
      const publicKey = createPublicKey({
        key: Buffer.concat([X25519_SPKI_PREFIX, ephemeral]),
        format: 'der',
        type: 'spki',
      })
      shared = diffieHellman({ privateKey: this.#privateKey, publicKey })
    } catch {
      throw new SealOpenError('sealed box did not open: its ephemeral key is a low-order point')
    }
    if (shared.length !== KEY_BYTES || shared.every((b) => b === 0)) {
      throw new SealOpenError('sealed box did not open: its ephemeral key is a low-order point')
    }
    const okm = Buffer.from(
      hkdfSync(
        'sha256',
        shared,
        Buffer.concat([ephemeral, this.#publicKey]),
        Buffer.concat([DOMAIN, ZERO, ctx]),
        KEY_BYTES + NONCE_BYTES,
      ),
    )
    shared.fill(0)
    const tagStart = view.length - TAG_BYTES
    const decipher = createDecipheriv('aes-256-gcm', okm.subarray(0, KEY_BYTES), okm.subarray(KEY_BYTES))
    decipher.setAAD(Buffer.concat([view.subarray(0, HEADER_BYTES), ctx]))
    decipher.setAuthTag(view.subarray(tagStart))
    try {
      const body = decipher.update(view.subarray(HEADER_BYTES, tagStart))
      decipher.final()
      return new Uint8Array(body)
    } catch (err) {
      throw new SealOpenError(undefined, { cause: err })
    } finally {
      okm.fill(0)
    }
  }
}
