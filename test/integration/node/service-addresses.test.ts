import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { ControlApi } from '../../../node/control-api.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { isError } from '../../../protocols/errors.ts'
import { protocolId, RpcUnreachableError, registerRpc, rpcCall } from '../../../protocols/rpc/index.ts'
import { createTestNetwork, type TestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'

/** A port on loopback where nothing listens (bound, read, released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function tcpNode(net: TestNetwork, bootstrap: string[] = []): Promise<ConsortNode> {
  const node = await createConsortNode({
    dataDir: null,
    network: net.record,
    keys: await createNodeKeys(),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    transports: { tcp: true, memory: false },
    bootstrap,
    targetConnections: 0,
  })
  await node.start()
  return node
}

describe('service addresses come from what peers announce', function () {
  this.timeout(60_000)
  const nodes: ConsortNode[] = []
  let net: TestNetwork

  before(async () => {
    net = await createTestNetwork(systemClock)
  })
  afterEach(async () => {
    await stopAll(nodes.splice(0))
  })

  it('a call to a service this node has not heard of yet waits until it announces itself, then succeeds', async () => {
    const service = await tcpNode(net)
    const caller = await tcpNode(net)
    nodes.push(service, caller)
    const protocol = protocolId(net.record.body.network, 'clearing')
    await registerRpc(service.libp2p, protocol, { hello: async () => 'hello' })
    // Before the fix this failed at once: "The dial request has no valid addresses for peer".
    const answer = rpcCall(caller.libp2p, service.peerId, protocol, 'hello', null, { deadlineMs: 20_000 })
    // The service turns up: it dials the caller (as a node that has just started dials its bootstrap peers), and
    // identify tells the caller where the service listens.
    await service.libp2p.dial(caller.libp2p.getMultiaddrs()[0]!)
    assert.equal(await answer, 'hello')
  })

  it('never uses the remote end of an inbound connection: the control API lists the peer at its listen address', async () => {
    const service = await tcpNode(net)
    const listener = await tcpNode(net)
    nodes.push(service, listener)
    // The service dials the listener: on the listener's side, the connection's remote end is an ephemeral port.
    await service.libp2p.dial(listener.libp2p.getMultiaddrs()[0]!)
    const api = new ControlApi(listener)
    const info = await api.start()
    try {
      const ask = async (path: string) => {
        const response = await fetch(`${info.url}${path}`, { headers: { authorization: `Bearer ${info.token}` } })
        assert.equal(response.status, 200, await response.clone().text())
        return response.json()
      }
      const listen = service.libp2p.getMultiaddrs().map((a) => a.toString())
      let peers: Array<{ peerId: string; addresses: string[]; connectedVia: string[] }> = []
      // identify runs right after the connection opens; the route reads what it recorded.
      for (let i = 0; i < 200; i++) {
        peers = await ask('/v1/peers')
        if ((peers.find((p) => p.peerId === service.peerId.toString())?.addresses.length ?? 0) > 0) break
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
      const seen = peers.find((p) => p.peerId === service.peerId.toString())!
      assert.deepEqual(seen.addresses, listen)
      assert.ok(
        seen.connectedVia.every((a) => !listen.some((l) => l.startsWith(a))),
        `the inbound connection's remote end (${seen.connectedVia}) is not where the service listens (${listen})`,
      )
      const found = (await ask(`/v1/peers/${service.peerId}/addresses?service=clearinghouse`)) as {
        addresses: string[]
      }
      assert.deepEqual(found.addresses, listen)
    } finally {
      await api.stop()
    }
  })

  it('an unreachable service is named, with the address tried and the reason', async () => {
    const caller = await tcpNode(net)
    const absent = await createNodeKeys()
    nodes.push(caller)
    const { peerIdOfKey } = await import('../../../protocols/peers.ts')
    const peer = peerIdOfKey(absent.signer.publicKey)
    const port = await closedPort()
    const address = multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${peer}`)
    const protocol = protocolId(net.record.body.network, 'clearing')
    await assert.rejects(rpcCall(caller.libp2p, address, protocol, 'balance', null), (err: Error) => {
      assert.ok(isError(err, RpcUnreachableError), `${err.name}: ${err.message}`)
      assert.equal(
        err.message,
        `clearinghouse ${peer} unreachable at /ip4/127.0.0.1/tcp/${port}/p2p/${peer}: ECONNREFUSED`,
      )
      return true
    })
    // Known to nobody: the error says so, within the deadline, instead of "no valid addresses".
    await assert.rejects(
      rpcCall(caller.libp2p, peer, protocol, 'balance', null, { deadlineMs: 1_000 }),
      (err: Error) => {
        assert.ok(isError(err, RpcUnreachableError), `${err.name}: ${err.message}`)
        assert.match(err.message, new RegExp(`^clearinghouse ${peer} unreachable: no address known within 1000 ms`))
        return true
      },
    )
  })
})
