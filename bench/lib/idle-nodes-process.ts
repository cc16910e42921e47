/**
 * A child process of the `idle` benchmark: it starts `nodes` real Consort nodes (no roles) on TCP over loopback,
 * connects them as the tests do (a ring and three chords each), lets them settle, and answers with the CPU its
 * process used over an idle window. One configuration of the connection monitor per process, so that the
 * configurations of one round run side by side under the same load and their CPU is counted apart.
 */
import { createNodeKeys } from '../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../node/consort-node.ts'
import { systemClock } from '../../protocols/clock.ts'
import { createTestNetwork } from '../../test/helpers/network.ts'
import { stopAll } from '../../test/helpers/nodes.ts'

export interface IdleRequest {
  nodes: number
  /** The connection monitor's interval; `null`: the node's own default. */
  pingIntervalMs: number | null
  settleMs: number
  windowMs: number
}

export interface IdleAnswer {
  /** CPU of the whole process (user + system) over the window, ms. */
  cpuMs: number
  windowMs: number
  nodes: number
  /** Connections open at the end of the window, counted from both ends. */
  connections: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Dials in flight at once, and attempts per dial: a hundred Noise handshakes at once time out on a loaded machine. */
const DIAL_CONCURRENCY = 2
const DIAL_ATTEMPTS = 5

/** A ring and three chords per node (as `connectMesh` of the tests), dialled a few at a time with retries. */
async function connect(nodes: ConsortNode[]): Promise<void> {
  const pairs: Array<[ConsortNode, ConsortNode]> = []
  for (let i = 0; i < nodes.length; i++) {
    for (const step of [1, 4, 7, 10]) {
      const t = (i + step) % nodes.length
      if (t !== i) pairs.push([nodes[i]!, nodes[t]!])
    }
  }
  // A link that fails every attempt is left out: the figures are per connection end as well as per node.
  const dial = async ([from, to]: [ConsortNode, ConsortNode]) => {
    for (let attempt = 1; attempt <= DIAL_ATTEMPTS; attempt++) {
      try {
        await from.libp2p.dial(to.libp2p.getMultiaddrs()[0]!)
        return
      } catch (err) {
        process.stderr.write(`idle nodes: dial failed (attempt ${attempt}): ${(err as Error).message}\n`)
      }
    }
  }
  const workers = Array.from({ length: DIAL_CONCURRENCY }, async () => {
    for (let pair = pairs.shift(); pair != null; pair = pairs.shift()) await dial(pair)
  })
  await Promise.all(workers)
}

async function measure(request: IdleRequest): Promise<IdleAnswer> {
  const network = await createTestNetwork(systemClock, { name: 'idle' })
  const nodes: ConsortNode[] = []
  try {
    for (let i = 0; i < request.nodes; i++) {
      const node = await createConsortNode({
        dataDir: null,
        network: network.record,
        keys: await createNodeKeys(),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        transports: { tcp: true, memory: false },
        targetConnections: 0,
        ...(request.pingIntervalMs != null ? { connectionMonitor: { pingIntervalMs: request.pingIntervalMs } } : {}),
      })
      nodes.push(node)
      await node.start()
    }
    await connect(nodes)
    await sleep(request.settleMs)
    const before = process.cpuUsage()
    await sleep(request.windowMs)
    const used = process.cpuUsage(before)
    const connections = nodes.reduce((sum, node) => sum + node.libp2p.getConnections().length, 0)
    return { cpuMs: (used.user + used.system) / 1000, windowMs: request.windowMs, nodes: nodes.length, connections }
  } finally {
    await stopAll(nodes)
  }
}

// libp2p's background work (DHT queries, identify) can reject after its node has stopped: not the measurement's concern.
process.on('unhandledRejection', (err) => {
  process.stderr.write(`idle nodes: unhandled rejection: ${(err as Error).message}\n`)
})

process.once('message', (request: IdleRequest) => {
  measure(request).then(
    (answer) => process.send?.(answer, () => process.exit(0)),
    (err: unknown) => {
      process.stderr.write(`idle nodes failed: ${(err as Error).stack ?? String(err)}\n`)
      process.exit(1)
    },
  )
})
