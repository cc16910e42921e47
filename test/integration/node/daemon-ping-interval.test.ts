import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNodeKeys } from '../../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import { type Daemon, startDaemon } from '../../../node/daemon.ts'
import { dataDirPaths } from '../../../node/data-dir.ts'
import { initDataDir } from '../../../node/init.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { createTestNetwork } from '../../helpers/network.ts'

const PING = '/ipfs/ping/1.0.0'

describe("a daemon pings its connections at config.json's connectionMonitor.pingIntervalMs (decision 0019)", function () {
  // With the default (once a minute) the three pings below would take three minutes.
  this.timeout(60_000)
  let dir: string
  let daemon: Daemon | undefined
  let peer: ConsortNode | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `consort-ping-interval-${process.pid}-`))
  })
  after(async () => {
    await daemon?.stop()
    await peer?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('every second when config.json says 1000', async () => {
    const net = await createTestNetwork(systemClock)
    await initDataDir(dir, { network: net.record, listen: ['/ip4/127.0.0.1/tcp/0'] })
    const configPath = dataDirPaths(dir).config
    const config = JSON.parse(await readFile(configPath, 'utf8'))
    assert.deepEqual(config.connectionMonitor, { pingIntervalMs: 60_000 }, 'init writes the default')
    await writeFile(configPath, JSON.stringify({ ...config, connectionMonitor: { pingIntervalMs: 1_000 } }))
    daemon = await startDaemon(dir, { metrics: false })
    peer = await createConsortNode({
      dataDir: null,
      network: net.record,
      keys: await createNodeKeys(),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      targetConnections: 0,
      // This end pings rarely: the pings counted are the daemon's.
      connectionMonitor: { pingIntervalMs: 3_600_000 },
    })
    await peer.start()
    // Count the daemon's pings as they arrive (each is a new stream), and answer them.
    const { promise: threePings, resolve } = Promise.withResolvers<void>()
    const { promise: tooLate, reject: rejectLate } = Promise.withResolvers<void>()
    let pings = 0
    await peer.libp2p.unhandle(PING)
    await peer.libp2p.handle(PING, (stream) => {
      if (++pings === 3) resolve()
      stream.abort(new Error('counted'))
    })
    await peer.libp2p.dial(daemon.node.libp2p.getMultiaddrs()[0]!)
    // The claim is about time: at libp2p's own interval (10 s, what the daemon used before it passed the setting on)
    // the first ping would come after 10 s. Three at one a second take about 3 s; 9 s leaves room for a loaded machine.
    const late = setTimeout(() => rejectLate(new Error(`${pings} ping(s) within 9 s`)), 9_000)
    try {
      await Promise.race([threePings, tooLate])
    } finally {
      clearTimeout(late)
    }
    assert.ok(pings >= 3)
  })
})
