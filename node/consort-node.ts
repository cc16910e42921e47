import { withBitswap } from '@helia/bitswap'
import type { Helia } from '@helia/interface'
import { withLibp2pLight } from '@helia/libp2p'
import * as dagCbor from '@ipld/dag-cbor'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import type { Libp2pOptions } from 'libp2p'
import type { NodeKeys } from '../keys/keystore.ts'
import { type Random, systemRandom } from '../keys/random.ts'
import { type Clock, systemClock } from '../protocols/clock.ts'
import { type Metrics, noMetrics } from '../protocols/metrics.ts'
import { type NetworkContext, networkContext } from '../protocols/network.ts'
import type { SignedRecord } from '../protocols/records/envelope.ts'
import { type BlockStore, RecordStore } from '../protocols/records/store.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import { SyncService } from '../protocols/sync/index.ts'
import { type PubSubRouter, TopicBus } from '../protocols/topics/bus.ts'
import { CertificateTrust } from '../protocols/trust/trust.ts'
import type { Role } from '../roles/role.ts'
import { AddressRefresher } from './address-refresher.ts'
import { ConnectionKeeper } from './connection-keeper.ts'
import { NodeCredentials } from './credentials.ts'
import { DataDirLock } from './data-dir.ts'
import { NodeStoppedError, RoleNotRunningError, UnknownRoleError } from './errors.ts'
import {
  DEFAULT_PING_INTERVAL_MS,
  dhtProtocol,
  libp2pOptions,
  type NatOptions,
  type TransportOptions,
} from './libp2p-options.ts'
import type { NodeMetrics } from './metrics.ts'
import type { GossipSignaturePolicy } from './pubsub.ts'
import { RevocationKeeper } from './revocation-keeper.ts'
import { type RoleMap, roleDefinition } from './roles.ts'
import { type NodeStorage, openStorage } from './storage.ts'

const log = logger('consort:node')

export interface ConsortNodeConfig {
  /** Where the node keeps its state; `null` keeps everything in memory (tests, simulations). */
  dataDir: string | null
  /**
   * Stores the caller provides instead of opening them (with `dataDir: null`): a simulated node whose memory
   * outlives a restart. The node calls their `close()` when it stops; the caller decides what that does.
   */
  storage?: NodeStorage
  network: SignedRecord<'consort/network'>
  keys: NodeKeys
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  roles?: RoleName[]
  roleOptions?: Partial<Record<RoleName, Record<string, unknown>>>
  transports?: Partial<TransportOptions>
  dhtClientMode?: boolean
  /** NAT traversal; none unless given (tests, simulations). The daemon passes config.json's `nat`. */
  nat?: NatOptions
  gossip?: { meshDegree?: number; heartbeatIntervalMs?: number; signaturePolicy?: GossipSignaturePolicy }
  maxConnections?: number
  /** Connections the node keeps open by dialling peers it knows (default 8; 0 turns the keeper off). */
  targetConnections?: number
  /**
   * libp2p's connection monitor: it pings every connection every `pingIntervalMs` to measure its round trip. A daemon
   * passes config.json's; absent, once a minute as well (`DEFAULT_PING_INTERVAL_MS`, decision 0019). With `abortOnPingFailure` (off by default, docs/decisions/0009) it also aborts a
   * connection whose ping fails (no answer within its adaptive time-out, 5 s at least, or the previous ping still
   * running at the next heartbeat), which cuts healthy connections of a busy process.
   */
  connectionMonitor?: { pingIntervalMs?: number; abortOnPingFailure?: boolean }
  /** Catch-up pulls from peers besides those on every new connection (ms; 0: only on new connections). */
  syncIntervalMs?: number
  clock?: Clock
  random?: Random
  /** Counts for the node's Prometheus endpoint (libp2p's own and Consort's); none when absent. */
  metrics?: NodeMetrics
}

export interface ConsortNode {
  readonly peerId: PeerId
  readonly libp2p: Libp2p
  readonly helia: Helia
  readonly keys: NodeKeys
  readonly network: NetworkContext
  readonly clock: Clock
  readonly metrics: Metrics
  readonly topics: TopicBus
  readonly trust: CertificateTrust
  readonly records: RecordStore
  readonly credentials: NodeCredentials
  /** Catch-up with peers after an absence (`protocols/sync`); present while the node runs. */
  readonly sync: SyncService
  /** The roles running, by name (for what treats them alike: the control API, metrics). */
  readonly roles: ReadonlyMap<RoleName, Role>
  /** A running role with its own type (`node.role('retailer')` is a `RetailerService` with its `storefront`); throws `RoleNotRunningError`. */
  role<N extends RoleName>(name: N): RoleMap[N]
  readonly dataDir: string | null
  /** The node's LevelDB and blockstore (node-level work only: backups; roles get their own sublevel). */
  readonly stores: Pick<NodeStorage, 'db' | 'blockstore'>
  readonly status: 'stopped' | 'starting' | 'started' | 'stopping'
  start(): Promise<void>
  stop(): Promise<void>
  /** The node's own addresses, as strings with its peer id. */
  addresses(): string[]
}

/**
 * Assemble a Consort node: libp2p 3 and Helia 7 over the node's stores, the topic bus and trust, and the
 * roles its configuration asks for. Nothing runs until `start()`; `start()` and `stop()` may be called twice.
 */
export async function createConsortNode(config: ConsortNodeConfig): Promise<ConsortNode> {
  const roleNames = config.roles ?? []
  for (const name of roleNames) {
    if (roleDefinition(name) == null) throw new UnknownRoleError(`role ${name} is not available in this build`)
  }
  const lock = config.dataDir == null ? null : await DataDirLock.acquire(config.dataDir)
  let storage: NodeStorage
  try {
    storage = config.storage ?? (await openStorage(config.dataDir))
  } catch (err) {
    lock?.release()
    throw err
  }
  try {
    return await assemble(config, roleNames, storage, lock)
  } catch (err) {
    await storage.close()
    lock?.release()
    throw err
  }
}

/** libp2p's options with its Prometheus metrics, when the node keeps any. */
function withMetrics(options: Libp2pOptions, metrics: NodeMetrics | undefined, dataDir: string | null): Libp2pOptions {
  if (metrics == null) return options
  return { ...options, metrics: metrics.libp2pMetrics(dataDir ?? undefined) } as Libp2pOptions
}

/**
 * Every node keeps a connection when one ping is late (docs/decisions/0009): a busy process answers late, and
 * libp2p's default cut healthy connections on it. A peer that is really gone sends nothing at all, and the TCP
 * transport closes its socket after two minutes of silence (`@libp2p/tcp`'s inactivity time-out), so dead links
 * still go. `abortOnPingFailure: true` restores libp2p's default.
 */
export const ABORT_CONNECTION_ON_PING_FAILURE = false

/** libp2p's options with the connection monitor's settings. */
function withConnectionMonitor(options: Libp2pOptions, monitor: ConsortNodeConfig['connectionMonitor']): Libp2pOptions {
  return {
    ...options,
    connectionMonitor: {
      pingInterval: monitor?.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      abortConnectionOnPingFailure: monitor?.abortOnPingFailure ?? ABORT_CONNECTION_ON_PING_FAILURE,
    },
  }
}

async function assemble(
  config: ConsortNodeConfig,
  roleNames: RoleName[],
  storage: NodeStorage,
  lock: DataDirLock | null,
): Promise<ConsortNode> {
  const clock = config.clock ?? systemClock
  const random = config.random ?? systemRandom
  const network = networkContext(config.network)
  const transports: TransportOptions = {
    tcp: config.transports?.tcp ?? true,
    memory: config.transports?.memory ?? false,
    ...(config.transports?.memoryLatencyMs != null ? { memoryLatencyMs: config.transports.memoryLatencyMs } : {}),
    ...(config.transports?.extra != null ? { extra: config.transports.extra } : {}),
  }
  const helia = withBitswap(
    withLibp2pLight(
      // Records are DAG-CBOR blocks; Helia's light assembly only knows raw and dag-pb unless told.
      createHeliaLight({ blockstore: storage.blockstore, datastore: storage.datastore, codecs: [dagCbor] }),
      withMetrics(
        withConnectionMonitor(
          libp2pOptions({
            privateKey: config.keys.privateKey,
            datastore: storage.datastore,
            network,
            clock,
            listen: config.listen ?? ['/ip4/127.0.0.1/tcp/0'],
            announce: config.announce ?? [],
            bootstrap: config.bootstrap ?? [],
            transports,
            dhtClientMode: config.dhtClientMode ?? false,
            ...(config.nat != null ? { nat: config.nat } : {}),
            ...(config.gossip != null ? { gossip: config.gossip } : {}),
            ...(config.maxConnections != null ? { maxConnections: config.maxConnections } : {}),
          }),
          config.connectionMonitor,
        ),
        config.metrics,
        config.dataDir,
      ),
    ),
  )
  const metrics: Metrics = config.metrics ?? noMetrics
  const decodeOptions = () => ({ network: network.name, now: clock.now(), caps: network.caps })
  const trust = new CertificateTrust(network.body, clock)
  const nodeDb = storage.sublevel('node')
  const credentials = new NodeCredentials(nodeDb, trust)
  const records = new RecordStore(helia.blockstore as unknown as BlockStore, decodeOptions)
  const roles = new Map<RoleName, Role>()
  let topics: TopicBus | undefined
  let revocations: RevocationKeeper | undefined
  let connectionKeeper: ConnectionKeeper | undefined
  let addressRefresher: AddressRefresher | undefined
  let sync: SyncService | undefined
  let status: ConsortNode['status'] = 'stopped'
  let finished = false
  let stopCollecting = () => {}

  const node: ConsortNode = {
    get peerId() {
      return helia.libp2p.peerId
    },
    get libp2p() {
      return helia.libp2p as unknown as Libp2p
    },
    helia,
    keys: config.keys,
    network,
    clock,
    metrics,
    get topics() {
      if (topics == null) throw new NodeStoppedError('the node is not started')
      return topics
    },
    trust,
    records,
    credentials,
    get sync() {
      if (sync == null) throw new NodeStoppedError('the node is not started')
      return sync
    },
    roles,
    role<N extends RoleName>(name: N): RoleMap[N] {
      const role = roles.get(name)
      if (role == null) {
        throw new RoleNotRunningError(
          `this node does not run the ${name} role (its roles: ${[...roles.keys()].join(', ') || 'none'})`,
        )
      }
      // The map holds what ROLE_DEFINITIONS[name].create made for this name, so its type is RoleMap[N].
      return role as RoleMap[N]
    },
    dataDir: config.dataDir,
    stores: { db: storage.db, blockstore: storage.blockstore },
    get status() {
      return status
    },
    addresses() {
      return helia.libp2p.getMultiaddrs().map((a) => a.toString())
    },
    async start() {
      if (status !== 'stopped') return
      if (finished)
        throw new NodeStoppedError('this node was stopped; create a new one on the same data dir to restart')
      status = 'starting'
      try {
        await helia.start()
        const libp2p = helia.libp2p as unknown as Libp2p
        addressRefresher = new AddressRefresher(libp2p)
        addressRefresher.start()
        connectionKeeper = new ConnectionKeeper(libp2p, {
          bootstrap: [...(config.bootstrap ?? []), ...network.body.bootstrap],
          random,
          dhtProtocol: dhtProtocol(network.name),
          ...(config.targetConnections != null ? { target: config.targetConnections } : {}),
        })
        connectionKeeper.start()
        topics = new TopicBus({
          router: (libp2p.services as { pubsub: PubSubRouter }).pubsub,
          network: network.name,
          clock,
          trust,
          caps: network.caps,
          messageBytes: network.body.caps.messageBytes,
          metrics,
        })
        await credentials.load(decodeOptions())
        revocations = new RevocationKeeper({
          db: storage.sublevel('revocations'),
          trust,
          topics,
          decodeOptions,
        })
        await revocations.start()
        for (const name of roleNames) {
          const role = roleDefinition(name)!.create(
            {
              peerId: libp2p.peerId,
              libp2p,
              helia,
              db: storage.sublevel(`role-${name}`),
              keys: config.keys,
              clock,
              random,
              network,
              topics,
              trust,
              records,
              credentials,
              metrics,
              dataDir: config.dataDir,
            },
            config.roleOptions?.[name] ?? {},
          )
          await role.start()
          roles.set(name, role)
          log('role %s started', name)
        }
        stopCollecting = metrics.collect('consort_node_info', () => [
          {
            labels: { peer_id: libp2p.peerId.toString(), network: network.name, roles: [...roles.keys()].join(',') },
            value: 1,
          },
        ])
        // Catch-up starts once every role follows its topics: what it pulls goes to them.
        sync = new SyncService({
          libp2p,
          topics,
          db: storage.sublevel('sync'),
          network: network.name,
          clock,
          ...(config.syncIntervalMs != null ? { intervalMs: config.syncIntervalMs } : {}),
        })
        await sync.start()
        status = 'started'
      } catch (err) {
        status = 'started'
        await node.stop()
        throw err
      }
    },
    async stop() {
      if (status === 'stopped' || status === 'stopping') return
      status = 'stopping'
      await sync?.stop().catch((err) => log.error('sync failed to stop: %e', err))
      stopCollecting()
      // Roles stop in reverse order of start, then the bus, then the network, then the stores.
      for (const [name, role] of [...roles].reverse()) {
        try {
          await role.stop()
        } catch (err) {
          log.error('role %s failed to stop: %e', name, err)
        }
      }
      roles.clear()
      connectionKeeper?.stop()
      addressRefresher?.stop()
      revocations?.stop()
      topics?.stop()
      try {
        await helia.stop()
      } catch (err) {
        log.error('helia failed to stop: %e', err)
      }
      await storage.close()
      lock?.release()
      finished = true
      status = 'stopped'
    },
  }
  return node
}

/** Dial a peer by multiaddr string (with its /p2p/ id). */
export async function connectTo(node: ConsortNode, address: string, signal?: AbortSignal): Promise<void> {
  await node.libp2p.dial(multiaddr(address), signal != null ? { signal } : {})
}
