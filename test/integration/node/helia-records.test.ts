import assert from 'node:assert/strict'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { signRecord } from '../../../protocols/records/envelope.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { startMemoryNode } from '../../helpers/nodes.ts'
import { sampleManifestBody } from '../../helpers/records.ts'

describe('records as Helia blocks', function () {
  this.timeout(30_000)

  it("pins a record with Helia's own walker (regression: dag-cbor was not a known codec and pinning crashed)", async () => {
    const net = await createTestNetwork(systemClock)
    const producer = await createNodeKeys()
    const node = await startMemoryNode({ network: net, clock: systemClock })
    try {
      const record = signRecord('consort/manifest', sampleManifestBody(net.name, systemClock.now()), producer.signer)
      await node.records.put(record)
      for await (const _ of node.helia.pins.add(record.id, { depth: 0 })) {
        // drain
      }
      assert.equal(await node.helia.pins.isPinned(record.id), true)
      const back = await node.records.getAs('consort/manifest', record.id, { offline: true })
      assert.ok(back.id.equals(record.id))
    } finally {
      await node.stop()
    }
  })
})
