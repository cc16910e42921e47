import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'

const log = logger('consort:bootstrap')

/** How often a node with too few connections dials its bootstrap peers again. */
export const BOOTSTRAP_RETRY_MS = 5_000
/** Below this many open connections the node goes back to its bootstrap list. */
export const MIN_CONNECTIONS = 2
/** Time one bootstrap dial may take. */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000

/**
 * libp2p's bootstrap module dials its list once, a second after start: a node started before its bootstrap peer,
 * or cut off by a network outage, would stay alone. This keeps dialling the bootstrap addresses while the node
 * has fewer than `MIN_CONNECTIONS` connections.
 */
export class BootstrapKeeper {
  readonly #libp2p: Libp2p
  readonly #addresses: string[]
  #timer: ReturnType<typeof setInterval> | undefined
  #running = false
  readonly #controller = new AbortController()

  constructor(libp2p: Libp2p, addresses: string[]) {
    this.#libp2p = libp2p
    this.#addresses = [...new Set(addresses)]
  }

  start(): void {
    if (this.#addresses.length === 0 || this.#timer != null) return
    this.#timer = setInterval(() => void this.check(), BOOTSTRAP_RETRY_MS)
    this.#timer.unref?.()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#controller.abort()
  }

  /** Dial every bootstrap address not yet connected, if the node is short of connections. */
  async check(): Promise<void> {
    if (this.#running || this.#controller.signal.aborted) return
    if (this.#libp2p.getConnections().length >= MIN_CONNECTIONS) return
    this.#running = true
    try {
      await Promise.allSettled(
        this.#addresses.map(async (address) => {
          const ma = multiaddr(address)
          const peer = ma.getComponents().find((c) => c.name === 'p2p')?.value
          if (
            peer != null &&
            (peer === this.#libp2p.peerId.toString() ||
              this.#libp2p.getConnections().some((c) => c.remotePeer.toString() === peer))
          )
            return
          const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS)])
          await this.#libp2p.dial(ma, { signal }).catch((err) => log('bootstrap dial %s failed: %e', address, err))
        }),
      )
    } finally {
      this.#running = false
    }
  }
}
