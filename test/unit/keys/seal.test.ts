import assert from 'node:assert/strict'
import { createCipheriv } from 'node:crypto'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import fc from 'fast-check'
import { SealOpenError } from '../../../keys/errors.ts'
import {
  generateSealingKeyPair,
  MAX_SEAL_CONTEXT_BYTES,
  open,
  SEAL_OVERHEAD_BYTES,
  SEAL_VERSION,
  type SealingKeyPair,
  SealOpener,
  SeededRandom,
  seal,
  sealingPublicKeyFromPrivate,
} from '../../../keys/index.ts'
import { createNodeKeys } from '../../../keys/keystore.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7))
  return copy
}

/** A point of order 8 on Curve25519 (its u-coordinate): X25519 with it gives an all-zero shared secret. */
const LOW_ORDER_POINT = hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')

describe('keys/x25519', () => {
  it('matches the RFC 7748 section 6.1 vectors', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
    const bob = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')
    assert.equal(
      toHex(sealingPublicKeyFromPrivate(alice)),
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    )
    assert.equal(
      toHex(sealingPublicKeyFromPrivate(bob)),
      'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
    )
  })

  it('derives the same public keys as @noble/curves', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (privateKey) => {
        assert.deepEqual(sealingPublicKeyFromPrivate(privateKey), x25519.getPublicKey(privateKey))
      }),
      { numRuns: 50 },
    )
  })

  it('generates the same key pair from the same seed and different ones otherwise', () => {
    const a = generateSealingKeyPair(new SeededRandom(7))
    assert.deepEqual(generateSealingKeyPair(new SeededRandom(7)), a)
    assert.notDeepEqual(generateSealingKeyPair(new SeededRandom(8)), a)
    assert.equal(a.publicKey.length, 32)
    assert.equal(a.privateKey.length, 32)
    assert.notDeepEqual(generateSealingKeyPair().privateKey, generateSealingKeyPair().privateKey)
  })

  it('refuses a private key of the wrong length', () => {
    assert.throws(() => sealingPublicKeyFromPrivate(new Uint8Array(31)), {
      name: 'InvalidByteLengthError',
      message: /X25519 private key must be 32 bytes, got 31/,
    })
  })
})

describe('keys/seal', () => {
  const recipient = generateSealingKeyPair(new SeededRandom('recipient'))
  const other = generateSealingKeyPair(new SeededRandom('other'))
  const context = 'consort/licence/content-key'
  const plaintext = utf8('a 32-byte content key, probably.')
  const sealed = seal(recipient.publicKey, plaintext, context, new SeededRandom('ephemeral'))

  it('round-trips, adding 49 bytes', () => {
    assert.equal(SEAL_OVERHEAD_BYTES, 49)
    assert.equal(sealed.length, plaintext.length + SEAL_OVERHEAD_BYTES)
    assert.equal(sealed[0], SEAL_VERSION)
    assert.deepEqual(open(recipient, sealed, context), plaintext)
    assert.deepEqual(open(recipient, seal(recipient.publicKey, new Uint8Array(0), context), context), new Uint8Array(0))
  })

  it('uses a fresh ephemeral key per seal', () => {
    const a = seal(recipient.publicKey, plaintext, context)
    const b = seal(recipient.publicKey, plaintext, context)
    assert.notDeepEqual(a.subarray(1, 33), b.subarray(1, 33))
    assert.notDeepEqual(a.subarray(33), b.subarray(33))
  })

  it('follows the byte-exact format of keys/README.md (recomputed with @noble/curves and @noble/hashes)', () => {
    const ephemeralPrivate = new SeededRandom('ephemeral').bytes(32)
    const ephemeralPublic = x25519.getPublicKey(ephemeralPrivate)
    const shared = x25519.getSharedSecret(ephemeralPrivate, recipient.publicKey)
    const salt = new Uint8Array([...ephemeralPublic, ...recipient.publicKey])
    const info = new Uint8Array([...utf8('consort/v1/seal'), 0, ...utf8(context)])
    const okm = hkdf(sha256, shared, salt, info, 44)
    const cipher = createCipheriv('aes-256-gcm', okm.subarray(0, 32), okm.subarray(32, 44))
    cipher.setAAD(new Uint8Array([1, ...ephemeralPublic, ...utf8(context)]))
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
    const expected = new Uint8Array([1, ...ephemeralPublic, ...body, ...cipher.getAuthTag()])
    assert.equal(toHex(sealed), toHex(expected))
  })

  it('detects every flipped bit: version byte (malformed), ephemeral key, ciphertext and tag (do not open)', () => {
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const byte = bit >> 3
      const expected = byte === 0 ? 'MalformedSealError' : 'SealOpenError'
      assert.throws(() => open(recipient, flipBit(sealed, bit), context), { name: expected }, `bit ${bit}`)
    }
  })

  it('refuses the wrong recipient and the wrong context', () => {
    assert.throws(() => open(other, sealed, context), { name: 'SealOpenError' })
    assert.throws(() => open(recipient, sealed, 'consort/usage/events'), { name: 'SealOpenError' })
    assert.throws(() => open(recipient, sealed, `${context} `), { name: 'SealOpenError' })
    // a key pair whose public half is not the one sealed to (the public key is bound through HKDF's salt)
    assert.throws(() => open({ privateKey: recipient.privateKey, publicKey: other.publicKey }, sealed, context), {
      name: 'SealOpenError',
    })
  })

  it('refuses truncated, extended and mis-versioned boxes', () => {
    assert.throws(() => open(recipient, sealed.subarray(0, SEAL_OVERHEAD_BYTES - 1), context), {
      name: 'MalformedSealError',
      message: /48 bytes, at least 49/,
    })
    assert.throws(() => open(recipient, sealed.subarray(0, sealed.length - 1), context), { name: 'SealOpenError' })
    assert.throws(() => open(recipient, new Uint8Array([...sealed, 0]), context), { name: 'SealOpenError' })
    const v3 = new Uint8Array(sealed)
    v3[0] = 3
    assert.throws(() => open(recipient, v3, context), { name: 'MalformedSealError', message: /version is 3/ })
    // Relabelled as a session's box (version 2, decision 0515): read so, it does not open.
    const v2 = new Uint8Array(sealed)
    v2[0] = 2
    assert.throws(() => open(recipient, v2, context), { name: 'SealOpenError' })
  })

  it('refuses an all-zero shared secret on both sides', () => {
    assert.throws(() => seal(LOW_ORDER_POINT, plaintext, context), { name: 'WeakSealingKeyError' })
    assert.throws(() => seal(new Uint8Array(32), plaintext, context), { name: 'WeakSealingKeyError' })
    const forged = new Uint8Array(sealed)
    forged.set(LOW_ORDER_POINT, 1)
    assert.throws(() => open(recipient, forged, context), { name: 'SealOpenError', message: /low-order/ })
  })

  it('refuses empty, oversized and ill-formed contexts', () => {
    assert.throws(() => seal(recipient.publicKey, plaintext, ''), { name: 'InvalidSealContextError' })
    assert.throws(() => seal(recipient.publicKey, plaintext, 'x'.repeat(MAX_SEAL_CONTEXT_BYTES + 1)), {
      name: 'InvalidSealContextError',
    })
    assert.throws(() => open(recipient, sealed, '\ud800'), { name: 'InvalidSealContextError' })
    assert.deepEqual(
      open(recipient, seal(recipient.publicKey, plaintext, 'x'.repeat(MAX_SEAL_CONTEXT_BYTES)), 'x'.repeat(256)),
      plaintext,
    )
  })

  it('refuses recipient keys of the wrong length', () => {
    assert.throws(() => seal(recipient.publicKey.subarray(1), plaintext, context), {
      name: 'InvalidByteLengthError',
      message: /recipientPublicKey/,
    })
    const bad: SealingKeyPair = { publicKey: recipient.publicKey, privateKey: new Uint8Array(16) }
    assert.throws(() => open(bad, sealed, context), { name: 'InvalidByteLengthError', message: /privateKey/ })
  })

  it('round-trips any plaintext under any context, and only under that context (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc.integer(),
        (message, ctx, otherCtx, seed) => {
          const keys = generateSealingKeyPair(new SeededRandom(seed))
          const box = seal(keys.publicKey, message, ctx)
          assert.deepEqual(open(keys, box, ctx), message)
          if (otherCtx !== ctx) assert.throws(() => open(keys, box, otherCtx), { name: 'SealOpenError' })
        },
      ),
      { numRuns: 100 },
    )
  })
})

describe('SealOpener (one recipient, many boxes)', () => {
  it('opens what seal() seals, and refuses what open() refuses', async () => {
    const me = await createNodeKeys()
    const other = await createNodeKeys()
    const opener = new SealOpener(me.sealing)
    for (const size of [0, 1, 31, 32, 1000, 70_000]) {
      const plaintext = new Uint8Array(size).map((_, i) => i % 251)
      const box = seal(me.sealing.publicKey, plaintext, 'consort/usage/x/1')
      assert.deepEqual(opener.open(box, 'consort/usage/x/1'), plaintext)
      assert.deepEqual(open(me.sealing, box, 'consort/usage/x/1'), plaintext)
      assert.throws(() => opener.open(box, 'consort/usage/x/2'), SealOpenError)
      const flipped = new Uint8Array(box)
      flipped[flipped.length - 1]! ^= 1
      assert.throws(() => opener.open(flipped, 'consort/usage/x/1'), SealOpenError)
      const elsewhere = seal(other.sealing.publicKey, plaintext, 'consort/usage/x/1')
      assert.throws(() => opener.open(elsewhere, 'consort/usage/x/1'), SealOpenError)
    }
    assert.throws(() => opener.open(new Uint8Array(10), 'c'), { name: 'MalformedSealError' })
    const box = seal(me.sealing.publicKey, new Uint8Array(4), 'c')
    box[0] = 3
    assert.throws(() => opener.open(box, 'c'), { name: 'MalformedSealError' })
    box[0] = 2
    assert.throws(() => opener.open(box, 'c'), { name: 'SealOpenError' })
    assert.throws(() => opener.open(seal(me.sealing.publicKey, new Uint8Array(4), 'c'), ''), {
      name: 'InvalidSealContextError',
    })
  })
})
