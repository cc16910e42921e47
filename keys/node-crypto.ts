import { createPublicKey, type KeyObject } from 'node:crypto'
import { bufferView } from './bytes.ts'

/**
 * Node 24 (`node:internal/crypto/keys`) tells a KeyObject or a CryptoKey from anything else by reading a private
 * field inside `try`/`catch` (`isKeyObject`, `isCryptoKey`). Every argument that is neither — the `{ key, format,
 * type }` object given to `createPublicKey`, a Buffer key given to `createCipheriv`, `createDecipheriv` or
 * `hkdfSync` — makes both checks throw and catch a TypeError, and each throw captures a stack trace. In the deep
 * stacks of a busy node that capture costs more than the cryptography: 17 % of a clearinghouse's CPU per usage report
 * (docs/profiles/clearing.md), half of every `createPublicKey` of a raw key.
 *
 * `withoutStackTraces` runs such a call with stack-trace capture turned off (`Error.stackTraceLimit = 0`) and restores
 * the limit afterwards. It is synchronous, so nothing else runs meanwhile; an error the call throws has no stack, which
 * callers do not need (they wrap it in an error of their own, made outside).
 */
export function withoutStackTraces<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return fn()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/**
 * Whether this Node takes raw public keys (`format: 'raw-public'`, Node 24's newer releases): building a KeyObject
 * from 32 raw bytes that way costs a third of parsing the same key wrapped in DER. Checked once, on X25519's base
 * point (u = 9).
 */
const RAW_PUBLIC_KEYS = (() => {
  try {
    const base = Buffer.alloc(32)
    base[0] = 9
    createPublicKey({ key: base, format: 'raw-public', asymmetricKeyType: 'x25519' })
    return true
  } catch {
    return false
  }
})()

/**
 * A public KeyObject from a raw 32-byte Ed25519 or X25519 key: through `raw-public` where Node has it, else through
 * the key's fixed DER prefix (`spkiPrefix`, RFC 8410). Throws what Node throws for a key it refuses.
 */
export function rawPublicKeyObject(type: 'ed25519' | 'x25519', raw: Uint8Array, spkiPrefix: Uint8Array): KeyObject {
  if (RAW_PUBLIC_KEYS) {
    const key = bufferView(raw)
    return withoutStackTraces(() => createPublicKey({ key, format: 'raw-public', asymmetricKeyType: type }))
  }
  const der = Buffer.concat([spkiPrefix, raw])
  return withoutStackTraces(() => createPublicKey({ key: der, format: 'der', type: 'spki' }))
}
