import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { InvalidPublicKeyError, type PrivateKey, UnsupportedKeyTypeError } from '@libp2p/interface'
import { assertBytes, bufferView, copyBytes, equalBytes } from './bytes.ts'
import { InvalidByteLengthError, KeyMismatchError } from './errors.ts'
import { Lru } from './lru.ts'
import { rawPublicKeyObject } from './node-crypto.ts'

/**
 * Ed25519 over node:crypto (OpenSSL), about 10x faster here than a pure-JS implementation. Raw keys are wrapped
 * into KeyObjects through their fixed DER prefixes, which is exact for Ed25519: the encodings have no variable
 * parts.
 */

export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SEED_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64

/**
 * How many public KeyObjects are kept. A node verifies the same few signers (registration managers, retailers,
 * reference services, its peers) again and again; 4096 covers a large market's active signers while bounding
 * memory to well under a megabyte.
 */
export const ED25519_KEY_CACHE_ENTRIES = 4096

/** SubjectPublicKeyInfo for Ed25519 (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** PKCS#8 for Ed25519 (RFC 8410): SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

const publicKeyCache = new Lru<string, KeyObject>(ED25519_KEY_CACHE_ENTRIES)

/** How many public keys are cached now (for tests and metrics). */
export function ed25519KeyCacheSize(): number {
  return publicKeyCache.size
}

/** Empties the public key cache (for tests and benchmarks). */
export function clearEd25519KeyCache(): void {
  publicKeyCache.clear()
}

/**
 * The node:crypto KeyObject for a raw 32-byte Ed25519 public key, from a bounded LRU cache.
 * Throws `InvalidByteLengthError` on a wrong length, `InvalidPublicKeyError` if OpenSSL refuses the bytes.
 */
export function ed25519PublicKeyObject(raw: Uint8Array): KeyObject {
  assertBytes('Ed25519 public key', raw, ED25519_PUBLIC_KEY_BYTES)
  const cacheKey = bufferView(raw).toString('latin1')
  const cached = publicKeyCache.get(cacheKey)
  if (cached !== undefined) return cached
  let key: KeyObject
  try {
    key = rawPublicKeyObject('ed25519', raw, SPKI_PREFIX)
  } catch (err) {
    const refused = new InvalidPublicKeyError('Ed25519 public key was refused by node:crypto')
    refused.cause = err
    throw refused
  }
  publicKeyCache.set(cacheKey, key)
  return key
}

/**
 * Verifies an Ed25519 signature (RFC 8032, as OpenSSL checks it: canonical S required). Returns false on a bad
 * signature or a public key that is not a usable point; throws `InvalidByteLengthError` when the key or the
 * signature has the wrong length, since that is a caller's bug or a decoder's gap, not a forgery.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  assertBytes('Ed25519 public key', publicKey, ED25519_PUBLIC_KEY_BYTES)
  assertBytes('Ed25519 signature', signature, ED25519_SIGNATURE_BYTES)
  let key: KeyObject
  try {
    key = ed25519PublicKeyObject(publicKey)
  } catch (err) {
    if ((err as Error).name === InvalidPublicKeyError.name) return false
    throw err
  }
  try {
    return verify(null, message, key, signature)
  } catch {
    return false
  }
}

/** Something that signs with an Ed25519 key. `publicKey` is the raw 32-byte key; do not modify it. */
export interface Signer {
  readonly publicKey: Uint8Array
  /** A 64-byte Ed25519 signature over `message` (deterministic: the same message gives the same signature). */
  sign(message: Uint8Array): Uint8Array
}

class NodeCryptoSigner implements Signer {
  readonly publicKey: Uint8Array
  readonly #key: KeyObject

  constructor(key: KeyObject, publicKey: Uint8Array) {
    this.#key = key
    this.publicKey = publicKey
  }

  sign(message: Uint8Array): Uint8Array {
    return copyBytes(sign(null, message, this.#key))
  }
}

/** A Signer from a 32-byte Ed25519 seed (the RFC 8032 private key). Throws `InvalidByteLengthError` otherwise. */
export function signerFromSeed(seed32: Uint8Array): Signer {
  assertBytes('Ed25519 seed', seed32, ED25519_SEED_BYTES)
  const der = Buffer.concat([PKCS8_PREFIX, seed32])
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  der.fill(0)
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return new NodeCryptoSigner(key, copyBytes(spki.subarray(SPKI_PREFIX.length)))
}

/** libp2p keeps an Ed25519 private key as 64 bytes: the 32-byte seed, then the 32-byte public key. */
const LIBP2P_ED25519_PRIVATE_KEY_BYTES = ED25519_SEED_BYTES + ED25519_PUBLIC_KEY_BYTES

/**
 * A Signer for a libp2p (`@libp2p/crypto`) Ed25519 private key, signing through node:crypto (libp2p's own
 * `sign` rebuilds a KeyObject per call). Throws `UnsupportedKeyTypeError` for other key types and
 * `KeyMismatchError` if the key's public half does not belong to its seed.
 */
export function signerFromLibp2pKey(key: PrivateKey): Signer {
  if (key.type !== 'Ed25519') {
    throw new UnsupportedKeyTypeError(`private key type ${JSON.stringify(key.type)} is not supported, only Ed25519 is`)
  }
  if (key.raw.length !== LIBP2P_ED25519_PRIVATE_KEY_BYTES) {
    throw new InvalidByteLengthError('libp2p Ed25519 private key', LIBP2P_ED25519_PRIVATE_KEY_BYTES, key.raw.length)
  }
  const signer = signerFromSeed(key.raw.subarray(0, ED25519_SEED_BYTES))
  if (!equalBytes(signer.publicKey, key.raw.subarray(ED25519_SEED_BYTES))) {
    throw new KeyMismatchError('libp2p Ed25519 private key: its public half does not match its seed')
  }
  if (!equalBytes(signer.publicKey, key.publicKey.raw)) {
    throw new KeyMismatchError('libp2p Ed25519 private key: its publicKey does not match its seed')
  }
  return signer
}
