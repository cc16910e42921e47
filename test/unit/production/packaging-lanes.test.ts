import assert from 'node:assert/strict'
import { MemoryBlockstore } from 'blockstore-core'
import type { CID } from 'multiformats/cid'
import { SeededRandom } from '../../../keys/random.ts'
import { encryptSegment } from '../../../keys/segments.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import { packageAudio, rawBlockCid, storeEncryptedSegments } from '../../../roles/production/packaging/index.ts'

const SEGMENT = 64 * 1024

/** Bytes that differ from segment to segment (so a segment sealed at the wrong index or place shows). */
function audio(bytes: number): Uint8Array {
  return new SeededRandom(`audio-${bytes}`).bytes(bytes)
}

describe('production packaging: segments sealed several at once off this thread', () => {
  it('stores exactly what sealing each segment on this thread gives, named by its hash, with progress for each', async () => {
    const plaintext = audio(5 * 1024 * 1024 + 1000) // 81 segments, the last one short
    const before = new Uint8Array(plaintext)
    const store = new MemoryBlockstore()
    const progress: number[] = []
    const track = await packageAudio(store, plaintext, {
      segmentSize: SEGMENT,
      random: new SeededRandom('lanes'),
      onSegment: (p) => {
        assert.equal(p.segments, 81)
        progress.push(p.segment)
      },
    })
    assert.equal(track.segments.length, 81)
    assert.deepEqual(
      progress,
      Array.from({ length: 81 }, (_, i) => i + 1),
    )
    for (const [i, cid] of track.segments.entries()) {
      const expected = encryptSegment(
        track.contentKey,
        track.keyId,
        i,
        plaintext.subarray(i * SEGMENT, (i + 1) * SEGMENT),
      )
      const block = await collectBlock(store.get(cid))
      assert.deepEqual(block, expected, `segment ${i}`)
      assert.ok(rawBlockCid(block).equals(cid), `segment ${i} is named by its hash`)
    }
    assert.deepEqual(plaintext, before, "the caller's bytes are untouched")
  })

  it('packages two tracks at once, each byte for byte', async () => {
    const tracks = [audio(3 * 1024 * 1024), audio(2 * 1024 * 1024 + 7)]
    const stores = [new MemoryBlockstore(), new MemoryBlockstore()]
    const packaged = await Promise.all(
      tracks.map((plaintext, t) =>
        packageAudio(stores[t]!, plaintext, { segmentSize: SEGMENT, random: new SeededRandom(`track-${t}`) }),
      ),
    )
    for (const [t, track] of packaged.entries()) {
      for (const [i, cid] of track.segments.entries()) {
        const plain = tracks[t]!.subarray(i * SEGMENT, (i + 1) * SEGMENT)
        const block = await collectBlock(stores[t]!.get(cid))
        assert.deepEqual(block, encryptSegment(track.contentKey, track.keyId, i, plain), `track ${t} segment ${i}`)
      }
    }
  })

  it('refuses a bad key by name and stops at an abort or a failing write, storing nothing after it', async () => {
    const plaintext = audio(40 * SEGMENT)
    await assert.rejects(
      storeEncryptedSegments(new MemoryBlockstore(), new Uint8Array(31), new Uint8Array(16), plaintext, SEGMENT),
      /contentKey/,
    )
    const key = new Uint8Array(32).fill(7)
    const keyId = new Uint8Array(16).fill(8)
    const controller = new AbortController()
    let puts = 0
    const aborting = {
      put(_cid: CID, _bytes: Uint8Array) {
        if (++puts === 5) controller.abort(new Error('stop packaging'))
      },
    }
    await assert.rejects(
      storeEncryptedSegments(aborting, key, keyId, plaintext, SEGMENT, { signal: controller.signal }),
      /stop packaging/,
    )
    assert.ok(puts < 40, `stopped after ${puts} writes`)
    let writes = 0
    const failing = {
      put() {
        if (++writes === 3) throw new Error('disk full')
      },
    }
    await assert.rejects(storeEncryptedSegments(failing, key, keyId, plaintext, SEGMENT), /disk full/)
    assert.ok(writes < 40, `stopped after ${writes} writes`)
  })
})
