import { createCipheriv, createDecipheriv, createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import { assertBytes, bufferView, copyBytes } from './bytes.ts'
import { InvalidSealContextError, MalformedSealError, SealOpenError, WeakSealingKeyError } from './errors.ts'
import { Lru } from './lru.ts'
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
export const SEAL_VERSION = 1 as const
/** HKDF info prefix; the context follows after a 0x00 byte. */
export const SEAL_DOMAIN = 'consort/v1/seal'
const HEADER_BYTES = 1 + X25519_KEY_BYTES
const NONCE_BYTES = 12
const TAG_BYTES = 16
/** Bytes a sealed box adds to its plaintext: version, ephemeral public key, tag. */
export const SEAL_OVERHEAD_BYTES = HEADER_BYTES + TAG_BYTES
/** The first byte of a box sealed in a session (`SealSession`): one key per session, the box's number in the nonce. */
export const SEAL_SESSION_VERSION = 2 as const
/** HKDF info of a session's key and nonce base (no context: each box's context is bound by the associated data). */
export const SEAL_SESSION_DOMAIN = 'consort/v1/seal-session'
const BOX_NUMBER_BYTES = 4
const SESSION_HEADER_BYTES = HEADER_BYTES + BOX_NUMBER_BYTES
/** Bytes a session's box adds to its plaintext: version, ephemeral public key, box number, tag. */
export const SEAL_SESSION_OVERHEAD_BYTES = SESSION_HEADER_BYTES + TAG_BYTES
/** Boxes one session key may seal: its box number is 32 bits. */
const MAX_SESSION_BOX_NUMBER = 2 ** 32 - 1
/** The box versions this code writes and opens (keys/README.md). */
export type SealBoxVersion = typeof SEAL_VERSION | typeof SEAL_SESSION_VERSION
/** Every box version this code opens, oldest first. */
export const SEAL_BOX_VERSIONS: readonly SealBoxVersion[] = [SEAL_VERSION, SEAL_SESSION_VERSION]

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

/**
 * HKDF-SHA256 (RFC 5869) in its two steps. Extract: `PRK = HMAC(salt = E ‖ R, S)`, one per pair of keys — a sealing
 * session (`SealSession`, `SealOpener`'s session cache) does it once for all its boxes. Expand, per box of version 1:
 * `T1 = HMAC(PRK, info ‖ 0x01)`, `T2 = HMAC(PRK, T1 ‖ info ‖ 0x02)`, `okm = (T1 ‖ T2)[0..44]` with
 * `info = "consort/v1/seal" ‖ 0x00 ‖ ctx`: the 32-byte AES key and the 12-byte nonce. Byte for byte what node:crypto's
 * `hkdfSync('sha256', S, E ‖ R, info, 44)` gives (tested); the PRK is a secret KeyObject so that neither HMAC makes
 * Node's key checks throw.
 */
function extract(shared: Uint8Array, ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): KeyObject {
  const prk = createHmac('sha256', Buffer.concat([ephemeralPublicKey, recipientPublicKey]))
    .update(shared)
    .digest()
  try {
    return createSecretKey(prk)
  } finally {
    prk.fill(0)
  }
}

const COUNTER_1 = Uint8Array.of(1)
const COUNTER_2 = Uint8Array.of(2)
const SESSION_INFO = new TextEncoder().encode(SEAL_SESSION_DOMAIN)

function expand(prk: KeyObject, context: Uint8Array): { key: KeyObject; nonce: Buffer } {
  return expandInfo(prk, Buffer.concat([DOMAIN_BYTES, Uint8Array.of(0), context]))
}

/**
 * A session's key and nonce base: `okm = HKDF-Expand(PRK, "consort/v1/seal-session" ‖ 0x00, 44)`, once per `(E, R)`
 * (decision 0515). The info differs from every box's of version 1 (`"consort/v1/seal" ‖ 0x00 ‖ ctx`) at its 16th byte,
 * so neither derivation ever gives the other's key.
 */
function sessionKeys(prk: KeyObject): SessionKeys {
  const { key, nonce } = expandInfo(prk, Buffer.concat([SESSION_INFO, Uint8Array.of(0)]))
  return { key, nonceBase: Buffer.from(nonce) }
}

/** A session's AES-256-GCM key and the 12 bytes each box's nonce is made from (the box number XORed into the last 4). */
interface SessionKeys {
  key: KeyObject
  nonceBase: Buffer
}

function sessionNonce(base: Buffer, boxNumber: number): Buffer {
  const nonce = Buffer.from(base)
  nonce.writeUInt32BE((base.readUInt32BE(8) ^ boxNumber) >>> 0, 8)
  return nonce
}

function expandInfo(prk: KeyObject, info: Buffer): { key: KeyObject; nonce: Buffer } {
  const t1 = createHmac('sha256', prk).update(info).update(COUNTER_1).digest()
  const t2 = createHmac('sha256', prk).update(t1).update(info).update(COUNTER_2).digest()
  try {
    return { key: createSecretKey(t1), nonce: t2.subarray(0, NONCE_BYTES) }
  } finally {
    t1.fill(0)
  }
}

/** Seal with a PRK already extracted for `(E, R)`: the whole box, version ‖ E ‖ ciphertext ‖ tag. */
function sealWith(prk: KeyObject, ephemeralPublicKey: Uint8Array, plaintext: Uint8Array, ctx: Uint8Array): Uint8Array {
  const { key, nonce } = expand(prk, ctx)
  const out = new Uint8Array(SEAL_OVERHEAD_BYTES + plaintext.length)
  out[0] = SEAL_VERSION
  out.set(ephemeralPublicKey, 1)
  return encryptAfterHeader(out, HEADER_BYTES, key, nonce, plaintext, ctx)
}

/**
 * AES-256-GCM over `plaintext` into `out` after its `headerBytes` (already written), then the tag; the header and the
 * context are the associated data. Both box versions lay out a box so.
 */
function encryptAfterHeader(
  out: Uint8Array,
  headerBytes: number,
  key: Parameters<typeof createCipheriv>[1],
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ctx: Uint8Array,
): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(Buffer.concat([out.subarray(0, headerBytes), ctx]))
  const body = cipher.update(plaintext)
  const tail = cipher.final()
  out.set(body, headerBytes)
  out.set(tail, headerBytes + body.length)
  out.set(cipher.getAuthTag(), headerBytes + plaintext.length)
  return out
}

/** Seal one box of a session: version 2 ‖ E ‖ box number ‖ ciphertext ‖ tag, the context in the associated data. */
function sealInSession(
  keys: SessionKeys,
  ephemeralPublicKey: Uint8Array,
  boxNumber: number,
  plaintext: Uint8Array,
  ctx: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(SEAL_SESSION_OVERHEAD_BYTES + plaintext.length)
  out[0] = SEAL_SESSION_VERSION
  out.set(ephemeralPublicKey, 1)
  new DataView(out.buffer).setUint32(HEADER_BYTES, boxNumber)
  const nonce = sessionNonce(keys.nonceBase, boxNumber)
  return encryptAfterHeader(out, SESSION_HEADER_BYTES, keys.key, nonce, plaintext, ctx)
}

function checkPlaintext(plaintext: Uint8Array): void {
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('seal plaintext must be a Uint8Array')
  if (plaintext.length > MAX_SEAL_PLAINTEXT_BYTES) {
    throw new RangeError(`seal plaintext is ${plaintext.length} bytes, at most ${MAX_SEAL_PLAINTEXT_BYTES}`)
  }
}

/** A fresh ephemeral key pair: its private KeyObject and raw public key (32 bytes drawn from `random`). */
function ephemeralKeyPair(random: Random): { privateKey: KeyObject; publicKey: Uint8Array } {
  const ephemeralPrivate = random.bytes(X25519_KEY_BYTES)
  const privateKey = x25519PrivateKeyObject(ephemeralPrivate)
  ephemeralPrivate.fill(0)
  return { privateKey, publicKey: x25519RawPublicKey(privateKey) }
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
  checkPlaintext(plaintext)
  const ctx = contextBytes(context)
  const ephemeral = ephemeralKeyPair(random)
  const shared = x25519SharedSecret(ephemeral.privateKey, recipientPublicKey)
  if (shared === undefined) throw new WeakSealingKeyError()
  const prk = withoutStackTraces(() => extract(shared, ephemeral.publicKey, recipientPublicKey))
  shared.fill(0)
  return sealWith(prk, ephemeral.publicKey, plaintext, ctx)
}

/**
 * Ephemeral keys whose agreement a `SealOpener` remembers (the PRK of each, a 32-byte secret, and the session's key once
 * a box of version 2 used it), in two tiers: a key is
 * remembered on probation after its first box opened, and promoted to the established tier by its second. A flood of
 * fresh keys (each used once, as `seal` uses them) churns only the probation tier and never evicts an established
 * sealing session. 4,096 sessions: a clearinghouse's devices that report within an hour, at a few hundred bytes each.
 */
export const SEAL_SESSION_CACHE_ENTRIES = 4096
/** Ephemeral keys on probation (seen in one box that opened). */
export const SEAL_SESSION_PROBATION_ENTRIES = 1024

/**
 * Opens sealed boxes addressed to one recipient. Its X25519 private key becomes a node:crypto KeyObject once:
 * building it costs about as much as the key agreement itself, and a clearinghouse opens one box per usage report.
 *
 * A box sealed in a session (`SealSession`: one ephemeral key for many boxes, version 2) opens like any other; the
 * opener remembers the agreement with each ephemeral key whose box opened (bounded, see `SEAL_SESSION_CACHE_ENTRIES`),
 * and the session's AES key once derived, so the session's next boxes cost one AES-GCM decryption each, not an X25519
 * agreement nor an HKDF expand (decision 0515). What is remembered is a function
 * of the ephemeral public key alone (with this opener's fixed key pair): a remembered agreement opens exactly the boxes
 * the agreement itself would open, no others.
 */
export class SealOpener {
  readonly #privateKey: KeyObject
  readonly #publicKey: Uint8Array
  readonly #versions: readonly SealBoxVersion[]
  readonly #established = new Lru<string, Remembered>(SEAL_SESSION_CACHE_ENTRIES)
  readonly #probation = new Lru<string, Remembered>(SEAL_SESSION_PROBATION_ENTRIES)
  #agreements = 0

  /**
   * `versions`: the box versions it opens (default all, `SEAL_BOX_VERSIONS`); a box of another version is refused as
   * an opener of a release that did not know it refused it (a clearinghouse restricted to version 1 behaves as one
   * released before decision 0515, decision 0518). Throws `InvalidByteLengthError` when a key is not 32 bytes.
   */
  constructor(recipient: SealingKeyPair, options: { versions?: readonly SealBoxVersion[] } = {}) {
    assertBytes('recipient.publicKey', recipient.publicKey, X25519_KEY_BYTES)
    assertBytes('recipient.privateKey', recipient.privateKey, X25519_KEY_BYTES)
    const versions = options.versions ?? SEAL_BOX_VERSIONS
    if (versions.length === 0 || versions.some((v) => !SEAL_BOX_VERSIONS.includes(v))) {
      throw new RangeError(`seal versions ${JSON.stringify(versions)}: each must be one of ${SEAL_BOX_VERSIONS}`)
    }
    this.#versions = SEAL_BOX_VERSIONS.filter((v) => versions.includes(v))
    this.#privateKey = x25519PrivateKeyObject(recipient.privateKey)
    this.#publicKey = copyBytes(recipient.publicKey)
  }

  /** X25519 agreements made so far (boxes whose ephemeral key was not remembered). */
  get agreements(): number {
    return this.#agreements
  }

  /** Ephemeral keys remembered: established sessions and keys on probation. */
  get remembered(): { established: number; probation: number } {
    return { established: this.#established.size, probation: this.#probation.size }
  }

  /**
   * Opens a sealed box made by `seal` (version 1) or a `SealSession` (version 2) for this recipient under `context`.
   * Throws `MalformedSealError` (too short, too long, unknown version), `SealOpenError` (altered, another
   * recipient, another context, low-order ephemeral key), `InvalidSealContextError`.
   */
  open(sealed: Uint8Array, context: string): Uint8Array {
    if (!(sealed instanceof Uint8Array)) throw new MalformedSealError('sealed box must be a Uint8Array')
    if (sealed.length < SEAL_OVERHEAD_BYTES) {
      throw new MalformedSealError(`sealed box is ${sealed.length} bytes, at least ${SEAL_OVERHEAD_BYTES}`)
    }
    const version = sealed[0] as SealBoxVersion
    if (!this.#versions.includes(version)) {
      const known = this.#versions.length === 1 ? `${this.#versions[0]} is` : `${this.#versions.join(' and ')} are`
      throw new MalformedSealError(`sealed box version is ${version}, only ${known} known`)
    }
    const header = version === SEAL_VERSION ? HEADER_BYTES : SESSION_HEADER_BYTES
    if (sealed.length < header + TAG_BYTES) {
      throw new MalformedSealError(`sealed box is ${sealed.length} bytes, at least ${header + TAG_BYTES}`)
    }
    if (sealed.length > header + TAG_BYTES + MAX_SEAL_PLAINTEXT_BYTES) {
      throw new MalformedSealError(
        `sealed box is ${sealed.length} bytes, at most ${header + TAG_BYTES + MAX_SEAL_PLAINTEXT_BYTES}`,
      )
    }
    const ctx = contextBytes(context)
    const ephemeralPublicKey = sealed.subarray(1, HEADER_BYTES)
    // The key's 32 bytes as a Map key: reading them as Latin-1 is a tenth of the cost of hex.
    const session = bufferView(ephemeralPublicKey).toString('latin1')
    let remembered = this.#established.get(session)
    const known = remembered !== undefined
    if (!known) remembered = this.#probation.peek(session)
    const probation = !known && remembered !== undefined
    if (remembered === undefined) {
      const shared = x25519SharedSecret(this.#privateKey, ephemeralPublicKey)
      if (shared === undefined) {
        throw new SealOpenError('sealed box did not open: its ephemeral key is a low-order point')
      }
      this.#agreements++
      remembered = { prk: withoutStackTraces(() => extract(shared, ephemeralPublicKey, this.#publicKey)) }
      shared.fill(0)
    }
    let key: KeyObject
    let nonce: Buffer
    if (version === SEAL_VERSION) ({ key, nonce } = expand(remembered.prk, ctx))
    else {
      // The session's key, derived once per ephemeral key (and kept only if the box opens, with the rest).
      remembered.session ??= sessionKeys(remembered.prk)
      key = remembered.session.key
      nonce = sessionNonce(remembered.session.nonceBase, bufferView(sealed).readUInt32BE(HEADER_BYTES))
    }
    const tagStart = sealed.length - TAG_BYTES
    const decipher = createDecipheriv('aes-256-gcm', key, nonce)
    decipher.setAAD(Buffer.concat([sealed.subarray(0, header), ctx]))
    decipher.setAuthTag(bufferView(sealed.subarray(tagStart)))
    let plaintext: Uint8Array
    try {
      const body = decipher.update(sealed.subarray(header, tagStart))
      decipher.final()
      plaintext = copyBytes(body)
      body.fill(0)
    } catch (err) {
      throw new SealOpenError(undefined, { cause: err })
    }
    // Only a key whose box opened is remembered: a box that fails costs its agreement every time and evicts nothing.
    if (probation) {
      this.#probation.delete(session)
      this.#established.set(session, remembered)
    } else if (!known) this.#probation.set(session, remembered)
    return plaintext
  }
}

/** What a `SealOpener` remembers of an ephemeral key: the agreement's PRK, and the session's keys once derived. */
interface Remembered {
  prk: KeyObject
  session?: SessionKeys
}

/** Boxes one `SealSession` key seals before it is replaced (each box's nonce comes from its number, 0 to 1,023). */
export const SEAL_SESSION_MAX_BOXES = 1024
/** How long one `SealSession` key is used before it is replaced. */
export const SEAL_SESSION_MAX_AGE_MS = 60 * 60 * 1000

export interface SealSessionInit {
  /** Draws each session's ephemeral private key (32 bytes). */
  random?: Random
  /** The injected clock (milliseconds). */
  now: () => number
  /** Boxes per ephemeral key (default `SEAL_SESSION_MAX_BOXES`). */
  maxBoxes?: number
  /** Age of an ephemeral key at which it is replaced (default `SEAL_SESSION_MAX_AGE_MS`). */
  maxAgeMs?: number
}

/**
 * Seals many boxes with one ephemeral key (a session): boxes of version 2 (keys/README.md), which any `SealOpener` opens;
 * one that remembers the session (every `SealOpener` does, bounded) skips the X25519 agreement for all but the first
 * two, and the key derivation for all but the first. For a device that seals a usage report to the clearinghouses every
 * minute.
 *
 * The session's AES-256-GCM key and a nonce base are derived once per recipient from the agreement (HKDF); each box
 * carries its number under the key (0, 1, …, never repeated), XORed into the nonce base to make its nonce, and its
 * context is bound by the associated data, so a box opens only under the context it was sealed for. A context the session
 * already sealed to the same recipient still starts a new key (a report is sealed once). A key is replaced after
 * `maxBoxes` boxes (at most 2^32) or `maxAgeMs`, and lives in memory only (a restart starts a new one). What a session
 * costs against the one-key-per-box `seal` is written in docs/decisions/0513-usage-sealing-sessions.md and
 * 0515-usage-verification-by-hand.md: the device's ephemeral private key and the session's AES key live for the session,
 * so whoever reads the device's memory during it can open that session's boxes — which hold the device's own usage,
 * kept in its own log anyway.
 */
export class SealSession {
  readonly #random: Random
  readonly #now: () => number
  readonly #maxBoxes: number
  readonly #maxAgeMs: number
  #key: { privateKey: KeyObject; publicKey: Uint8Array; started: number } | undefined
  #boxes = 0
  /** Per recipient (hex), the agreement's PRK and, once a box of version 2 needed them, the session's key and nonce base. */
  readonly #keysWith = new Map<string, Remembered>()
  /** Recipient and context of every box this key sealed: a repeat starts a new key. */
  readonly #sealed = new Set<string>()
  #keys = 0

  constructor(init: SealSessionInit) {
    const maxBoxes = init.maxBoxes ?? SEAL_SESSION_MAX_BOXES
    const maxAgeMs = init.maxAgeMs ?? SEAL_SESSION_MAX_AGE_MS
    if (!Number.isSafeInteger(maxBoxes) || maxBoxes < 1 || maxBoxes > MAX_SESSION_BOX_NUMBER + 1) {
      throw new RangeError(`maxBoxes ${maxBoxes} must be 1 to 2^32`)
    }
    if (!Number.isSafeInteger(maxAgeMs) || maxAgeMs < 1) throw new RangeError(`maxAgeMs ${maxAgeMs} must be ≥ 1`)
    this.#random = init.random ?? systemRandom
    this.#now = init.now
    this.#maxBoxes = maxBoxes
    this.#maxAgeMs = maxAgeMs
  }

  /** Ephemeral keys this session has used so far. */
  get keys(): number {
    return this.#keys
  }

  /**
   * Seal `plaintext` to `recipientPublicKey` under `context`, with the same errors as `seal`. `version`: 2 (the default)
   * is a session's box, one AES key for the session; 1 is the box `seal` writes, its key and nonce expanded from the
   * session's agreement and the context (decision 0513), for a recipient that opens only version 1 (decision 0518).
   */
  seal(
    recipientPublicKey: Uint8Array,
    plaintext: Uint8Array,
    context: string,
    version: SealBoxVersion = SEAL_SESSION_VERSION,
  ): Uint8Array {
    if (!SEAL_BOX_VERSIONS.includes(version)) throw new RangeError(`seal version ${version} is not known`)
    assertBytes('recipientPublicKey', recipientPublicKey, X25519_KEY_BYTES)
    checkPlaintext(plaintext)
    const ctx = contextBytes(context)
    const recipient = bufferView(recipientPublicKey).toString('hex')
    const box = `${recipient}\u0000${context}`
    const now = this.#now()
    if (
      this.#key === undefined ||
      this.#boxes >= this.#maxBoxes ||
      now - this.#key.started >= this.#maxAgeMs ||
      now < this.#key.started ||
      this.#sealed.has(box)
    ) {
      this.#rotate(now)
    }
    const key = this.#key!
    let agreed = this.#keysWith.get(recipient)
    if (agreed === undefined) {
      const shared = x25519SharedSecret(key.privateKey, recipientPublicKey)
      if (shared === undefined) throw new WeakSealingKeyError()
      agreed = { prk: withoutStackTraces(() => extract(shared, key.publicKey, recipientPublicKey)) }
      shared.fill(0)
      this.#keysWith.set(recipient, agreed)
    }
    // The box's number under this key: never repeated (a key is replaced after maxBoxes ≤ 2^32 boxes). A box of
    // version 1 spends one too, so that maxBoxes bounds every box of the key.
    const boxNumber = this.#boxes++
    this.#sealed.add(box)
    if (version === SEAL_VERSION) return sealWith(agreed.prk, key.publicKey, plaintext, ctx)
    agreed.session ??= sessionKeys(agreed.prk)
    return sealInSession(agreed.session, key.publicKey, boxNumber, plaintext, ctx)
  }

  /** Forget the current key (a device that stops reporting, or wants the next box under a fresh key). */
  end(): void {
    this.#key = undefined
    this.#keysWith.clear()
    this.#sealed.clear()
    this.#boxes = 0
  }

  #rotate(now: number): void {
    this.end()
    this.#key = { ...ephemeralKeyPair(this.#random), started: now }
    this.#keys++
  }
}

/**
 * Opens a sealed box made by `seal` or a `SealSession` for `recipient` under `context` (once; `SealOpener` for many).
 * Throws `MalformedSealError` (too short, too long, unknown version), `SealOpenError` (altered, another
 * recipient, another context, low-order ephemeral key), `InvalidByteLengthError`, `InvalidSealContextError`.
 */
export function open(recipient: SealingKeyPair, sealed: Uint8Array, context: string): Uint8Array {
  return new SealOpener(recipient).open(sealed, context)
}
