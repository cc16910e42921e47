import assert from 'node:assert/strict'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { MemoryBlockstore } from 'blockstore-core'
import { SeededRandom } from '../../../keys/random.ts'
import { encryptSegment } from '../../../keys/segments.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import { packageAudio, rawBlockCid, sealPool } from '../../../roles/production/packaging/index.ts'
import { SealPool } from '../../../roles/production/packaging/seal-pool.ts'

const SEGMENT = 64 * 1024

/** Bytes that differ from segment to segment (so a segment sealed at the wrong index or place shows). */
function audio(bytes: number): Uint8Array {
  return new SeededRandom(`audio-${bytes}`).bytes(bytes)
}

describe('production packaging on worker threads', () => {
  it('stores exactly what sealing each segment on this thread gives, over several runs on the workers', async () => {
    const plaintext = audio(5 * 1024 * 1024 + 1000) // 81 segments, the last one short; 6 runs
    const store = new MemoryBlockstore()
    const progress: number[] = []
    const track = await packageAudio(store, plaintext, {
      segmentSize: SEGMENT,
      random: new SeededRandom('pool'),
      onSegment: (p) => progress.push(p.segment),
    })
    assert.ok(sealPool().workers > 0, 'the workers sealed the runs')
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
    assert.equal(plaintext.length, 5 * 1024 * 1024 + 1000, "the caller's bytes are untouched")
  })

  it('packages two tracks at once on the shared workers, each byte for byte', async () => {
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

  it('refuses a bad key with the error that names it, and seals the runs in flight on this thread when closed', async () => {
    const pool = new SealPool(2)
    try {
      await assert.rejects(pool.seal(new Uint8Array(31), new Uint8Array(16), 0, audio(SEGMENT), SEGMENT), /contentKey/)
      const key = new Uint8Array(32).fill(7)
      const keyId = new Uint8Array(16).fill(8)
      const plaintext = audio(4 * SEGMENT)
      const runs = [0, 1, 2, 3].map((i) =>
        pool.seal(key, keyId, i, plaintext.subarray(i * SEGMENT, (i + 1) * SEGMENT), SEGMENT),
      )
      await pool.close()
      const sealed = await Promise.all(runs)
      for (const [i, run] of sealed.entries()) {
        assert.deepEqual(
          run.ciphertexts[0],
          encryptSegment(key, keyId, i, plaintext.subarray(i * SEGMENT, (i + 1) * SEGMENT)),
        )
      }
    } finally {
      await pool.close()
    }
  })

  it('seals every run on this thread where worker threads are refused (as the simulator refuses them)', async () => {
    const workers = createRequire(import.meta.url)('node:worker_threads') as { Worker: unknown }
    const saved = workers.Worker
    workers.Worker = function refused() {
      throw new Error('no worker threads here')
    }
    syncBuiltinESMExports()
    const pool = new SealPool(2)
    try {
      const key = new Uint8Array(32).fill(3)
      const keyId = new Uint8Array(16).fill(4)
      const plaintext = audio(3 * SEGMENT)
      const runs = await Promise.all(
        [0, 1, 2].map((i) => pool.seal(key, keyId, i, plaintext.subarray(i * SEGMENT, (i + 1) * SEGMENT), SEGMENT)),
      )
      assert.equal(pool.workers, 0)
      assert.equal(pool.working, false)
      for (const [i, run] of runs.entries()) {
        const plain = plaintext.subarray(i * SEGMENT, (i + 1) * SEGMENT)
        assert.deepEqual(run.ciphertexts[0], encryptSegment(key, keyId, i, plain))
      }
    } finally {
      workers.Worker = saved
      syncBuiltinESMExports()
      await pool.close()
    }
  })

  it('stops at an abort, with the abort as the error', async () => {
    const controller = new AbortController()
    const plaintext = audio(4 * 1024 * 1024)
    const done = packageAudio(new MemoryBlockstore(), plaintext, {
      segmentSize: SEGMENT,
      signal: controller.signal,
      onSegment: (p) => {
        if (p.segment === 3) controller.abort()
      },
    })
    await assert.rejects(done, { name: 'AbortError' })
  })
})
