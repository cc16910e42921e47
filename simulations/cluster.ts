import { KEEP_ALIVE } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { createNodeKeys, type NodeKeys } from '../keys/keystore.ts'
import type { SeededRandom } from '../keys/random.ts'
import { type ConsortNode, createConsortNode } from '../node/consort-node.ts'
import { createNetworkRecord } from '../node/network-file.ts'
import { roleDefinition } from '../node/roles.ts'
import { type NodeStorage, openStorage } from '../node/storage.ts'
import type { Clock } from '../protocols/clock.ts'
import { type SignedRecord, signRecord } from '../protocols/records/envelope.ts'
import type { RoleName } from '../protocols/records/types/common.ts'
import { assignedPartyId } from '../protocols/register/party-id.ts'
import { RoleUnavailableError, SimulationSetupError } from './errors.ts'
import type { Distribution } from './fabric/distributions.ts'
import type { Fabric } from './fabric/fabric.ts'
import { simTransport } from './fabric/transport.ts'
import { stream } from './rng.ts'
import type { Scenario } from './scenario.ts'

const log = logger('consort:sim:cluster')

/** What a node is in the run: honest, or the attack it carries out. */
export type NodeKind =
  | 'honest'
  | 'sybil'
  | 'forger'
  | 'overpricer'
  | 'replayer'
  | 'corrupt-seeder'
  | 'eclipser'
  | 'void-racer'
  | 'play-inflater'
  | 'store-wiper'
  | 'territory-liar'

/**
 * Issue 11's attackers on the money paths: what they publish (usage reports) are valid, signed records that honest
 * nodes rightly accept; the attack is in what they claim, and the market's checks (licences, held plays, the ledger
 * to the cent) judge it. Their messages are therefore not junk for the gossip measurements.
 */
export const HOSTILE_BUYER_KINDS: ReadonlySet<NodeKind> = new Set([
  'void-racer',
  'play-inflater',
  'store-wiper',
  'territory-liar',
])

export interface SimNodeSpec {
  group: string
  kind: NodeKind
  roles: RoleName[]
  /** Roles its certificate grants (adversaries may hold a certificate for a role they do not run). */
  certRoles: RoleName[]
  dhtServer: boolean
  /** The node's state survives a kill and restart (its stores stay; otherwise it restarts empty). */
  persistent: boolean
  /** libp2p's connection limit for this node (its group's, else the scenario's; undefined: the node's default). */
  maxConnections?: number
  link: {
    uplinkMbps: number | null
    downlinkMbps: number | null
    accessLatencyMs: Distribution
    jitterMs: Distribution | null
    lossRate: number
    cpuFactor: number
  }
  /** Settings of its roles (`roleOptions` of the node config). */
  roleOptions?: Partial<Record<RoleName, Record<string, unknown>>>
}

/** One node of the run across its incarnations (a kill and restart keeps its keys and address). */
export class SimNode {
  readonly index: number
  readonly name: string
  readonly spec: SimNodeSpec
  readonly keys: NodeKeys
  readonly peerId: string
  readonly address: string
  node: ConsortNode | null = null
  incarnation = 0
  /** The stores of a persistent node, kept across its incarnations. */
  storage: NodeStorage | null = null
  /** Intervals (performance.now()) during which the node was down. */
  readonly downtime: Array<{ from: number; to: number | null }> = []

  constructor(index: number, name: string, spec: SimNodeSpec, keys: NodeKeys, peerId: string, address: string) {
    this.index = index
    this.name = name
    this.spec = spec
    this.keys = keys
    this.peerId = peerId
    this.address = address
  }

  get honest(): boolean {
    return this.spec.kind === 'honest'
  }

  get online(): boolean {
    return this.node != null && this.node.status === 'started'
  }

  /** Was the node up during the whole of [from, to]? */
  upThroughout(from: number, to: number): boolean {
    return this.downtime.every((d) => (d.to ?? Number.POSITIVE_INFINITY) < from || d.from > to)
  }

  get started(): ConsortNode {
    if (this.node == null) throw new SimulationSetupError(`node ${this.name} is not running`)
    return this.node
  }
}

/** The network record and its registrar: the simulator certifies every node as the test network does. */
export interface SimNetwork {
  name: string
  record: SignedRecord<'consort/network'>
  registrar: NodeKeys
  /** The first reference service's keys (a key held by the simulator when no node runs the role). */
  reference: NodeKeys
  certify(subject: NodeKeys, roles: RoleName[]): SignedRecord<'consort/cert'>
}

export interface ClusterInit {
  scenario: Scenario
  seed: number
  clock: Clock
  /** Stream the node keys come from (same seed, same peer ids). */
  keyRandom: SeededRandom
  fabric: Fabric
  specs: SimNodeSpec[]
  /** Each node's access-link latency (ms), drawn once per node. */
  accessLatency(index: number, spec: SimNodeSpec): number
}

/**
 * The nodes of a run: real `createConsortNode` nodes on the memory transport, in one process, each behind the
 * fabric. Anchors (registration, reference, clearinghouse nodes) are listed in the network record; a network
 * without a registration node gets an offline registrar key held by the simulator.
 */
export class Cluster {
  readonly nodes: SimNode[] = []
  readonly network: SimNetwork
  readonly #init: ClusterInit
  readonly #certs = new Map<number, SignedRecord<'consort/cert'>>()
  /**
   * Called before a node stops or crashes, while it still runs: what monitoring would have read from it last (the
   * clearinghouse's counters, which start again from zero after a restart).
   */
  readonly beforeStop: Array<(sim: SimNode) => Promise<void>> = []

  private constructor(init: ClusterInit, network: SimNetwork, nodes: SimNode[]) {
    this.#init = init
    this.network = network
    this.nodes = nodes
  }

  static async create(init: ClusterInit): Promise<Cluster> {
    const missing = [...new Set(init.specs.flatMap((s) => s.roles))].filter((r) => roleDefinition(r) == null)
    if (missing.length > 0)
      throw new RoleUnavailableError(`this build has no ${missing.join(', ')} role (the scenario needs it)`)
    const { clock, keyRandom } = init
    const genesis = await createNodeKeys(keyRandom)
    const counts = new Map<string, number>()
    const nodes: SimNode[] = []
    for (const [index, spec] of init.specs.entries()) {
      const keys = await createNodeKeys(keyRandom)
      const k = counts.get(spec.group) ?? 0
      counts.set(spec.group, k + 1)
      const peerId = keys.privateKey.publicKey.toString()
      // The fabric's own address space (one per run): the node's index, the same every run.
      const address = `/memory/sim-${index}`
      nodes.push(new SimNode(index, `${spec.group}-${k}`, spec, keys, peerId, address))
    }
    const honestWith = (role: RoleName) => nodes.filter((n) => n.honest && n.spec.roles.includes(role))
    const registrars = honestWith('registration')
    const offlineRegistrar = registrars.length === 0 ? await createNodeKeys(keyRandom) : null
    const registrarKeys = registrars[0]?.keys ?? offlineRegistrar!
    const references = honestWith('reference')
    // Without a reference node, the gossip workload certifies its offers with a key the network lists.
    const referenceKeys = references[0]?.keys ?? (await createNodeKeys(keyRandom))
    const name = init.scenario.name.slice(0, 48)
    const record = createNetworkRecord(
      {
        name,
        created: clock.now(),
        registrars: (registrars.length > 0 ? registrars.map((n) => n.keys) : [registrarKeys]).map((k, i) => ({
          name: `registrar-${i + 1}`,
          key: k.signer.publicKey,
          sealingKey: k.sealing.publicKey,
        })),
        references: (references.length > 0 ? references.map((n) => n.keys) : [referenceKeys]).map((k, i) => ({
          name: `reference-${i + 1}`,
          key: k.signer.publicKey,
        })),
        clearinghouses: honestWith('clearinghouse').map((n, i) => ({
          name: `clearinghouse-${i + 1}`,
          key: n.keys.signer.publicKey,
          sealingKey: n.keys.sealing.publicKey,
        })),

        // Paid delivery's policy (decision 0511): only named when on, so that other scenarios' records stay the same.
        ...(init.scenario.workload.market?.delivery?.paysListeners === true
          ? { policy: { deliveryPaysListeners: true } }
          : {}),
      },
      genesis.signer,
    )
    let serial = 0
    const network: SimNetwork = {
      name,
      record,
      registrar: registrarKeys,
      reference: referenceKeys,
      certify(subject, roles) {
        serial++
        return signRecord(
          'consort/cert',
          {
            network: name,
            created: clock.now(),
            serial,
            subject: subject.signer.publicKey,
            name: `sim-node-${serial}`,
            partyId: assignedPartyId(subject.signer.publicKey),
            roles,
            sealingKey: subject.sealing.publicKey,
            notBefore: clock.now() - 60_000,
            notAfter: clock.now() + 365 * 24 * 3600_000,
          },
          registrarKeys.signer,
        )
      },
    }
    for (const node of nodes) {
      const link = node.spec.link
      init.fabric.addNode(node.index, node.peerId, node.address, {
        uplinkBps: link.uplinkMbps == null ? null : (link.uplinkMbps * 1e6) / 8,
        downlinkBps: link.downlinkMbps == null ? null : (link.downlinkMbps * 1e6) / 8,
        accessLatencyMs: init.accessLatency(node.index, node.spec),
        jitter: link.jitterMs,
        lossRate: link.lossRate,
        cpuFactor: link.cpuFactor,
      })
    }
    return new Cluster(init, network, nodes)
  }

  online(): SimNode[] {
    return this.nodes.filter((n) => n.online)
  }

  /** Start (or restart) a node: same keys and address, a fresh memory state unless its group is persistent. */
  async start(sim: SimNode): Promise<void> {
    if (sim.online) return
    const { scenario, clock, fabric } = this.#init
    let storage: NodeStorage | undefined
    if (sim.spec.persistent) {
      // A persistent node's "disk": memory stores that outlive its incarnations (closed at the end of the run).
      sim.storage ??= await openStorage(null)
      const kept = sim.storage
      storage = { ...kept, close: async () => {} }
    }
    const node = await createConsortNode({
      dataDir: null,
      ...(storage != null ? { storage } : {}),
      network: this.network.record,
      keys: sim.keys,
      listen: [sim.address],
      transports: { tcp: false, memory: false, extra: [simTransport(fabric)] },
      roles: sim.spec.roles,
      roleOptions: sim.spec.roleOptions ?? {},
      clock,
      random: this.#nodeRandom(sim),
      dhtClientMode: !sim.spec.dhtServer,
      // The scenario's topology is the experiment: no node dials peers of its own accord (the simulator repairs links).
      targetConnections: 0,
      ...(scenario.libp2p.meshDegree != null || scenario.libp2p.heartbeatIntervalMs != null
        ? {
            gossip: {
              ...(scenario.libp2p.meshDegree != null ? { meshDegree: scenario.libp2p.meshDegree } : {}),
              ...(scenario.libp2p.heartbeatIntervalMs != null
                ? { heartbeatIntervalMs: scenario.libp2p.heartbeatIntervalMs }
                : {}),
            },
          }
        : {}),
      ...(sim.spec.maxConnections != null ? { maxConnections: sim.spec.maxConnections } : {}),
      ...(scenario.libp2p.pingIntervalMs != null
        ? { connectionMonitor: { pingIntervalMs: scenario.libp2p.pingIntervalMs } }
        : {}),
    })
    sim.node = node
    await node.start()
    if (sim.spec.certRoles.length > 0) {
      let cert = this.#certs.get(sim.index)
      if (cert == null) {
        cert = this.network.certify(sim.keys, sim.spec.certRoles)
        this.#certs.set(sim.index, cert)
      }
      await node.credentials.setCert(cert)
    }
    const down = sim.downtime.at(-1)
    if (down != null && down.to == null) down.to = performance.now()
    sim.incarnation++
    log('started %s (%s) incarnation %d', sim.name, sim.peerId, sim.incarnation)
  }

  /** Stop a node as its operator would: libp2p closes its connections gracefully. */
  async stop(sim: SimNode): Promise<void> {
    if (sim.node == null) return
    await this.#beforeStop(sim)
    await this.#halt(sim)
  }

  /** A node crashes: every connection is reset at once (the other ends learn it from the reset), then it is gone. */
  async crash(sim: SimNode): Promise<void> {
    if (sim.node == null) return
    await this.#beforeStop(sim)
    this.#init.fabric.crash(sim.peerId)
    await this.#halt(sim)
  }

  async #beforeStop(sim: SimNode): Promise<void> {
    for (const hook of this.beforeStop)
      await hook(sim).catch((err) => log.error('before stopping %s: %e', sim.name, err))
  }

  async #halt(sim: SimNode): Promise<void> {
    const node = sim.node
    if (node == null) return
    sim.downtime.push({ from: performance.now(), to: null })
    sim.node = null
    await node.stop()
  }

  /**
   * Dial b from a; failures (b down, partitioned) are expected under faults and only counted. The peers are then
   * tagged keep-alive (on a's side, and on b's with `mutual`), as a bootstrap list does: libp2p itself redials a
   * keep-alive peer when the connection drops.
   */
  async dial(a: SimNode, b: SimNode, mutual = true): Promise<boolean> {
    if (!a.online || !b.online) return false
    try {
      const connection = await a.started.libp2p.dial(multiaddr(`${b.address}/p2p/${b.peerId}`))
      const tag = { tags: { [KEEP_ALIVE]: { value: 1 } } }
      await a.started.libp2p.peerStore.merge(connection.remotePeer, tag)
      if (mutual && b.online) await b.started.libp2p.peerStore.merge(a.started.libp2p.peerId, tag)
      return true
    } catch (err) {
      log('dial %s → %s failed: %e', a.name, b.name, err)
      return false
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stop(n).catch((err) => log.error('stop %s: %e', n.name, err))))
    await Promise.all(this.nodes.map((n) => n.storage?.close().catch(() => {})))
  }

  /** Each node its own deterministic stream for ids and nonces (fresh per incarnation). */
  #nodeRandom(sim: SimNode): SeededRandom {
    return stream(this.#init.seed, `node/${sim.index}/${sim.incarnation}`)
  }
}
