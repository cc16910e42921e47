import assert from 'node:assert/strict'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import {
  BOOTSTRAP_MAX_BACKOFF_CHECKS,
  bootstrapBackoffChecks,
  CONNECTION_CHECK_MS,
} from '../../../node/connection-keeper.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { dhtProtocol } from '../../../node/libp2p-options.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'

let counter = 0

/** A node on the memory transport; `dhtServer: false` makes it a DHT client (a player). */
async function startNode(
  net: TestNetwork,
  options: { keys?: NodeKeys; address?: string; bootstrap?: string[]; target?: number; dhtServer: boolean },
): Promise<ConsortNode> {
  const node = await createConsortNode({
    dataDir: null,
    network: net.record,
    keys: options.keys ?? (await createNodeKeys()),
    listen: [options.address ?? `/memory/dht-redial-${process.pid}-${++counter}`],
    transports: { tcp: false, memory: true },
    bootstrap: options.bootstrap ?? [],
    targetConnections: options.target ?? 0,
    dhtClientMode: !options.dhtServer,
  })
  await node.start()
  return node
}

const connectedTo = (node: ConsortNode, peer: PeerId) => node.libp2p.getConnections(peer).length > 0

/**
 * A listener (a DHT client keeping 2 connections) whose bootstrap peer is the only DHT server, and two other players
 * (DHT clients) it is connected to: with its bootstrap peer gone it still holds its target of connections, none of
 * them to a DHT server.
 */
async function world(name: string, options: { dialServer: boolean }) {
  const net = await createTestNetwork(systemClock)
  const serverKeys = await createNodeKeys()
  const serverAddress = `/memory/dht-redial-${name}-server-${process.pid}`
  const serverId = peerIdFromPrivateKey(serverKeys.privateKey)
  const nodes: ConsortNode[] = []
  const server = await startNode(net, { keys: serverKeys, address: serverAddress, dhtServer: true })
  nodes.push(server)
  const players = [await startNode(net, { dhtServer: false }), await startNode(net, { dhtServer: false })]
  nodes.push(...players)
  const identified = nextEvent<{ peerId: PeerId }>(server.libp2p, 'peer:identify')
  const listener = await startNode(net, {
    bootstrap: [`${serverAddress}/p2p/${serverId}`],
    target: 2,
    dhtServer: false,
  })
  nodes.push(listener)
  for (const player of players) await listener.libp2p.dial(player.libp2p.getMultiaddrs()[0]!)
  if (options.dialServer) await listener.libp2p.dial(server.libp2p.getMultiaddrs()[0]!)
  await waitUntil(() => connectedTo(listener, serverId), { message: 'the listener reaches its bootstrap peer' })
  await identified
  await waitUntil(
    async () => (await listener.libp2p.peerStore.get(serverId)).protocols.includes(dhtProtocol(net.name)),
    { message: 'the listener knows its bootstrap peer is a DHT server' },
  )
  return { net, nodes, server, serverKeys, serverAddress, serverId, players, listener }
}

describe('a node with no DHT server among its connections redials its bootstrap peers (decision 0018)', function () {
  // Each case reconnects within one or two of the keeper's checks (5 s each); before the change it never did.
  this.timeout(60_000)
  const nodes: ConsortNode[] = []
  afterEach(async () => {
    await stopAll(nodes.splice(0))
  })

  it('when its first connections were all to DHT clients (libp2p dials no discovered peer, so not its bootstrap list)', async () => {
    // Before: "still waiting for: the listener reaches its bootstrap peer" — it held its target, two players.
    const w = await world('first', { dialServer: false })
    nodes.push(...w.nodes)
    assert.ok(connectedTo(w.listener, w.serverId))
  })

  // This one held before decision 0018 as well (the listener was back within about 2 s; something in libp2p or its
  // Kad-DHT redials a routing-table peer it loses, not traced further); kept so that it stays so.
  it('after every connection to a DHT server was dropped (a partition that healed)', async () => {
    const w = await world('dropped', { dialServer: true })
    nodes.push(...w.nodes)
    assert.equal(w.listener.libp2p.getConnections().length, 3)
    await w.server.libp2p.hangUp(w.listener.peerId)
    await waitUntil(() => !connectedTo(w.listener, w.serverId), { message: 'the server hung up' })
    // Two connections, its target, both to DHT clients.
    assert.equal(new Set(w.listener.libp2p.getConnections().map((c) => c.remotePeer.toString())).size, 2)
    await nextEvent<PeerId>(w.listener.libp2p, 'peer:connect', (peer) => peer.equals(w.serverId))
    assert.ok(connectedTo(w.listener, w.serverId))
  })

  // Before: "still waiting for: the event peer:connect" — two connections to players, none to a DHT server.
  it('after its bootstrap peer restarted', async () => {
    const w = await world('restarted', { dialServer: true })
    nodes.push(...w.players, w.listener)
    await w.server.stop()
    await waitUntil(() => !connectedTo(w.listener, w.serverId), { message: 'the server is gone' })
    const back = nextEvent<PeerId>(w.listener.libp2p, 'peer:connect', (peer) => peer.equals(w.serverId))
    const restarted = await startNode(w.net, { keys: w.serverKeys, address: w.serverAddress, dhtServer: true })
    nodes.push(restarted)
    await back
    assert.ok(connectedTo(w.listener, w.serverId))
  })

  it('backs off a failing bootstrap address: 1, 2, 4 … checks, at most five minutes', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((failures) => bootstrapBackoffChecks(failures)),
      [1, 2, 4, 8, 16, 32, 60, 60],
    )
    assert.equal(bootstrapBackoffChecks(0), 0)
    assert.equal(BOOTSTRAP_MAX_BACKOFF_CHECKS * CONNECTION_CHECK_MS, 5 * 60_000)
  })
})
