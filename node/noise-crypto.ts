import type { ICryptoInterface } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { withoutStackTraces } from '../keys/node-crypto.ts'

/**
 * `@libp2p/noise`'s own crypto (node:crypto for ChaCha20-Poly1305 over 1,200 bytes, X25519 and SHA-256), each call
 * run with stack-trace capture off. Noise hands node:crypto a Buffer key for every frame it seals or opens, and Node
 * tells a KeyObject from a Buffer by letting two brand checks throw: with the deep stacks of a busy node each throw
 * captured a stack trace, 8.7 % of a process carrying gossip (docs/profiles/offers.md), the same cost
 * `keys/node-crypto.ts` removes from our own calls. The bytes on the wire are noise's own: only the errors thrown
 * inside lose their stacks (noise wraps them in its own).
 */
export const noiseCrypto: ICryptoInterface = {
  hashSHA256: (data) => withoutStackTraces(() => defaultCrypto.hashSHA256(data)),
  getHKDF: (ck, ikm) => withoutStackTraces(() => defaultCrypto.getHKDF(ck, ikm)),
  generateX25519KeyPair: () => withoutStackTraces(() => defaultCrypto.generateX25519KeyPair()),
  generateX25519KeyPairFromSeed: (seed) => withoutStackTraces(() => defaultCrypto.generateX25519KeyPairFromSeed(seed)),
  generateX25519SharedKey: (privateKey, publicKey) =>
    withoutStackTraces(() => defaultCrypto.generateX25519SharedKey(privateKey, publicKey)),
  chaCha20Poly1305Encrypt: (plaintext, nonce, ad, k) =>
    withoutStackTraces(() => defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)),
  chaCha20Poly1305Decrypt: (ciphertext, nonce, ad, k, dst) =>
    withoutStackTraces(() => defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)),
}
