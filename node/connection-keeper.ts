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

export interface ConnectionKeeperInit {
  bootstrap: string[]
  target?: number
  random: Random
}

/**
 * Keeps the node connected to enough peers. libp2p 3 does not dial the peers it discovers on its own, and its
 * bootstrap module dials its list only once, a second after start: a node started before its bootstrap peer, cut
 * off by an outage, or whose connections were closed by a busy peer would stay alone or hang off one peer, and
 * gossip would not reach it. Every few seconds, while it has fewer than `target` connections, the node dials its
 * bootstrap peers and then peers it has learnt of (identify, the DHT), a few at a time, chosen at random.
 */
export class ConnectionKeeper {
  readonly #libp2p: Libp2p
  readonly #bootstrap: string[]
  readonly #target: number
  readonly #random: Random
  #timer: ReturnType<typeof setInterval> | undefined
  #running = false
  readonly #controller = new AbortController()

  constructor(libp2p: Libp2p, init: ConnectionKeeperInit) {
    this.#libp2p = libp2p
    this.#bootstrap = [...new Set(init.bootstrap)]
    this.#target = init.target ?? DEFAULT_TARGET_CONNECTIONS
    this.#random = init.random
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

  /** One round: dial bootstrap peers first, then known peers, until the target is met or the round's dials are spent. */
  async check(): Promise<void> {
    if (this.#running || this.#controller.signal.aborted) return
    const missing = this.#target - new Set(this.#libp2p.getConnections().map((c) => c.remotePeer.toString())).size
    if (missing <= 0) return
    this.#running = true
    try {
      const self = this.#libp2p.peerId.toString()
      const dials: Array<Promise<unknown>> = []
      for (const address of this.#bootstrap) {
        if (dials.length >= MAX_DIALS_PER_CHECK) break
        const peer = multiaddr(address)
          .getComponents()
          .find((c) => c.name === 'p2p')?.value
        if (peer === self || (peer != null && this.#connected(peer))) continue
        dials.push(this.#dial(multiaddr(address), address))
      }
      if (dials.length < Math.min(missing, MAX_DIALS_PER_CHECK)) {
        const known = (await this.#libp2p.peerStore.all()).filter(
          (p) => p.addresses.length > 0 && !p.id.equals(this.#libp2p.peerId) && !this.#connected(p.id.toString()),
        )
        while (known.length > 0 && dials.length < Math.min(missing, MAX_DIALS_PER_CHECK)) {
          const [peer] = known.splice(Math.floor((this.#random.bytes(1)[0]! / 256) * known.length), 1)
          dials.push(this.#dial(peer!.id, peer!.id.toString()))
        }
      }
      await Promise.allSettled(dials)
    } finally {
      this.#running = false
    }
  }

  async #dial(target: PeerId | ReturnType<typeof multiaddr>, label: string): Promise<void> {
    const signal = withDeadline(DIAL_TIMEOUT_MS, this.#controller.signal).signal
    try {
      await this.#libp2p.dial(target, { signal })
    } catch (err) {
      log('dial %s failed: %e', label, err)
    }
  }
}
