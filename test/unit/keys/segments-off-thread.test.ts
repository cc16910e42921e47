import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  decryptSegment,
  encryptSegment,
  encryptSegmentOffThread,
  generateContentKey,
  generateKeyId,
  SeededRandom,
  segmentCipherKey,
} from '../../../keys/index.ts'

describe('keys/segments: encryptSegmentOffThread (WebCrypto on the thread pool)', () => {
  const random = new SeededRandom('segments-off-thread')
  const contentKey = generateContentKey(random)
  const keyId = generateKeyId(random)

  it('gives exactly the bytes of encryptSegment, for any index and length', async () => {
    const key = await segmentCipherKey(contentKey)
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.nat({ max: 1000 }), fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1)),
        fc.uint8Array({ minLength: 0, maxLength: 5000 }),
        async (index, plaintext) => {
          const off = await encryptSegmentOffThread(key, keyId, index, plaintext)
          assert.deepEqual(off, encryptSegment(contentKey, keyId, index, plaintext))
          assert.deepEqual(decryptSegment(contentKey, keyId, index, off), plaintext)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('refuses what encryptSegment refuses, naming it', async () => {
    await assert.rejects(segmentCipherKey(new Uint8Array(31)), /contentKey/)
    const key = await segmentCipherKey(contentKey)
    await assert.rejects(encryptSegmentOffThread(key, new Uint8Array(15), 0, new Uint8Array(4)), /keyId/)
    await assert.rejects(encryptSegmentOffThread(key, keyId, -1, new Uint8Array(4)), {
      name: 'InvalidSegmentIndexError',
    })
    await assert.rejects(encryptSegmentOffThread(key, keyId, 1.5, new Uint8Array(4)), {
      name: 'InvalidSegmentIndexError',
    })
    await assert.rejects(
      encryptSegmentOffThread(key, keyId, 0, 'audio' as unknown as Uint8Array),
      /segment plaintext must be a Uint8Array/,
    )
  })
})
