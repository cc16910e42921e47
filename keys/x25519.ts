import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto'
import { assertBytes, copyBytes, isAllZero } from './bytes.ts'
import { rawPublicKeyObject, withoutStackTraces } from './node-crypto.ts'
import { type Random, systemRandom } from './random.ts'

/**
 * X25519 (RFC 7748) key pairs for sealing, over node:crypto. A private key is any 32 bytes (X25519 clamps it
 * when used), so a Random's bytes are used as they come and a seeded Random gives the same key pair every time.
 */

export const X25519_KEY_BYTES = 32

/** An X25519 key pair: 32-byte raw public key and 32-byte raw private key. */
export interface SealingKeyPair {
  publicKey: Uint8Array
  privateKey: Uint8Array
}

/** SubjectPublicKeyInfo for X25519 (RFC 8410): OID 1.3.101.110, BIT STRING of 32 bytes. */
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
/** PKCS#8 for X25519 (RFC 8410): version 0, OID 1.3.101.110, OCTET STRING { OCTET STRING (32) }. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** Internal: the node:crypto KeyObject for a raw X25519 private key. */
export function x25519PrivateKeyObject(privateKey: Uint8Array): KeyObject {
  assertBytes('X25519 private key', privateKey, X25519_KEY_BYTES)
  const der = Buffer.concat([PKCS8_PREFIX, privateKey])
  try {
    return withoutStackTraces(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }))
  } finally {
    der.fill(0)
  }
}

/** Internal: the raw 32-byte public key of a private KeyObject. */
export function x25519RawPublicKey(privateKey: KeyObject): Uint8Array {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return copyBytes(spki.subarray(SPKI_PREFIX.length))
}

/**
 * Internal: X25519(privateKey, publicKey), or `undefined` when the result is all zero (the public key is a
 * low-order point; RFC 7748 section 6.1 says to refuse it). OpenSSL already refuses that case; the explicit
 * check keeps the guarantee if a different backend is ever used.
 */
export function x25519SharedSecret(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array | undefined {
  assertBytes('X25519 public key', publicKey, X25519_KEY_BYTES)
  let shared: Buffer
  try {
    const key = rawPublicKeyObject('x25519', publicKey, SPKI_PREFIX)
    shared = diffieHellman({ privateKey, publicKey: key })
  } catch {
    return undefined
  }
  if (shared.length !== X25519_KEY_BYTES || isAllZero(shared)) return undefined
  const out = copyBytes(shared)
  shared.fill(0)
  return out
}

/** A fresh X25519 key pair from `random` (32 bytes drawn). */
export function generateSealingKeyPair(random: Random = systemRandom): SealingKeyPair {
  const privateKey = random.bytes(X25519_KEY_BYTES)
  return { publicKey: sealingPublicKeyFromPrivate(privateKey), privateKey }
}

/** The 32-byte X25519 public key of a 32-byte private key. Throws `InvalidByteLengthError` on a wrong length. */
export function sealingPublicKeyFromPrivate(privateKey: Uint8Array): Uint8Array {
  return x25519RawPublicKey(x25519PrivateKeyObject(privateKey))
}
