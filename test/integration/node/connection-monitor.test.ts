import assert from 'node:assert/strict'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { type ConsortNode, type ConsortNodeConfig, createConsortNode } from '../../../node/consort-node.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { createTestNetwork } from '../../helpers/network.ts'
import { stopAll } from '../../helpers/nodes.ts'
import { waitUntil } from '../../helpers/wait.ts'

const PING = '/ipfs/ping/1.0.0'

/**
 * Two nodes; the second answers no ping (its handler takes the stream and stays silent), so every ping of the
 * first one's connection monitor hangs until it times out.
 */
async function pair(
  name: string,
  monitor: ConsortNodeConfig['connectionMonitor'],
): Promise<{ a: ConsortNode; b: ConsortNode; silent: Stream[] }> {
  const net = await createTestNetwork(systemClock)
  const node = async (suffix: string, withMonitor: boolean) =>
    await createConsortNode({
      dataDir: null,
      network: net.record,
      keys: await createNodeKeys(),
      listen: [`/memory/monitor-${name}-${suffix}-${process.pid}`],
      transports: { tcp: false, memory: true },
      targetConnections: 0,
      ...(withMonitor && monitor != null ? { connectionMonitor: monitor } : {}),
    })
  const a = await node('a', true)
  const b = await node('b', false)
  await a.start()
  await b.start()
  const silent: Stream[] = []
  await b.libp2p.unhandle(PING)
  await b.libp2p.handle(PING, (stream) => {
    silent.push(stream)
  })
  await a.libp2p.dial(multiaddr(`/memory/monitor-${name}-b-${process.pid}/p2p/${b.peerId}`))
  return { a, b, silent }
}

describe('connection monitor', function () {
  this.timeout(60_000)

  it("with abortOnPingFailure true (libp2p's own default), the monitor aborts a connection whose ping does not answer", async () => {
    const { a, b } = await pair('abort', { pingIntervalMs: 200, abortOnPingFailure: true })
    try {
      await waitUntil(() => a.libp2p.getConnections(b.peerId).length === 0, {
        message: 'the connection was aborted after a failed ping',
      })
      assert.equal(a.libp2p.getConnections(b.peerId).length, 0)
    } finally {
      await stopAll([a, b])
    }
  })

  it("by default (a Consort node's, decision 0009), a connection outlives pings that time out", async () => {
    const { a, b, silent } = await pair('keep', { pingIntervalMs: 200 })
    try {
      // Heartbeats every 200 ms: the first ping hangs until its time-out (5 s at least) and every heartbeat meanwhile
      // fails at once (one outbound ping stream per connection); 30 failed pings span more than a time-out.
      await waitUntil(() => silent.filter((s) => s.status !== 'open').length >= 30, {
        message: '30 pings failed',
      })
      const open = a.libp2p.getConnections(b.peerId)
      assert.equal(open.length, 1)
      assert.equal(open[0]?.status, 'open')
    } finally {
      await stopAll([a, b])
    }
  })
})
