import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryBlockstore } from 'blockstore-core'
import { LevelBlockstore } from 'blockstore-level'
import { SeededRandom } from '../../../keys/random.ts'
import { encryptSegment } from '../../../keys/segments.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import { packageAudio, rawBlockCid, SealPool } from '../../../roles/production/packaging/index.ts'

/** Bytes that differ from segment to segment (a segment sealed at the wrong index or place shows). */
function audio(bytes: number): Uint8Array {
  return new SeededRandom(`seal-pool-${bytes}`).bytes(bytes)
}

/** A plain Uint8Array of the same bytes (a Buffer and a Uint8Array of equal bytes are not deepEqual). */
const bytesOf = (bytes: Uint8Array) => new Uint8Array(bytes)

const KiB = 1024
const MiB = 1024 * KiB

describe('production packaging on worker threads (decision 0201)', function () {
  this.timeout(60_000)
  let pool: SealPool

  before(() => {
    pool = new SealPool({ workers: 2 })
  })
  after(async () => {
    await pool.close()
  })

  it('gives the same key, blocks, CIDs and layout as sealing on the calling thread, in segment order', async () => {
    // One segment; exactly one run; runs and a short last segment; many runs of small segments; a size that is
    // no divisor of a run.
    const cases = [
      { bytes: 100 * KiB, segmentSize: 256 * KiB },
      { bytes: 4 * 256 * KiB, segmentSize: 256 * KiB },
      { bytes: 5 * MiB + 1000, segmentSize: 256 * KiB },
      { bytes: 3 * MiB + 7, segmentSize: 16 * KiB },
      { bytes: 2 * MiB + 3, segmentSize: 300_000 },
    ]
    for (const { bytes, segmentSize } of cases) {
      const plaintext = audio(bytes)
      const before = new Uint8Array(plaintext)
      const here = new MemoryBlockstore()
      const there = new MemoryBlockstore()
      const seed = `same-${bytes}-${segmentSize}`
      const progress: number[] = []
      const onThread = await packageAudio(here, plaintext, { segmentSize, random: new SeededRandom(seed) })
      const onPool = await packageAudio(there, plaintext, {
        segmentSize,
        random: new SeededRandom(seed),
        pool,
        onSegment: (p) => progress.push(p.segment),
      })
      const label = `${bytes} bytes in ${segmentSize}-byte segments`
      const { segments, ...layout } = onPool
      const { segments: threadSegments, ...threadLayout } = onThread
      assert.deepEqual(layout, threadLayout, `${label}: key, key id, byte size, segment size`)
      assert.deepEqual(
        dagCbor.encode(segments),
        dagCbor.encode(threadSegments),
        `${label}: the manifest's segment list`,
      )
      assert.equal(onPool.segments.length, Math.ceil(bytes / segmentSize))
      assert.deepEqual(
        progress,
        onPool.segments.map((_, i) => i + 1),
        `${label}: one progress event per segment`,
      )
      for (const [i, cid] of onPool.segments.entries()) {
        const block = await collectBlock(there.get(cid))
        const plain = plaintext.subarray(i * segmentSize, (i + 1) * segmentSize)
        assert.deepEqual(bytesOf(block), encryptSegment(onPool.contentKey, onPool.keyId, i, plain), `${label}: ${i}`)
        assert.ok(rawBlockCid(block).equals(cid), `${label}: segment ${i} is named by its hash`)
      }
      assert.deepEqual(plaintext, before, "the caller's bytes are untouched")
    }
    assert.equal(pool.threads, 2)
  })

  it('stores blocks a LevelDB blockstore reads back whole (blocks are views of a run buffer)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), `consort-seal-pool-${process.pid}-`))
    const level = new LevelBlockstore(dir)
    await level.open()
    try {
      const plaintext = audio(3 * MiB + 5)
      const track = await packageAudio(level, plaintext, { random: new SeededRandom('level'), pool })
      for (const [i, cid] of track.segments.entries()) {
        const block = await collectBlock(level.get(cid))
        const plain = plaintext.subarray(i * 256 * KiB, (i + 1) * 256 * KiB)
        assert.deepEqual(bytesOf(block), encryptSegment(track.contentKey, track.keyId, i, plain), `segment ${i}`)
      }
    } finally {
      await level.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('packages several tracks at once through one pool, each byte for byte', async () => {
    const tracks = [audio(3 * MiB), audio(2 * MiB + 7), audio(4 * MiB + 1)]
    const stores = tracks.map(() => new MemoryBlockstore())
    const packaged = await Promise.all(
      tracks.map((plaintext, t) => packageAudio(stores[t]!, plaintext, { random: new SeededRandom(`t${t}`), pool })),
    )
    for (const [t, track] of packaged.entries()) {
      const alone = await packageAudio(new MemoryBlockstore(), tracks[t]!, { random: new SeededRandom(`t${t}`) })
      assert.deepEqual(track.segments.map(String), alone.segments.map(String), `track ${t}`)
    }
  })

  it("names a worker's sealing error: the segment, the worker, the error's name and message", async () => {
    // Past packaging's own checks (which refuse a bad key id on the calling thread, as before), straight to a worker.
    const job = pool.job(new Uint8Array(32), new Uint8Array(15), audio(MiB), 256 * KiB)
    await assert.rejects(pool.seal(job, 0, 4), (err: Error & { code?: string; cause?: Error & { code?: string } }) => {
      assert.equal(err.name, 'SegmentSealError')
      assert.equal(err.code, 'ERR_SEGMENT_SEAL')
      assert.match(err.message, /segment 0 could not be sealed on packaging worker \d+: InvalidByteLengthError: keyId/)
      assert.equal(err.cause?.name, 'InvalidByteLengthError')
      assert.equal(err.cause?.code, 'ERR_KEYS_INVALID_BYTE_LENGTH')
      return true
    })
    await assert.rejects(
      packageAudio(new MemoryBlockstore(), audio(2 * MiB), {
        key: { contentKey: new Uint8Array(32), keyId: new Uint8Array(15) },
        pool,
      }),
      { name: 'InvalidByteLengthError' },
    )
    // The workers are still there for the next track.
    const track = await packageAudio(new MemoryBlockstore(), audio(2 * MiB), {
      random: new SeededRandom('after'),
      pool,
    })
    assert.equal(track.segments.length, 8)
  })

  it('surfaces workers that die, then stops restarting them; a closed pool seals on the calling thread', async () => {
    // A heap too small for the worker's modules: each worker runs out of memory as it starts.
    const starved = new SealPool({
      workers: 1,
      resourceLimits: { maxOldGenerationSizeMb: 4 },
    })
    try {
      await assert.rejects(
        packageAudio(new MemoryBlockstore(), audio(3 * MiB), { random: new SeededRandom('starved'), pool: starved }),
        (err: Error) => {
          assert.equal(err.name, 'SegmentSealError')
          assert.match(err.message, /^segments 0\.\.3: packaging worker \d+ failed: .*memory limit/)
          return true
        },
      )
    } finally {
      await starved.close()
    }
    assert.equal(starved.threads, 0)
    assert.equal(starved.available, false)
    const plaintext = audio(2 * MiB)
    const closed = await packageAudio(new MemoryBlockstore(), plaintext, {
      random: new SeededRandom('c'),
      pool: starved,
    })
    const here = await packageAudio(new MemoryBlockstore(), plaintext, { random: new SeededRandom('c') })
    assert.deepEqual(closed, here)
  })

  it('stops at an abort or a failing write, storing nothing after it', async () => {
    const plaintext = audio(40 * 256 * KiB)
    const controller = new AbortController()
    let puts = 0
    const aborting = {
      put() {
        if (++puts === 5) controller.abort(new Error('stop packaging'))
      },
    }
    await assert.rejects(packageAudio(aborting, plaintext, { pool, signal: controller.signal }), /stop packaging/)
    assert.equal(puts, 5)
    let writes = 0
    const failing = {
      put() {
        if (++writes === 3) throw new Error('disk full')
      },
    }
    await assert.rejects(packageAudio(failing, plaintext, { pool }), /disk full/)
    assert.equal(writes, 3)
  })
})
