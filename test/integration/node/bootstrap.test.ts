import assert from 'node:assert/strict'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { createConsortNode } from '../../../node/consort-node.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'

describe('bootstrap', function () {
  this.timeout(60_000)

  it('a node started before its bootstrap peer connects once the peer comes up (regression: one dial at start only)', async () => {
    const net = await createTestNetwork(systemClock)
    const seedKeys = await createNodeKeys()
    const seedAddress = `/memory/bootstrap-seed-${process.pid}/p2p/${peerIdFromPrivateKey(seedKeys.privateKey)}`
    const early = await createConsortNode({
      dataDir: null,
      network: net.record,
      keys: await createNodeKeys(),
      listen: [`/memory/bootstrap-early-${process.pid}`],
      bootstrap: [seedAddress],
      transports: { tcp: false, memory: true },
    })
    await early.start()
    const seed = await createConsortNode({
      dataDir: null,
      network: net.record,
      keys: seedKeys,
      listen: [`/memory/bootstrap-seed-${process.pid}`],
      transports: { tcp: false, memory: true },
    })
    try {
      await seed.start()
      await waitUntil(() => early.libp2p.getConnections().some((c) => c.remotePeer.equals(seed.peerId)), {
        message: 'the early node dialled its bootstrap peer again',
      })
      assert.ok(true)
    } finally {
      await stopAll([early, seed])
    }
  })
})
