import assert from 'node:assert/strict'
import { createCipheriv } from 'node:crypto'
import fc from 'fast-check'
import {
  CONTENT_KEY_BYTES,
  decryptSegment,
  encryptSegment,
  generateContentKey,
  generateKeyId,
  KEY_ID_BYTES,
  SEGMENT_TAG_BYTES,
  SeededRandom,
} from '../../../keys/index.ts'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7))
  return copy
}

describe('keys/segments', () => {
  const random = new SeededRandom('segments')
  const contentKey = generateContentKey(random)
  const keyId = generateKeyId(random)
  const plaintext = random.bytes(1000)

  it('generates keys and key ids of the right size, reproducibly from a seed', () => {
    assert.equal(contentKey.length, CONTENT_KEY_BYTES)
    assert.equal(keyId.length, KEY_ID_BYTES)
    const again = new SeededRandom('segments')
    assert.deepEqual(generateContentKey(again), contentKey)
    assert.deepEqual(generateKeyId(again), keyId)
    assert.notDeepEqual(generateContentKey(), generateContentKey())
  })

  it('round-trips empty, small and 256 KiB segments; output = ciphertext || 16-byte tag', () => {
    for (const size of [0, 1, 1000, 256 * 1024]) {
      const data = size === 1000 ? plaintext : new SeededRandom(size).bytes(size)
      const encrypted = encryptSegment(contentKey, keyId, 3, data)
      assert.equal(encrypted.length, size + SEGMENT_TAG_BYTES)
      assert.equal(Object.getPrototypeOf(encrypted), Uint8Array.prototype)
      assert.deepEqual(decryptSegment(contentKey, keyId, 3, encrypted), data)
    }
  })

  it('follows the byte-exact format of keys/README.md', () => {
    const index = 2 ** 40 + 7
    const nonce = Buffer.from('00000000' + '0000010000000007', 'hex')
    const aad = Buffer.concat([keyId, Buffer.from('0000010000000007', 'hex')])
    const cipher = createCipheriv('aes-256-gcm', contentKey, nonce)
    cipher.setAAD(aad)
    const expected = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
    assert.equal(toHex(encryptSegment(contentKey, keyId, index, plaintext)), expected.toString('hex'))
  })

  it('refuses the wrong index, key id or content key', () => {
    const encrypted = encryptSegment(contentKey, keyId, 5, plaintext)
    const otherKeyId = flipBit(keyId, 0)
    const otherKey = flipBit(contentKey, 255)
    for (const index of [0, 4, 6, 5 + 2 ** 32]) {
      assert.throws(() => decryptSegment(contentKey, keyId, index, encrypted), {
        name: 'SegmentAuthenticationError',
        message: new RegExp(`segment ${index} `),
      })
    }
    assert.throws(() => decryptSegment(contentKey, otherKeyId, 5, encrypted), { name: 'SegmentAuthenticationError' })
    assert.throws(() => decryptSegment(otherKey, keyId, 5, encrypted), { name: 'SegmentAuthenticationError' })
  })

  it('detects every flipped bit of a short segment, and truncation', () => {
    const encrypted = encryptSegment(contentKey, keyId, 1, plaintext.subarray(0, 24))
    for (let bit = 0; bit < encrypted.length * 8; bit++) {
      assert.throws(() => decryptSegment(contentKey, keyId, 1, flipBit(encrypted, bit)), {
        name: 'SegmentAuthenticationError',
      })
    }
    assert.throws(() => decryptSegment(contentKey, keyId, 1, encrypted.subarray(1)), {
      name: 'SegmentAuthenticationError',
    })
    assert.throws(() => decryptSegment(contentKey, keyId, 1, encrypted.subarray(0, 15)), {
      name: 'InvalidSegmentSizeError',
      message: /shorter than its 16-byte tag/,
    })
  })

  it('encrypts the same plaintext differently at different indexes (the index is the nonce)', () => {
    const a = encryptSegment(contentKey, keyId, 0, plaintext)
    const b = encryptSegment(contentKey, keyId, 1, plaintext)
    const c = encryptSegment(contentKey, keyId, 2 ** 32, plaintext)
    assert.notDeepEqual(a.subarray(0, 16), b.subarray(0, 16))
    assert.notDeepEqual(a.subarray(0, 16), c.subarray(0, 16))
  })

  it('accepts indexes up to 2^53 - 1 and refuses anything that is not a non-negative safe integer', () => {
    const last = Number.MAX_SAFE_INTEGER
    assert.deepEqual(
      decryptSegment(contentKey, keyId, last, encryptSegment(contentKey, keyId, last, plaintext)),
      plaintext,
    )
    for (const index of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => encryptSegment(contentKey, keyId, index, plaintext), { name: 'InvalidSegmentIndexError' })
      assert.throws(() => decryptSegment(contentKey, keyId, index, plaintext), { name: 'InvalidSegmentIndexError' })
    }
  })

  it('refuses keys and key ids of the wrong length', () => {
    assert.throws(() => encryptSegment(contentKey.subarray(1), keyId, 0, plaintext), {
      name: 'InvalidByteLengthError',
      message: /contentKey must be 32 bytes, got 31/,
    })
    assert.throws(() => decryptSegment(contentKey, new Uint8Array(8), 0, plaintext), {
      name: 'InvalidByteLengthError',
      message: /keyId must be 16 bytes, got 8/,
    })
  })

  it('round-trips any segment at any index, and nowhere else (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.maxSafeNat(),
        fc.uint8Array({ maxLength: 4096 }),
        (key, id, index, data) => {
          const encrypted = encryptSegment(key, id, index, data)
          assert.deepEqual(decryptSegment(key, id, index, encrypted), data)
          const elsewhere = index === 0 ? 1 : index - 1
          assert.throws(() => decryptSegment(key, id, elsewhere, encrypted), { name: 'SegmentAuthenticationError' })
        },
      ),
      { numRuns: 200 },
    )
  })
})
