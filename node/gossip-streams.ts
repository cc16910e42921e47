import type { Connection, PeerId, Startable, Topology } from '@libp2p/interface'
import { logger } from '@libp2p/logger'

const log = logger('consort:gossip-streams')

/** How often the keeper looks for connected gossip peers without a gossip stream of this node's own. */
export const GOSSIP_STREAM_CHECK_MS = 5_000
/**
 * Checks a peer may lack its stream before the keeper opens it again: one whole check, so that a stream still being
 * opened (gossipsub opens them one at a time, each within libp2p's 10 s negotiation time-out) is not asked for twice.
 * After each attempt the wait doubles, up to `GOSSIP_STREAM_MAX_BACKOFF_CHECKS` checks (80 s), for a peer that keeps
 * refusing the stream.
 */
export const GOSSIP_STREAM_GRACE_CHECKS = 1
export const GOSSIP_STREAM_MAX_BACKOFF_CHECKS = 16

/** What the keeper needs of libp2p (its registrar and connection manager, as a service's components). */
export interface GossipStreamKeeperComponents {
  registrar: {
    register(protocol: string, topology: Topology): Promise<string>
    unregister(id: string): void
    getTopologies(protocol: string): Topology[]
  }
  connectionManager: { getConnections(peerId?: PeerId): Connection[] }
}

export interface GossipStreamKeeperInit {
  /** The gossipsub protocols (`GOSSIP_PROTOCOLS`): a stream of any of them is a gossip stream. */
  protocols: readonly string[]
  /** Check interval (ms); `GOSSIP_STREAM_CHECK_MS` unless a test says otherwise. */
  checkIntervalMs?: number
}

interface Missing {
  /** The check at which the stream is opened again. */
  due: number
  /** Checks to wait after the next attempt. */
  backoff: number
  attempts: number
}

/**
 * Opens again the gossip stream to a connected peer when this node has none (decision 0018).
 *
 * gossipsub sends everything a node says to a peer — its subscriptions, GRAFTs, messages — over one outbound stream
 * per peer, which it opens when libp2p reports the peer's connection (after identify) or when the peer opens its own
 * stream first. When that opening fails (a negotiation time-out on a loaded machine, a reset), gossipsub logs it and
 * never tries again; when the stream closes later while the connection stays open, or when reading the peer's stream
 * fails (gossipsub then forgets the peer although it is still connected), nothing opens it again either. The peer
 * then never learns what this node follows, so neither side grafts the other, for as long as the connection lives —
 * the e2e set-up's "gossip never settled: every node has 1 peer(s) on …/offers/2".
 *
 * Every `GOSSIP_STREAM_CHECK_MS` the keeper looks at each connected peer whose identify listed a gossipsub protocol;
 * one that has had no outbound gossip stream on any open connection for a whole check is handed to gossipsub again,
 * exactly as libp2p hands it a new connection (its topology's `onConnect`; gossipsub's own peer exchange does the
 * same). gossipsub then adds the peer back and opens the stream. The wait between attempts doubles up to 80 s.
 * It holds one entry per connected gossip peer.
 */
export class GossipStreamKeeper implements Startable {
  readonly #components: GossipStreamKeeperComponents
  readonly #protocols: ReadonlySet<string>
  readonly #checkIntervalMs: number
  /** Connected peers whose identify listed a gossipsub protocol (from this keeper's own topology). */
  readonly #peers = new Map<string, PeerId>()
  readonly #missing = new Map<string, Missing>()
  readonly #topology: Topology
  #topologyIds: string[] = []
  #timer: ReturnType<typeof setInterval> | undefined
  #checks = 0
  #reopened = 0

  readonly [Symbol.toStringTag] = 'consort:gossip-stream-keeper'

  constructor(components: GossipStreamKeeperComponents, init: GossipStreamKeeperInit) {
    this.#components = components
    this.#protocols = new Set(init.protocols)
    this.#checkIntervalMs = init.checkIntervalMs ?? GOSSIP_STREAM_CHECK_MS
    this.#topology = {
      // gossipsub runs on relayed connections too (a player behind NAT): so does the keeper.
      notifyOnLimitedConnection: true,
      onConnect: (peer) => {
        this.#peers.set(peer.toString(), peer)
      },
      onDisconnect: (peer) => {
        this.#peers.delete(peer.toString())
        this.#missing.delete(peer.toString())
      },
    }
  }

  /** Streams opened again since start (for tests and logs). */
  get reopened(): number {
    return this.#reopened
  }

  async start(): Promise<void> {
    if (this.#timer != null) return
    this.#topologyIds = await Promise.all(
      [...this.#protocols].map(async (protocol) => await this.#components.registrar.register(protocol, this.#topology)),
    )
    this.#timer = setInterval(() => this.check(), this.#checkIntervalMs)
    this.#timer.unref?.()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const id of this.#topologyIds) this.#components.registrar.unregister(id)
    this.#topologyIds = []
    this.#peers.clear()
    this.#missing.clear()
  }

  /** One round: every connected gossip peer without a stream of ours past its grace is handed to gossipsub again. */
  check(): void {
    const now = ++this.#checks
    for (const [key, peer] of this.#peers) {
      const connections = this.#components.connectionManager
        .getConnections(peer)
        .filter((connection) => connection.status === 'open')
      if (connections.length === 0) {
        // Gone without a disconnect reaching the topology (libp2p reports one only for peers in its peer store).
        this.#peers.delete(key)
        this.#missing.delete(key)
        continue
      }
      if (connections.some((connection) => this.#hasOutboundStream(connection))) {
        this.#missing.delete(key)
        continue
      }
      const missing = this.#missing.get(key)
      if (missing == null) {
        this.#missing.set(key, { due: now + GOSSIP_STREAM_GRACE_CHECKS, backoff: 1, attempts: 0 })
        continue
      }
      if (now < missing.due) continue
      missing.attempts++
      missing.backoff = Math.min(missing.backoff * 2, GOSSIP_STREAM_MAX_BACKOFF_CHECKS)
      missing.due = now + missing.backoff
      this.#reopen(peer, connections, missing.attempts)
    }
  }

  #hasOutboundStream(connection: Connection): boolean {
    return connection.streams.some((stream) => stream.direction === 'outbound' && this.#protocols.has(stream.protocol))
  }

  /** Hand the peer to gossipsub as libp2p does for a new connection: a direct connection if there is one. */
  #reopen(peer: PeerId, connections: Connection[], attempt: number): void {
    const connection = connections.find((c) => c.limits == null) ?? connections[0]!
    const topologies = new Set<Topology>()
    for (const protocol of this.#protocols) {
      for (const topology of this.#components.registrar.getTopologies(protocol)) {
        if (topology !== this.#topology) topologies.add(topology)
      }
    }
    log('no gossip stream to %p: opening it again (attempt %d)', peer, attempt)
    this.#reopened++
    for (const topology of topologies) {
      try {
        const done = topology.onConnect?.(peer, connection)
        if (done instanceof Promise) done.catch((err: unknown) => log.error('reopening to %p failed: %e', peer, err))
      } catch (err) {
        log.error('reopening to %p failed: %e', peer, err)
      }
    }
  }
}

/** The keeper as a libp2p service (`services.gossipStreams`), beside gossipsub. */
export function gossipStreamKeeper(
  init: GossipStreamKeeperInit,
): (components: GossipStreamKeeperComponents) => GossipStreamKeeper {
  return (components) => new GossipStreamKeeper(components, init)
}
