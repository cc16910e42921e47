import assert from 'node:assert/strict'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { type NatOptions, NO_NAT } from '../../../node/libp2p-options.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { protocolId } from '../../../protocols/rpc/constants.ts'
import { pullResponse, SYNC_OPS, SYNC_PROTOCOL } from '../../../protocols/sync/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'

/**
 * Reaching nodes that are not simply dialable over TCP: a peer that can only be reached through a relay (circuit
 * relay v2), and a browser-style client speaking WebSockets. Both on loopback here; behind real NAT in
 * test/e2e/hosts (network namespaces).
 */
describe('reachability: relays and WebSockets', function () {
  this.timeout(60_000)
  let net: TestNetwork
  const nodes: ConsortNode[] = []

  const start = async (listen: string[], nat: NatOptions) => {
    const node = await createConsortNode({
      dataDir: null,
      network: net.record,
      keys: await createNodeKeys(),
      listen,
      nat,
      targetConnections: 0,
    })
    nodes.push(node)
    await node.start()
    return node
  }

  before(async () => {
    net = await createTestNetwork(systemClock, { name: 'reach' })
  })

  after(async () => {
    await stopAll(nodes)
  })

  it('a node that reserved a slot on a relay answers requests through it', async () => {
    const relay = await start(['/ip4/127.0.0.1/tcp/0'], { ...NO_NAT, relayServer: true })
    // The hidden node listens on nothing but the relay: it cannot be dialled directly, as if behind NAT.
    const hidden = await start([], { ...NO_NAT, reserveRelay: true })
    await hidden.libp2p.dial(relay.libp2p.getMultiaddrs()[0]!)
    await waitUntil(() => hidden.addresses().some((a) => a.includes('/p2p-circuit')), {
      message: 'the hidden node has a relayed address',
    })
    const circuit = hidden.addresses().find((a) => a.includes('/p2p-circuit'))!
    assert.ok(circuit.startsWith(relay.libp2p.getMultiaddrs()[0]!.toString()), circuit)

    const caller = await start(['/ip4/127.0.0.1/tcp/0'], NO_NAT)
    const connection = await caller.libp2p.dial(multiaddr(circuit))
    assert.notEqual(connection.limits, undefined, 'the connection goes through the relay (limited)')
    const answer = pullResponse.parse(
      await rpcCall(caller.libp2p, hidden.peerId, protocolId(net.name, SYNC_PROTOCOL), SYNC_OPS.pull, {
        topics: ['offers'],
        epoch: null,
        after: 0,
        limit: 10,
      }),
    )
    assert.equal(answer.epoch, hidden.sync.log.epoch)
  })

  it('a stock libp2p client reaches a service node over WebSockets and speaks its protocols', async () => {
    const service = await start(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], NO_NAT)
    const ws = service.libp2p.getMultiaddrs().find((a) => a.toString().includes('/ws'))
    assert.ok(ws != null, service.addresses().join(' '))
    const client = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
    })
    try {
      const connection = await client.dial(ws)
      assert.match(connection.remoteAddr.toString(), /\/ws/)
      // Identify tells the client what the node speaks (the stream's own protocol is recorded a moment before).
      const sync = protocolId(net.name, SYNC_PROTOCOL)
      await waitUntil(async () => (await client.peerStore.get(service.peerId)).protocols.includes(sync), {
        message: `identify lists ${sync}`,
      })
      const answer = pullResponse.parse(
        await rpcCall(client, service.peerId, sync, SYNC_OPS.pull, {
          topics: ['catalog'],
          epoch: null,
          after: 0,
          limit: 1,
        }),
      )
      assert.equal(answer.epoch, service.sync.log.epoch)
    } finally {
      await client.stop()
    }
  })
})
