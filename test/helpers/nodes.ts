import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../node/consort-node.ts'
import type { NodeMetrics } from '../../node/metrics.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { RoleName } from '../../protocols/records/types/common.ts'
import type { TestNetwork } from './network.ts'

let memoryAddressCounter = 0

export interface TestNodeOptions {
  network: TestNetwork
  clock: Clock
  keys?: NodeKeys
  roles?: RoleName[]
  roleOptions?: Partial<Record<RoleName, Record<string, unknown>>>
  dataDir?: string | null
  /** Certify this node for these roles (defaults to its roles). */
  certRoles?: RoleName[]
  targetConnections?: number
  /** A Kad-DHT client (a player or listener) instead of a server. */
  dhtClientMode?: boolean
  /** Count for a Prometheus endpoint. */
  metrics?: NodeMetrics
}

/** One in-process node on the memory transport, started and certified for its roles. */
export async function startMemoryNode(options: TestNodeOptions): Promise<ConsortNode> {
  const keys = options.keys ?? (await createNodeKeys())
  const node = await createConsortNode({
    dataDir: options.dataDir ?? null,
    network: options.network.record,
    keys,
    listen: [`/memory/consort-test-${process.pid}-${++memoryAddressCounter}`],
    transports: { tcp: false, memory: true },
    roles: options.roles ?? [],
    roleOptions: options.roleOptions ?? {},
    clock: options.clock,
    // Tests build their own topologies: no node dials peers of its own accord unless a test asks.
    targetConnections: options.targetConnections ?? 0,
    ...(options.dhtClientMode != null ? { dhtClientMode: options.dhtClientMode } : {}),
    ...(options.metrics != null ? { metrics: options.metrics } : {}),
  })
  await node.start()
  const certRoles = options.certRoles ?? options.roles ?? []
  if (certRoles.length > 0) await node.credentials.setCert(options.network.certify(keys, certRoles))
  return node
}

/** Connect nodes in a ring with `extra` random chords each, so that gossip has more than one path. */
export async function connectMesh(nodes: ConsortNode[], extra = 2): Promise<void> {
  const dials: Promise<unknown>[] = []
  for (let i = 0; i < nodes.length; i++) {
    const targets = new Set<number>([(i + 1) % nodes.length])
    for (let j = 1; j <= extra; j++) targets.add((i + j * 3 + 1) % nodes.length)
    for (const t of targets) {
      if (t === i) continue
      dials.push(nodes[i]!.libp2p.dial(nodes[t]!.libp2p.getMultiaddrs()[0]!))
    }
  }
  await Promise.all(dials)
}

/** Wait until every node knows at least `min` peers that follow a topic (on gossipsub's events, not a timer). */
export { untilTopicPeers as waitForTopicPeers } from './gossip.ts'

export async function stopAll(nodes: Iterable<ConsortNode>): Promise<void> {
  await Promise.all([...nodes].map((n) => n.stop()))
}
