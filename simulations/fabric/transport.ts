import {
  type ComponentLogger,
  type Connection,
  type CreateListenerOptions,
  type DialTransportOptions,
  type Listener,
  type ListenerEvents,
  type PeerId,
  serviceCapabilities,
  type Transport,
  TypedEventEmitter,
  transportSymbol,
  type Upgrader,
} from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { SimConnection } from './connection.ts'
import type { Fabric } from './fabric.ts'

/** Addresses of simulated nodes: `/memory/NAME`, optionally with `/p2p/PEER`. */
const SIM_ADDRESS = /^\/memory\/[^/]+(\/p2p\/[^/]+)?$/

interface TransportComponents {
  peerId: PeerId
  logger: ComponentLogger
}

/**
 * A libp2p transport whose connections are the fabric's (`/memory/...` addresses), built only on libp2p's public
 * interfaces (`Transport`, `Listener`, the upgrader, `AbstractMultiaddrConnection`). A simulated node runs it
 * instead of TCP: everything above it — Noise, yamux, identify, kad-dht, gossipsub, the roles — is the real stack.
 */
export function simTransport(fabric: Fabric): (components: TransportComponents) => Transport {
  return (components) => new SimTransport(components, fabric)
}

class SimTransport implements Transport {
  readonly [transportSymbol] = true as const
  readonly [Symbol.toStringTag] = '@consort/sim-transport'
  readonly [serviceCapabilities] = ['@libp2p/transport']
  readonly #components: TransportComponents
  readonly #fabric: Fabric

  constructor(components: TransportComponents, fabric: Fabric) {
    this.#components = components
    this.#fabric = fabric
  }

  async dial(ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    options.signal.throwIfAborted()
    const address = ma.toString().replace(/\/p2p\/[^/]+$/, '')
    const logs = {
      dialer: this.#components.logger.forComponent('consort:sim:connection'),
      listener: this.#components.logger.forComponent('consort:sim:connection'),
    }
    const maConn = await this.#fabric.connect(this.#components.peerId.toString(), address, options.signal, logs)
    try {
      options.signal.throwIfAborted()
      return await options.upgrader.upgradeOutbound(maConn, options)
    } catch (err) {
      maConn.abort(err as Error)
      throw err
    }
  }

  createListener(options: CreateListenerOptions): Listener {
    return new SimListener(this.#fabric, options.upgrader)
  }

  listenFilter(multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter((ma) => SIM_ADDRESS.test(ma.toString()))
  }

  dialFilter(multiaddrs: Multiaddr[]): Multiaddr[] {
    return this.listenFilter(multiaddrs)
  }
}

class SimListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  readonly #fabric: Fabric
  readonly #upgrader: Upgrader
  readonly #shutdown = new AbortController()
  #address: Multiaddr | null = null

  constructor(fabric: Fabric, upgrader: Upgrader) {
    super()
    this.#fabric = fabric
    this.#upgrader = upgrader
  }

  async listen(ma: Multiaddr): Promise<void> {
    const address = ma.toString().replace(/\/p2p\/[^/]+$/, '')
    this.#fabric.listen(address, (connection) => this.#accept(connection))
    this.#address = multiaddr(address)
    queueMicrotask(() => this.safeDispatchEvent('listening'))
  }

  #accept(connection: SimConnection): void {
    this.#upgrader.upgradeInbound(connection, { signal: this.#shutdown.signal }).catch((err) => {
      connection.abort(err as Error)
    })
  }

  getAddrs(): Multiaddr[] {
    return this.#address == null ? [] : [this.#address]
  }

  updateAnnounceAddrs(): void {}

  async close(): Promise<void> {
    if (this.#address != null) this.#fabric.unlisten(this.#address.toString())
    this.#shutdown.abort()
    queueMicrotask(() => this.safeDispatchEvent('close'))
  }
}
