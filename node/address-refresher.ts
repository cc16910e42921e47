import type { IdentifyResult, Libp2p, PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('consort:addresses')

/**
 * How often the addresses each connected peer announced are stamped again in the peer store: well within the hour
 * after which libp2p's peer store drops an address (`MAX_ADDRESS_AGE` of `@libp2p/peer-store`), so that a peer this
 * node is connected to always has its addresses there, for this node's own dials and for its Kad-DHT answers.
 */
export const ADDRESS_REFRESH_MS = 20 * 60_000

interface Announced {
  peer: PeerId
  addresses: Array<{ multiaddr: Multiaddr; isCertified: boolean }>
}

/**
 * Keeps the addresses peers announce in the peer store for an hour after the peer was last seen at them, not an hour
 * after it was first seen there (decision 0017).
 *
 * libp2p's peer store (`@libp2p/peer-store` 12) stamps an address when it first stores it, keeps that stamp each time
 * the address is stored again (identify on every new connection included), and hides the address an hour after the
 * stamp. So an hour after a node first met a peer it holds no address for it, even while connected; once that
 * connection closes (pruned, the peer restarted, a network blip) the node cannot dial the peer, and its Kad-DHT,
 * which answers from the same peer store, tells no one else where the peer is. A retailer that lost its connection to
 * a reference service found it again only if the service dialled back.
 *
 * The refresher remembers what each connected peer announced at its last identify (the signed peer record's
 * addresses when it sent one, as identify stores them) and stamps those again every `ADDRESS_REFRESH_MS` while
 * connected, and once more when the peer disconnects. It holds one entry per connected peer.
 */
export class AddressRefresher {
  readonly #libp2p: Pick<Libp2p, 'peerStore' | 'addEventListener' | 'removeEventListener' | 'getConnections'>
  readonly #announced = new Map<string, Announced>()
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(libp2p: Pick<Libp2p, 'peerStore' | 'addEventListener' | 'removeEventListener' | 'getConnections'>) {
    this.#libp2p = libp2p
  }

  start(): void {
    if (this.#timer != null) return
    this.#libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.#libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#timer = setInterval(() => void this.refreshConnected(), ADDRESS_REFRESH_MS)
    this.#timer.unref?.()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.#libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#announced.clear()
  }

  /** Stamp again the addresses of every connected peer (and forget peers no longer connected). */
  async refreshConnected(): Promise<void> {
    for (const [key, announced] of [...this.#announced]) {
      if (this.#libp2p.getConnections(announced.peer).length === 0) {
        // Stamped when it disconnected.
        this.#announced.delete(key)
        continue
      }
      await this.#stamp(announced)
    }
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, listenAddrs, signedPeerRecord } = event.detail
    const addresses =
      signedPeerRecord != null && signedPeerRecord.addresses.length > 0
        ? signedPeerRecord.addresses.map((multiaddr) => ({ multiaddr, isCertified: true }))
        : listenAddrs.map((multiaddr) => ({ multiaddr, isCertified: false }))
    if (addresses.length === 0) return
    this.#announced.set(peerId.toString(), { peer: peerId, addresses })
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const key = event.detail.toString()
    const announced = this.#announced.get(key)
    if (announced == null) return
    this.#announced.delete(key)
    void this.#stamp(announced)
  }

  /**
   * The peer store copies an address's stamp from the stored copy of the same address, so the addresses are first
   * taken away, then stored again: stamped now. Everything else about the peer (tags, metadata, protocols) stays.
   */
  async #stamp({ peer, addresses }: Announced): Promise<void> {
    try {
      await this.#libp2p.peerStore.patch(peer, { addresses: [] })
      await this.#libp2p.peerStore.patch(peer, { addresses })
    } catch (err) {
      log('could not stamp the addresses of %p again: %e', peer, err)
    }
  }
}
