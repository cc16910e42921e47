import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { MemoryBlockstore } from 'blockstore-core'
import { parseBuffer } from 'music-metadata'
import { SeededRandom } from '../../../keys/random.ts'
import { collectBlock } from '../../../protocols/records/store.ts'
import { scanAudio } from '../../../roles/production/audio/index.ts'
import {
  packageAudio,
  packagePreview,
  rawBlockCid,
  readSegments,
  segmentCount,
} from '../../../roles/production/packaging/index.ts'
import { fixturePath } from '../../fixtures.ts'

const flac = new Uint8Array(readFileSync(fixturePath('audio', 'sample-84k.flac')))
const SEGMENT = 16 * 1024

describe('production packaging: the real FLAC fixture', () => {
  const store = new MemoryBlockstore()
  let track: Awaited<ReturnType<typeof packageAudio>>
  let preview: Awaited<ReturnType<typeof packagePreview>>

  before(async () => {
    track = await packageAudio(store, flac, { segmentSize: SEGMENT, random: new SeededRandom('packaging') })
    preview = await packagePreview(store, scanAudio(flac), { startMs: 250, durationMs: 400 }, { segmentSize: SEGMENT })
  })

  it('cuts the file into fixed-size segments, each stored as a raw block under the CID of its ciphertext', async () => {
    assert.equal(track.segments.length, Math.ceil(flac.length / SEGMENT))
    assert.equal(track.segments.length, segmentCount(flac.length, SEGMENT))
    for (const [i, cid] of track.segments.entries()) {
      const block = await collectBlock(store.get(cid))
      assert.ok(rawBlockCid(block).equals(cid))
      const plain = Math.min(SEGMENT, flac.length - i * SEGMENT)
      assert.equal(block.length, plain + 16, 'ciphertext plus the GCM tag')
      // Encrypted: no plaintext segment appears in its block.
      assert.notDeepEqual(block.subarray(0, 64), flac.subarray(i * SEGMENT, i * SEGMENT + 64))
    }
  })

  it('decrypts segment by segment with the content key to exactly the original bytes', async () => {
    const joined = await readSegments(store, track.segments, track.contentKey, track.keyId)
    assert.equal(Buffer.compare(Buffer.from(joined), Buffer.from(flac)), 0)
  })

  it('refuses another key, another key id, or segments out of order', async () => {
    await assert.rejects(readSegments(store, track.segments, preview.fields.key, track.keyId), {
      name: 'SegmentReadError',
    })
    await assert.rejects(readSegments(store, track.segments, track.contentKey, preview.fields.keyId), {
      name: 'SegmentReadError',
    })
    const swapped = [track.segments[1]!, track.segments[0]!, ...track.segments.slice(2)]
    await assert.rejects(readSegments(store, swapped, track.contentKey, track.keyId), /segment 0 does not decrypt/)
  })

  it('packages the preview as a FLAC file of its own that plays, under its own published key', async () => {
    const clip = await readSegments(store, preview.fields.segments, preview.fields.key, preview.fields.keyId)
    assert.equal(clip.length, preview.fields.byteSize)
    const metadata = await parseBuffer(clip, { mimeType: 'audio/flac' }, { duration: true })
    assert.equal(metadata.format.codec, 'FLAC')
    assert.equal(metadata.format.sampleRate, 44100)
    assert.ok(Math.abs(metadata.format.duration! * 1000 - preview.fields.durationMs) < 2)
    assert.ok(preview.fields.startMs <= 250 && preview.fields.startMs + preview.fields.durationMs >= 650)
    assert.ok(preview.fields.durationMs < 700, 'about the asked 400 ms, not the recording')
    assert.equal(preview.fields.codec, 'flac')
  })

  it('keeps the preview apart: its key opens none of the track, the content key none of the preview', async () => {
    assert.notDeepEqual(preview.fields.key, track.contentKey)
    await assert.rejects(readSegments(store, preview.fields.segments, track.contentKey, preview.fields.keyId), {
      name: 'SegmentReadError',
    })
    const shared = preview.fields.segments.filter((p) => track.segments.some((s) => s.equals(p)))
    assert.equal(shared.length, 0)
  })

  it('refuses segment sizes outside 16 KiB..1 MiB', async () => {
    await assert.rejects(packageAudio(store, flac, { segmentSize: 1000 }), { name: 'SegmentLayoutError' })
    await assert.rejects(packageAudio(store, flac, { segmentSize: 2 * 1024 * 1024 }), { name: 'SegmentLayoutError' })
  })
})
