import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createNodeKeys, loadNodeKeys, type NodeKeys, saveNodeKeys } from '../keys/keystore.ts'
import { type Clock, systemClock } from '../protocols/clock.ts'
import { isError } from '../protocols/errors.ts'
import { signRecord } from '../protocols/records/envelope.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import { assignedPartyId } from '../protocols/register/party-id.ts'
import { type Daemon, startDaemon } from './daemon.ts'
import { DataDirLock, dataDirPaths } from './data-dir.ts'
import { prepareSampleMarket, type SampleMarket, type SampleMarketProgress } from './devnet-market.ts'
import { DataDirLockedError, DevnetDirError, DevnetRunningError, DevnetStoppedError } from './errors.ts'
import { initDataDir } from './init.ts'
import { createNetworkRecord, readNetworkFile, writeNetworkFileExclusive } from './network-file.ts'
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
  /** The node's Prometheus endpoint (loopback, a free port), or null when the devnet runs without metrics. */
  metrics: string | null
}

export interface Devnet {
  dir: string
  network: string
  nodes: DevnetNodeInfo[]
  daemons: Map<string, Daemon>
  /** The sample release, its offers and the listener's wallet, when the devnet prepared them. */
  sample: SampleMarket | null
  /** The directory was made for this run and is removed by `stop()`. */
  temporary: boolean
  stop(): Promise<void>
}

export type DevnetProgress =
  | { step: 'keys' }
  | { step: 'network'; file: string; reused: boolean }
  | { step: 'node-started'; node: DevnetNodeInfo }
  | { step: 'market'; event: SampleMarketProgress }

/** What the devnet directory holds besides the nodes' data dirs. */
export function devnetPaths(dir: string) {
  return { network: join(dir, 'network.json'), genesis: join(dir, 'genesis.key') }
}

/**
 * A complete local network on loopback, every node in this process with its own data dir, control API and
 * TCP listener. The devnet's genesis key and registration manager certify the network's own service nodes at
 * genesis, as an operator would approve them. Roles this build lacks are left out; their nodes still run.
 *
 * Starting is idempotent on its directory: a directory that holds a devnet is started again with the same network,
 * keys and state (nothing is overwritten); a devnet still running there is refused; a directory holding anything
 * else the devnet would write is refused too. Without `dir`, a temporary directory is used and removed by `stop()`.
 */
export async function startDevnet(
  options: {
    dir?: string
    clock?: Clock
    onProgress?: (event: DevnetProgress) => void
    /** Publish the sample release, make and certify its offers, seed it and fund the listener (default true). */
    sample?: boolean
    /** Serve each node's Prometheus metrics on loopback (default true). */
    metrics?: boolean
    /** Called once the devnet can be stopped, before the nodes start (so a Ctrl-C during start stops cleanly). */
    onStoppable?: (stop: () => Promise<void>) => void
  } = {},
): Promise<Devnet> {
  const clock = options.clock ?? systemClock
  const temporary = options.dir == null
  const dir = resolve(options.dir ?? (await mkdtemp(join(tmpdir(), 'consort-devnet-'))))
  let lock: DataDirLock
  try {
    lock = await DataDirLock.acquire(dir)
  } catch (err) {
    if (!isError(err, DataDirLockedError)) throw err
    throw new DevnetRunningError(
      `a devnet is already running in ${dir}${err.pid != null ? ` (pid ${err.pid})` : ''}: stop it (Ctrl-C in its terminal) or use another --dir`,
    )
  }
  const available = new Set(availableRoles())
  const specs = DEVNET_NODES.map((spec) => ({ ...spec, roles: spec.roles.filter((r) => available.has(r)) }))

  const daemons = new Map<string, Daemon>()
  const nodes: DevnetNodeInfo[] = []
  let stopping = false
  let stopped = false
  const stop = async () => {
    stopping = true
    if (stopped) return
    stopped = true
    try {
      for (const daemon of [...daemons.values()].reverse()) await daemon.stop()
      daemons.clear()
    } finally {
      lock.release()
      if (temporary) await rm(dir, { recursive: true, force: true })
    }
  }
  options.onStoppable?.(stop)
  let sample: SampleMarket | null = null
  const paths = devnetPaths(dir)
  try {
    options.onProgress?.({ step: 'keys' })
    const reused = existsSync(paths.network)
    // Either way every node's data dir now holds the network record; each daemon reads its own.
    if (reused) await reopenDevnet(dir, specs, clock)
    else await createDevnet(dir, specs, clock)
    options.onProgress?.({ step: 'network', file: paths.network, reused })

    let bootstrap: string[] = []
    for (const [index, spec] of specs.entries()) {
      const dataDir = join(dir, spec.name)
      // The first node's port is new at each start: the others are told where it is now, not where it was.
      const daemon = await startDaemon(dataDir, {
        clock,
        bootstrap,
        metrics: options.metrics === false ? false : { host: '127.0.0.1', port: 0 },
      })
      daemons.set(spec.name, daemon)
      if (spec.roles.some((role) => role !== 'player') && daemon.node.credentials.cert() == null) {
        const registrarKeys = await loadNodeKeys(dataDirPaths(join(dir, registrarSpec(specs).name)).keys)
        await daemon.node.credentials.setCert(genesisCert(spec, index, daemon.node.keys, registrarKeys, clock))
      }
      if (index === 0) bootstrap = daemon.node.addresses().filter((a) => a.includes('/tcp/'))
      const info: DevnetNodeInfo = {
        name: spec.name,
        roles: spec.roles,
        peerId: daemon.node.peerId.toString(),
        addresses: daemon.node.addresses(),
        dataDir,
        api: daemon.api.url,
        metrics: daemon.metrics,
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
  return { dir, network: paths.network, nodes, daemons, sample, temporary, stop }
}

function registrarSpec(specs: readonly DevnetNodeSpec[]): DevnetNodeSpec {
  return specs.find((s) => s.anchor === 'registrar')!
}

/** The certificate the devnet's registration manager gives a service node of the network, as an operator would. */
function genesisCert(spec: DevnetNodeSpec, index: number, keys: NodeKeys, registrar: NodeKeys, clock: Clock) {
  return signRecord(
    'consort/cert',
    {
      network: DEVNET_NAME,
      created: clock.now(),
      serial: index + 1,
      subject: keys.signer.publicKey,
      name: spec.name,
      partyId: assignedPartyId(keys.signer.publicKey),
      roles: spec.roles.filter((role) => role !== 'player'),
      sealingKey: keys.sealing.publicKey,
      notBefore: clock.now() - 60_000,
      notAfter: clock.now() + 365 * 24 * 3600_000,
    },
    registrar.signer,
  )
}

/**
 * A new devnet in `dir`: every node's keys and data dir first, then the genesis key and `network.json` last and
 * exclusively, so that `network.json` marks a complete devnet and nothing already there is ever replaced.
 */
async function createDevnet(dir: string, specs: readonly DevnetNodeSpec[], clock: Clock) {
  const paths = devnetPaths(dir)
  const taken = [paths.genesis, ...specs.map((s) => join(dir, s.name))].filter((p) => existsSync(p))
  if (taken.length > 0) {
    throw new DevnetDirError(
      `${dir} has no network.json but already holds ${taken.join(', ')}: not a devnet this command made (or its first start was interrupted); use another --dir, or remove ${dir}`,
    )
  }
  const genesis = await createNodeKeys()
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
  for (const spec of specs) {
    await initDataDir(join(dir, spec.name), {
      network,
      keys: keys.get(spec.name)!,
      roles: spec.roles,
      listen: ['/ip4/127.0.0.1/tcp/0'],
    })
  }
  await saveNodeKeys(paths.genesis, genesis, { exclusive: true })
  writeNetworkFileExclusive(paths.network, network)
  return network
}

/**
 * The devnet already in `dir`: its network record, and each node's data dir as it was. A node dir that is missing
 * is made again unless it held a key the network record names (a trust anchor), which cannot be remade.
 */
async function reopenDevnet(dir: string, specs: readonly DevnetNodeSpec[], clock: Clock) {
  const network = readNetworkFile(devnetPaths(dir).network, clock.now())
  if (network.body.network !== DEVNET_NAME) {
    throw new DevnetDirError(`${devnetPaths(dir).network} is the network ${network.body.network}, not a devnet`)
  }
  for (const spec of specs) {
    const dataDir = join(dir, spec.name)
    if (existsSync(dataDirPaths(dataDir).config)) continue
    if (spec.anchor != null) {
      throw new DevnetDirError(
        `${dataDir} is missing: it held the key of the network's ${spec.anchor}, which cannot be made again; start a new devnet in another --dir`,
      )
    }
    await initDataDir(dataDir, { network, roles: spec.roles, listen: ['/ip4/127.0.0.1/tcp/0'] })
  }
  return network
}
