import assert from 'node:assert/strict'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ed25519 } from '@noble/curves/ed25519.js'
import fc from 'fast-check'
import {
  clearEd25519KeyCache,
  ED25519_KEY_CACHE_ENTRIES,
  ed25519KeyCacheSize,
  ed25519PublicKeyObject,
  ed25519Verify,
  SeededRandom,
  signerFromLibp2pKey,
  signerFromSeed,
} from '../../../keys/index.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7))
  return copy
}

/** The order of the Ed25519 base point (RFC 8032). */
const L = 2n ** 252n + 27742317777372353535851937790883648493n

describe('keys/ed25519', () => {
  describe('RFC 8032 test vectors', () => {
    const vectors = [
      {
        seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
        publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
        message: '',
        signature:
          'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      },
      {
        seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
        publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
        message: '72',
        signature:
          '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
      },
    ]
    for (const [i, v] of vectors.entries()) {
      it(`derives the key, signs and verifies vector ${i + 1}`, () => {
        const signer = signerFromSeed(hex(v.seed))
        assert.equal(toHex(signer.publicKey), v.publicKey)
        assert.equal(toHex(signer.sign(hex(v.message))), v.signature)
        assert.equal(ed25519Verify(hex(v.publicKey), hex(v.message), hex(v.signature)), true)
      })
    }
  })

  describe('sign and verify', () => {
    const signer = signerFromSeed(new SeededRandom('ed25519').bytes(32))
    const message = new TextEncoder().encode('consort/v1/consort/offer\u0000body')
    const signature = signer.sign(message)

    it('round-trips and returns plain Uint8Arrays', () => {
      assert.equal(signature.length, 64)
      assert.equal(Object.getPrototypeOf(signature), Uint8Array.prototype)
      assert.equal(Object.getPrototypeOf(signer.publicKey), Uint8Array.prototype)
      assert.equal(ed25519Verify(signer.publicKey, message, signature), true)
    })

    it('refuses every single flipped bit of the signature', () => {
      for (let bit = 0; bit < 512; bit++) {
        assert.equal(ed25519Verify(signer.publicKey, message, flipBit(signature, bit)), false, `bit ${bit}`)
      }
    })

    it('refuses every single flipped bit of the message', () => {
      for (let bit = 0; bit < message.length * 8; bit++) {
        assert.equal(ed25519Verify(signer.publicKey, flipBit(message, bit), signature), false, `bit ${bit}`)
      }
    })

    it('refuses every single flipped bit of the public key without throwing', () => {
      for (let bit = 0; bit < 256; bit++) {
        assert.equal(ed25519Verify(flipBit(signer.publicKey, bit), message, signature), false, `bit ${bit}`)
      }
    })

    it('refuses a malleated signature (S + L, non-canonical)', () => {
      const s = BigInt(`0x${toHex(signature.slice(32).reverse())}`)
      const malleated = new Uint8Array(signature)
      malleated.set(hex((s + L).toString(16).padStart(64, '0')).reverse(), 32)
      assert.equal(ed25519Verify(signer.publicKey, message, malleated), false)
    })

    it('returns false for a key that is not a curve point', () => {
      assert.equal(ed25519Verify(new Uint8Array(32).fill(0xff), message, signature), false)
    })

    it('throws InvalidByteLengthError on a wrong key or signature length', () => {
      assert.throws(() => ed25519Verify(signer.publicKey.subarray(1), message, signature), {
        name: 'InvalidByteLengthError',
        message: /Ed25519 public key must be 32 bytes, got 31/,
      })
      assert.throws(() => ed25519Verify(signer.publicKey, message, signature.subarray(0, 63)), {
        name: 'InvalidByteLengthError',
        message: /Ed25519 signature must be 64 bytes, got 63/,
      })
      assert.throws(() => signerFromSeed(new Uint8Array(64)), { name: 'InvalidByteLengthError' })
    })
  })

  describe('interoperability with @noble/curves', () => {
    it('node:crypto signatures verify with noble and noble signatures verify with node:crypto', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ maxLength: 512 }),
          (seed, message) => {
            const signer = signerFromSeed(seed)
            assert.deepEqual(signer.publicKey, ed25519.getPublicKey(seed))
            const ours = signer.sign(message)
            assert.equal(ed25519.verify(ours, message, signer.publicKey), true)
            const theirs = ed25519.sign(message, seed)
            assert.equal(ed25519Verify(signer.publicKey, message, theirs), true)
            assert.deepEqual(ours, theirs)
          },
        ),
        { numRuns: 40 },
      )
    })
  })

  describe('libp2p keys', () => {
    it('signs exactly like the libp2p key it wraps', async () => {
      const key = await generateKeyPairFromSeed('Ed25519', new SeededRandom('libp2p').bytes(32))
      const signer = signerFromLibp2pKey(key)
      assert.deepEqual(signer.publicKey, key.publicKey.raw)
      const message = new TextEncoder().encode('hello')
      assert.deepEqual(signer.sign(message), new Uint8Array(await key.sign(message)))
      assert.equal(await key.publicKey.verify(message, signer.sign(message)), true)
    })

    it('refuses a non-Ed25519 key', async () => {
      const key = await generateKeyPair('secp256k1')
      assert.throws(() => signerFromLibp2pKey(key), { name: 'UnsupportedKeyTypeError', message: /secp256k1/ })
    })

    it('refuses a key whose public half does not belong to its seed', async () => {
      const key = await generateKeyPairFromSeed('Ed25519', new SeededRandom('a').bytes(32))
      const other = await generateKeyPairFromSeed('Ed25519', new SeededRandom('b').bytes(32))
      const raw = new Uint8Array(64)
      raw.set(key.raw.subarray(0, 32))
      raw.set(other.publicKey.raw, 32)
      const forged = { ...key, type: 'Ed25519', raw, publicKey: other.publicKey } as unknown as PrivateKey
      assert.throws(() => signerFromLibp2pKey(forged), { name: 'KeyMismatchError' })
    })
  })

  describe('public key cache', () => {
    beforeEach(() => clearEd25519KeyCache())
    after(() => clearEd25519KeyCache())

    it('returns the same KeyObject for the same bytes, whatever array holds them', () => {
      const publicKey = signerFromSeed(new SeededRandom('cache').bytes(32)).publicKey
      const first = ed25519PublicKeyObject(publicKey)
      assert.equal(ed25519PublicKeyObject(new Uint8Array(publicKey)), first)
      const padded = new Uint8Array(40)
      padded.set(publicKey, 8)
      assert.equal(ed25519PublicKeyObject(padded.subarray(8)), first)
    })

    it('stays bounded and evicts the least recently used key', () => {
      const random = new SeededRandom('lru')
      const keys = Array.from(
        { length: ED25519_KEY_CACHE_ENTRIES + 1 },
        () => signerFromSeed(random.bytes(32)).publicKey,
      )
      const [first, second] = keys
      assert.ok(first !== undefined && second !== undefined)
      const firstObject = ed25519PublicKeyObject(first)
      const secondObject = ed25519PublicKeyObject(second)
      for (const key of keys.slice(2, ED25519_KEY_CACHE_ENTRIES)) ed25519PublicKeyObject(key)
      assert.equal(ed25519KeyCacheSize(), ED25519_KEY_CACHE_ENTRIES)
      assert.equal(ed25519PublicKeyObject(first), firstObject) // touch: now the most recently used
      ed25519PublicKeyObject(keys[ED25519_KEY_CACHE_ENTRIES] as Uint8Array) // one more: evicts `second`
      assert.equal(ed25519KeyCacheSize(), ED25519_KEY_CACHE_ENTRIES)
      assert.equal(ed25519PublicKeyObject(first), firstObject)
      assert.notEqual(ed25519PublicKeyObject(second), secondObject)
    })
  })
})
