import { rm } from 'node:fs/promises'
import { createNodeKeys, type NodeKeys } from '../../../keys/keystore.ts'
import { type ConsortNode, createConsortNode } from '../../../node/consort-node.ts'
import type { FakeClock } from '../../../protocols/clock.ts'
import type { DeliveryInit, DeliveryRole } from '../../../roles/delivery/index.ts'
import type { TestNetwork } from '../../helpers/network.ts'

let counter = 0

/** The delivery role of a node started with it. */
export function deliveryOf(node: ConsortNode): DeliveryRole {
  return node.role('delivery')
}

/**
 * A memory-transport node running the delivery role, certified for it. The memory transport delivers every
 * chunk after `latencyMs` (default 1 ms) on a timer, as a real link would: with no latency it hands chunks
 * over in microtasks, and one busy connection can then starve the others in the same process.
 */
export async function startDeliveryNode(
  network: TestNetwork,
  clock: FakeClock,
  options: { init?: DeliveryInit; dataDir?: string; keys?: NodeKeys; latencyMs?: number } = {},
): Promise<ConsortNode> {
  const keys = options.keys ?? (await createNodeKeys())
  const node = await createConsortNode({
    dataDir: options.dataDir ?? null,
    network: network.record,
    keys,
    listen: [`/memory/consort-delivery-${process.pid}-${++counter}`],
    transports: { tcp: false, memory: true, memoryLatencyMs: options.latencyMs ?? 1 },
    roles: ['delivery'],
    roleOptions: { delivery: { ...options.init } as Record<string, unknown> },
    clock,
  })
  await node.start()
  await node.credentials.setCert(network.certify(keys, ['delivery']))
  return node
}

export async function dial(from: ConsortNode, to: ConsortNode): Promise<void> {
  await from.libp2p.dial(to.libp2p.getMultiaddrs()[0]!)
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir != null) await rm(dir, { recursive: true, force: true })
}
