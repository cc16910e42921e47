import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { noiseCrypto } from '../../../node/noise-crypto.ts'

describe('node/noise-crypto: noise’s own crypto without stack-trace capture', () => {
  const k = randomBytes(32)
  const nonce = randomBytes(12)
  const ad = randomBytes(32)

  it('seals and opens exactly as @libp2p/noise does, below and above its 1,200-byte switch to node:crypto', () => {
    for (const size of [0, 100, 1199, 1200, 4096, 65_535]) {
      const plaintext = randomBytes(size)
      const ours = noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray()
      const theirs = defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray()
      assert.deepEqual(Buffer.from(ours), Buffer.from(theirs), `${size} bytes`)
      const opened = noiseCrypto.chaCha20Poly1305Decrypt(theirs, nonce, ad, k).subarray()
      assert.deepEqual(Buffer.from(opened), plaintext)
    }
  })

  it('still refuses a forged frame, and leaves stack traces on afterwards', () => {
    const limit = Error.stackTraceLimit
    for (const size of [100, 4096]) {
      const sealed = Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(randomBytes(size), nonce, ad, k).subarray())
      sealed[3] = (sealed[3] ?? 0) ^ 1
      assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k), `${size} bytes`)
    }
    assert.equal(Error.stackTraceLimit, limit)
  })

  it('agrees on X25519 and the hashes', () => {
    const a = noiseCrypto.generateX25519KeyPair()
    const b = defaultCrypto.generateX25519KeyPair()
    assert.deepEqual(
      Buffer.from(noiseCrypto.generateX25519SharedKey(a.privateKey, b.publicKey)),
      Buffer.from(defaultCrypto.generateX25519SharedKey(b.privateKey, a.publicKey)),
    )
    const seed = randomBytes(32)
    assert.deepEqual(noiseCrypto.generateX25519KeyPairFromSeed(seed), defaultCrypto.generateX25519KeyPairFromSeed(seed))
    const data = randomBytes(300)
    assert.deepEqual(Buffer.from(noiseCrypto.hashSHA256(data)), Buffer.from(defaultCrypto.hashSHA256(data)))
    assert.deepEqual(noiseCrypto.getHKDF(k, data), defaultCrypto.getHKDF(k, data))
  })
})
