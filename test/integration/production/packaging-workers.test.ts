import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { SeededRandom } from '../../../keys/random.ts'
import { type Market, startMarket } from './market.ts'

/**
 * Two tracks of 1.9 and 1.4 MB (synthesized at 8 kHz, 16-bit mono): several 1 MiB runs each, so the role's worker
 * threads package them (decision 0201); their 30 s previews (one run each) are sealed on the calling thread.
 */
const release = {
  consortRelease: 1,
  upc: '4006381333948',
  title: 'Sealed Either Way',
  artists: ['The Same Bytes'],
  tracks: [
    { isrc: 'DEABC2600011', title: 'One', durationSeconds: 120 },
    { isrc: 'DEABC2600012', title: 'Two', durationSeconds: 90 },
  ],
}

describe('production: packaging on worker threads publishes the same records as on the calling thread', function () {
  this.timeout(120_000)
  let market: Market

  before(async () => {
    market = await startMarket()
  })
  after(async () => {
    await market?.stop()
  })

  it('signs byte-identical manifests and release (same CIDs) with packagingWorkers auto and 0', async () => {
    // One label (same keys, same seeded randomness, the market's fake clock) publishes the same release twice on
    // fresh data directories: once sealing on its worker threads, once on the calling thread (decision 0109).
    const keys = await createNodeKeys()
    const published = []
    for (const packagingWorkers of ['auto', 0] as const) {
      const producer = await market.startProducer({
        keys,
        init: { packagingWorkers },
        dataDir: await market.tempDir(),
        random: new SeededRandom('same-release'),
      })
      const result = await producer.role.publishDescription({ release, synthesizeMissing: true })
      if (packagingWorkers === 'auto') assert.ok(producer.role.packagingThreads > 0, 'the tracks went to the workers')
      else assert.equal(producer.role.packagingThreads, 0)
      const [out] = result.releases
      published.push({
        release: out!.release?.toString(),
        tracks: out!.tracks.map((t) => [
          t.isrc,
          t.manifest.toString(),
          t.segments,
          Buffer.from(t.keyId).toString('hex'),
        ]),
      })
      await producer.node.stop()
      assert.equal(producer.role.packagingThreads, 0)
    }
    assert.ok(
      published[0]!.tracks.every((t) => (t[2] as number) > 4),
      'each track is more than one run',
    )
    assert.deepEqual(published[0], published[1])
  })
})
