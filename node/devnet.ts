import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createNodeKeys, type NodeKeys, saveNodeKeys } from '../keys/keystore.ts'
import { type Clock, systemClock } from '../protocols/clock.ts'
import { signRecord } from '../protocols/records/envelope.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import { type Daemon, startDaemon } from './daemon.ts'
import { prepareSampleMarket, type SampleMarket, type SampleMarketProgress } from './devnet-market.ts'
import { DevnetStoppedError } from './errors.ts'
import { initDataDir } from './init.ts'
import { createNetworkRecord, writeNetworkFile } from './network-file.ts'
import { availableRoles } from './roles.ts'

export interface DevnetNodeSpec {
  name: string
  roles: RoleName[]
  /** The network record lists this node as a trust anchor of that kind. */
  anchor?: 'registrar' | 'reference' | 'clearinghouse'
}

/** One node per role, as a label, a store, the network's services and a listener would run them. */
export const DEVNET_NODES: readonly DevnetNodeSpec[] = [
  { name: 'registrar', roles: ['registration'], anchor: 'registrar' },
  { name: 'label', roles: ['production', 'delivery'] },
  { name: 'delivery', roles: ['delivery'] },
  { name: 'reference', roles: ['reference'], anchor: 'reference' },
  { name: 'retailer', roles: ['retailer', 'catalog'] },
  { name: 'clearinghouse', roles: ['clearinghouse'], anchor: 'clearinghouse' },
  { name: 'listener', roles: ['player'] },
]

export const DEVNET_NAME = 'devnet'

export interface DevnetNodeInfo {
  name: string
  roles: RoleName[]
  peerId: string
  addresses: string[]
  dataDir: string
  api: string
}

export interface Devnet {
  dir: string
  network: string
  nodes: DevnetNodeInfo[]
  daemons: Map<string, Daemon>
  /** The sample release, its offers and the listener's wallet, when the devnet prepared them. */
  sample: SampleMarket | null
  stop(): Promise<void>
}

export type DevnetProgress =
  | { step: 'keys' }
  | { step: 'network'; file: string }
  | { step: 'node-started'; node: DevnetNodeInfo }
  | { step: 'market'; event: SampleMarketProgress }

/**
 * A complete local network on loopback, every node in this process with its own data dir, control API and
 * TCP listener. The devnet's genesis key and registration manager certify the network's own service nodes at
 * genesis, as an operator would approve them. Roles this build lacks are left out; their nodes still run.
 */
export async function startDevnet(
  options: {
    dir?: string
    clock?: Clock
    onProgress?: (event: DevnetProgress) => void
    /** Publish the sample release, make and certify its offers, seed it and fund the listener (default true). */
    sample?: boolean
    /** Called once the devnet can be stopped, before the nodes start (so a Ctrl-C during start stops cleanly). */
    onStoppable?: (stop: () => Promise<void>) => void
  } = {},
): Promise<Devnet> {
  const clock = options.clock ?? systemClock
  const dir = resolve(options.dir ?? (await mkdtemp(join(tmpdir(), 'consort-devnet-'))))
  const available = new Set(availableRoles())
  const specs = DEVNET_NODES.map((spec) => ({ ...spec, roles: spec.roles.filter((r) => available.has(r)) }))

  options.onProgress?.({ step: 'keys' })
  const genesis = await createNodeKeys()
  await saveNodeKeys(join(dir, 'genesis.key'), genesis)
  const keys = new Map<string, NodeKeys>()
  for (const spec of specs) keys.set(spec.name, await createNodeKeys())
  const anchors = (kind: DevnetNodeSpec['anchor']) =>
    specs
      .filter((s) => s.anchor === kind)
      .map((s) => ({
        name: s.name,
        key: keys.get(s.name)!.signer.publicKey,
        sealingKey: keys.get(s.name)!.sealing.publicKey,
      }))

  const network = createNetworkRecord(
    {
      name: DEVNET_NAME,
      created: clock.now(),
      registrars: anchors('registrar'),
      references: anchors('reference').map(({ name, key }) => ({ name, key })),
      clearinghouses: anchors('clearinghouse'),
    },
    genesis.signer,
  )
  const networkFile = join(dir, 'network.json')
  writeNetworkFile(networkFile, network)
  options.onProgress?.({ step: 'network', file: networkFile })

  const registrarKeys = keys.get(specs.find((s) => s.anchor === 'registrar')!.name)!
  const daemons = new Map<string, Daemon>()
  const nodes: DevnetNodeInfo[] = []
  let stopping = false
  const stop = async () => {
    stopping = true
    for (const daemon of [...daemons.values()].reverse()) await daemon.stop()
    daemons.clear()
  }
  options.onStoppable?.(stop)
  let sample: SampleMarket | null = null
  try {
    let bootstrap: string[] = []
    for (const [index, spec] of specs.entries()) {
      const dataDir = join(dir, spec.name)
      const nodeKeys = keys.get(spec.name)!
      await initDataDir(dataDir, {
        network,
        keys: nodeKeys,
        roles: spec.roles,
        bootstrap,
        listen: ['/ip4/127.0.0.1/tcp/0'],
      })
      const daemon = await startDaemon(dataDir, { clock })
      daemons.set(spec.name, daemon)
      if (spec.roles.some((role) => role !== 'player')) {
        await daemon.node.credentials.setCert(
          signRecord(
            'consort/cert',
            {
              network: DEVNET_NAME,
              created: clock.now(),
              serial: index + 1,
              subject: nodeKeys.signer.publicKey,
              name: spec.name,
              roles: spec.roles.filter((role) => role !== 'player'),
              sealingKey: nodeKeys.sealing.publicKey,
              notBefore: clock.now() - 60_000,
              notAfter: clock.now() + 365 * 24 * 3600_000,
            },
            registrarKeys.signer,
          ),
        )
      }
      if (index === 0) bootstrap = daemon.node.addresses().filter((a) => a.includes('/tcp/'))
      const info: DevnetNodeInfo = {
        name: spec.name,
        roles: spec.roles,
        peerId: daemon.node.peerId.toString(),
        addresses: daemon.node.addresses(),
        dataDir,
        api: daemon.api.url,
      }
      nodes.push(info)
      options.onProgress?.({ step: 'node-started', node: info })
      if (stopping) throw new DevnetStoppedError('the devnet was stopped while starting')
    }
    if (options.sample !== false && ['label', 'retailer'].every((name) => daemons.has(name))) {
      sample = await prepareSampleMarket(daemons, (event) => options.onProgress?.({ step: 'market', event }))
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { dir, network: networkFile, nodes, daemons, sample, stop }
}
