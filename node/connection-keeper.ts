import type { Libp2p, PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import type { Random } from '../keys/random.ts'
import { withDeadline } from '../protocols/deadline.ts'

const log = logger('consort:connections')

/** How often the node checks that it has enough connections. */
export const CONNECTION_CHECK_MS = 5_000
/** Connections a node keeps open: enough for gossip meshes (D = 6) to form and heal. */
export const DEFAULT_TARGET_CONNECTIONS = 8
/** Dials started in one check (bounded, so a node coming back does not dial everything it knows at once). */
export const MAX_DIALS_PER_CHECK = 4
/** Time one dial may take. */
export const DIAL_TIMEOUT_MS = 5_000
/**
 * After a bootstrap address fails, the checks it sits out: 1, 2, 4, … up to 60 (5 minutes at one check every 5 s),
 * so that a node whose bootstrap peers are down for hours dials each about every five minutes, not every check.
 */
export const BOOTSTRAP_MAX_BACKOFF_CHECKS = 60

/** The checks a bootstrap address sits out after its `failures`-th failure in a row. */
export function bootstrapBackoffChecks(failures: number): number {
  return failures <= 0 ? 0 : Math.min(2 ** (failures - 1), BOOTSTRAP_MAX_BACKOFF_CHECKS)
}

export interface ConnectionKeeperInit {
  bootstrap: string[]
  target?: number
  random: Random
  /**
   * The network's Kad-DHT protocol: a peer whose identify lists it is a DHT server. A node none of whose connections
   * is to one cannot find providers or services, however many connections it has: it dials its bootstrap peers.
   */
  dhtProtocol: string
}

interface Backoff {
  failures: number
  /** The first check at which the address is dialled again. */
  due: number
}

/**
 * Keeps the node connected to enough peers, and to the DHT. libp2p 3 does not dial the peers it discovers on its own,
 * and its bootstrap module dials its list only once, a second after start: a node started before its bootstrap peer,
 * cut off by an outage, or whose connections were closed by a busy peer would stay alone or hang off one peer, and
 * gossip would not reach it. Every few seconds, while it has fewer than `target` connections, the node dials its
 * bootstrap peers and then peers it has learnt of (identify, the DHT), a few at a time, chosen at random.
 *
 * Enough connections are not enough when none is to a DHT server (decision 0018): after a partition heals, or when
 * its bootstrap peers restarted, a node may hold its target of connections to players and other DHT clients only;
 * its DHT then has no one to ask, and it finds no provider and no service again. So the node also dials its bootstrap
 * peers whenever none of its connections is to a DHT server. A bootstrap address that fails sits out 1, 2, 4 … up to
 * 60 checks (five minutes), until a dial to it succeeds.
 */
export class ConnectionKeeper {
  readonly #libp2p: Libp2p
  readonly #bootstrap: string[]
  readonly #target: number
  readonly #random: Random
  readonly #dhtProtocol: string
  readonly #backoff = new Map<string, Backoff>()
  #checks = 0
  #timer: ReturnType<typeof setInterval> | undefined
  #running = false
  readonly #controller = new AbortController()

  constructor(libp2p: Libp2p, init: ConnectionKeeperInit) {
    this.#libp2p = libp2p
    this.#bootstrap = [...new Set(init.bootstrap)]
    this.#target = init.target ?? DEFAULT_TARGET_CONNECTIONS
    this.#random = init.random
    this.#dhtProtocol = init.dhtProtocol
  }

  start(): void {
    if (this.#timer != null || this.#target <= 0) return
    this.#timer = setInterval(() => void this.check(), CONNECTION_CHECK_MS)
    this.#timer.unref?.()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#controller.abort()
  }

  #connected(peer: string): boolean {
    return this.#libp2p.getConnections().some((c) => c.remotePeer.toString() === peer)
  }

  /** Whether any connected peer is a DHT server (its identify listed the network's Kad-DHT protocol). */
  async #connectedToDhtServer(): Promise<boolean> {
    const seen = new Set<string>()
    for (const connection of this.#libp2p.getConnections()) {
      const key = connection.remotePeer.toString()
      if (seen.has(key)) continue
      seen.add(key)
      try {
        const peer = await this.#libp2p.peerStore.get(connection.remotePeer)
        if (peer.protocols.includes(this.#dhtProtocol)) return true
      } catch {
        // Not identified yet: not known to be a server.
      }
    }
    return false
  }

  /**
   * One round: dial bootstrap peers first, then known peers, until the target is met or the round's dials are spent;
   * with the target met but no DHT server among the connections, the bootstrap peers only.
   */
  async check(): Promise<void> {
    if (this.#running || this.#controller.signal.aborted) return
    const check = ++this.#checks
    this.#running = true
    try {
      const missing = this.#target - new Set(this.#libp2p.getConnections().map((c) => c.remotePeer.toString())).size
      if (missing <= 0 && (await this.#connectedToDhtServer())) return
      const self = this.#libp2p.peerId.toString()
      const dials: Array<Promise<unknown>> = []
      for (const address of this.#bootstrap) {
        if (dials.length >= MAX_DIALS_PER_CHECK) break
        const peer = multiaddr(address)
          .getComponents()
          .find((c) => c.name === 'p2p')?.value
        if (peer === self || (peer != null && this.#connected(peer))) continue
        if ((this.#backoff.get(address)?.due ?? 0) > check) continue
        dials.push(this.#dialBootstrap(address, check))
      }
      const wanted = Math.min(missing, MAX_DIALS_PER_CHECK)
      if (dials.length < wanted) {
        const known = (await this.#libp2p.peerStore.all()).filter(
          (p) => p.addresses.length > 0 && !p.id.equals(this.#libp2p.peerId) && !this.#connected(p.id.toString()),
        )
        while (known.length > 0 && dials.length < wanted) {
          const [peer] = known.splice(Math.floor((this.#random.bytes(1)[0]! / 256) * known.length), 1)
          dials.push(this.#dial(peer!.id, peer!.id.toString()))
        }
      }
      await Promise.allSettled(dials)
    } finally {
      this.#running = false
    }
  }

  /** Dial a bootstrap address; a failure puts it in back-off, a success takes it out. */
  async #dialBootstrap(address: string, check: number): Promise<void> {
    if (await this.#dial(multiaddr(address), address)) {
      this.#backoff.delete(address)
      return
    }
    const failures = (this.#backoff.get(address)?.failures ?? 0) + 1
    this.#backoff.set(address, { failures, due: check + 1 + bootstrapBackoffChecks(failures) })
  }

  /** Whether the dial succeeded. */
  async #dial(target: PeerId | ReturnType<typeof multiaddr>, label: string): Promise<boolean> {
    const signal = withDeadline(DIAL_TIMEOUT_MS, this.#controller.signal).signal
    try {
      await this.#libp2p.dial(target, { signal })
      return true
    } catch (err) {
      log('dial %s failed: %e', label, err)
      return false
    }
  }
}
