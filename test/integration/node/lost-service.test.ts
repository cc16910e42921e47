import assert from 'node:assert/strict'
import { KEEP_ALIVE, type PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { AddressRefresher } from '../../../node/address-refresher.ts'
import type { ConsortNode } from '../../../node/consort-node.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { protocolId, registerRpc, rpcCall } from '../../../protocols/rpc/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { startMemoryNode, stopAll } from '../../helpers/nodes.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'

/** One hour and five minutes: past the hour after which libp2p's peer store hides an address. */
const PAST_ADDRESS_AGE_MS = 65 * 60_000

/** Date.now() moved forward by `ms` (libp2p's peer store reads it directly, not the node's clock) until `restore`. */
function advanceDateNow(): { by(ms: number): void; restore(): void } {
  const real = Date.now
  let offset = 0
  Date.now = () => real() + offset
  return {
    by: (ms) => {
      offset += ms
    },
    restore: () => {
      Date.now = real
    },
  }
}

async function storedAddresses(node: ConsortNode, peer: PeerId): Promise<string[]> {
  try {
    return (await node.libp2p.peerStore.get(peer)).addresses.map((a) => a.multiaddr.toString())
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return []
    throw err
  }
}

async function connectAndIdentify(from: ConsortNode, to: ConsortNode): Promise<void> {
  const identified = nextEvent<{ peerId: PeerId }>(from.libp2p, 'peer:identify', (d) => d.peerId.equals(to.peerId))
  await from.libp2p.dial(to.libp2p.getMultiaddrs()[0]!)
  await identified
}

/** Wait until `node`'s Kad-DHT routing table holds `peer` (it queries the network through it). */
async function inRoutingTable(node: ConsortNode, peer: ConsortNode): Promise<void> {
  const dht = (node.libp2p.services as unknown as { dht: { routingTable: { find(p: PeerId): Promise<unknown> } } }).dht
  await waitUntil(async () => (await dht.routingTable.find(peer.peerId)) != null, {
    message: `${peer.peerId} in the routing table of ${node.peerId}`,
  })
}

describe('a node that lost its connection to a service finds it again', function () {
  this.timeout(90_000)
  const nodes: ConsortNode[] = []
  let net: TestNetwork
  let clock: ReturnType<typeof advanceDateNow> | undefined

  before(async () => {
    net = await createTestNetwork(systemClock, { references: [await createNodeKeys()] })
  })
  afterEach(async () => {
    clock?.restore()
    clock = undefined
    await stopAll(nodes.splice(0))
  })

  /**
   * A reference service and a DHT server it is connected to; a caller (a DHT client, as players are: no DHT server
   * dials it on its own) connected to that server first, whose first Kad-DHT self-query (a second after it starts)
   * has run before the service joined: it has not met the service. It calls the service by its peer id, as a
   * retailer certifies offers.
   */
  async function world() {
    const service = await startMemoryNode({ network: net, clock: systemClock, keys: net.references[0]! })
    const hub = await startMemoryNode({ network: net, clock: systemClock })
    const caller = await startMemoryNode({ network: net, clock: systemClock, dhtClientMode: true })
    nodes.push(service, hub, caller)
    const protocol = protocolId(net.record.body.network, 'reference')
    await registerRpc(service.libp2p, protocol, { hello: async () => 'certified' })
    const selfQueried = nextEvent(caller.libp2p, 'kad-dht:query:self')
    await connectAndIdentify(caller, hub)
    await selfQueried
    await connectAndIdentify(service, hub)
    await inRoutingTable(hub, service)
    const call = () => rpcCall(caller.libp2p, service.peerId, protocol, 'hello', null, { deadlineMs: 15_000 })
    return { service, hub, caller, call }
  }

  it('through the DHT when its peer store holds the service without addresses (after a failed dial)', async () => {
    const { service, caller, call } = await world()
    // The caller dialled the service where it no longer listens (an old address): the peer store keeps an entry with
    // the failure noted and no address, which the DHT's cached lookup answered as "found, without addresses".
    await assert.rejects(
      caller.libp2p.dial(multiaddr(`/memory/consort-test-gone-${process.pid}/p2p/${service.peerId}`)),
    )
    assert.ok(await caller.libp2p.peerStore.has(service.peerId), 'the failed dial left an entry in the peer store')
    assert.deepEqual(await storedAddresses(caller, service.peerId), [])
    assert.equal(caller.libp2p.getConnections(service.peerId).length, 0)
    // Before the fix: RpcUnreachableError "no address known within 15000 ms".
    assert.equal(await call(), 'certified')
  })

  it('an hour after it first met the service, once the connection is closed', async () => {
    const { service, hub, caller, call } = await world()
    await connectAndIdentify(caller, service)
    // Nothing redials the service for the caller: it is no bootstrap peer, and Kad-DHT keeps alive only the kad-closest
    // peers of a DHT server.
    assert.ok(
      ![...(await caller.libp2p.peerStore.get(service.peerId)).tags.keys()].some((t) => t.startsWith(KEEP_ALIVE)),
    )
    // An hour and more later the connection closes (pruned, a network blip).
    clock = advanceDateNow()
    clock.by(PAST_ADDRESS_AGE_MS)
    await caller.libp2p.hangUp(service.peerId)
    await waitUntil(() => caller.libp2p.getConnections(service.peerId).length === 0, {
      message: 'the connection to the service closed',
    })
    assert.deepEqual(await storedAddresses(hub, service.peerId), [], "the hub's peer store hides them too")
    // Before the fix the caller's peer store hid the addresses (first seen over an hour ago), and so did the hub's,
    // which the DHT answers from: RpcUnreachableError "no address known within 15000 ms".
    assert.equal(await call(), 'certified')
  })

  it('the DHT tells where a peer is that its servers have been connected to for over an hour', async () => {
    const { service, hub, caller } = await world()
    // The hub's node refreshes every ADDRESS_REFRESH_MS of real time; this one, started beside it, is asked at once.
    const refresher = new AddressRefresher(hub.libp2p)
    refresher.start()
    try {
      await hub.libp2p.hangUp(service.peerId)
      await connectAndIdentify(service, hub)
      clock = advanceDateNow()
      clock.by(PAST_ADDRESS_AGE_MS)
      assert.deepEqual(await storedAddresses(hub, service.peerId), [], 'the peer store hides an hour-old address')
      await refresher.refreshConnected()
    } finally {
      refresher.stop()
    }
    assert.notDeepEqual(await storedAddresses(hub, service.peerId), [])
    const found = await caller.libp2p.peerRouting.findPeer(service.peerId, { useCache: false })
    assert.deepEqual(
      found.multiaddrs.map((a) => a.toString()).sort(),
      service.libp2p
        .getMultiaddrs()
        .map((a) => a.decapsulate(`/p2p/${service.peerId}`).toString())
        .sort(),
    )
  })
})
