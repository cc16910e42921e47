import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { Libp2pRecord } from '@libp2p/record'
import { tcp } from '@libp2p/tcp'
import { isPrivate } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { type Datastore, Key } from 'interface-datastore'
import type { Libp2pOptions } from 'libp2p'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { Clock } from '../protocols/clock.ts'
import { DHT_NAMESPACE, selectLatestRecord, validateLatestRecord } from '../protocols/dht.ts'
import type { NetworkContext } from '../protocols/network.ts'
import { gossipStreamKeeper } from './gossip-streams.ts'
import { noiseCrypto } from './noise-crypto.ts'
import { decodeNoiseFramesQuietly } from './noise-frames.ts'
import { consortGossipsub, GOSSIP_PROTOCOLS, type GossipSignaturePolicy } from './pubsub.ts'

export const AGENT_VERSION = 'consort/0.1.0'

export interface TransportOptions {
  /** TCP, with WebSockets (browsers) and circuit relay (NAT) beside it. */
  tcp: boolean
  memory: boolean
  /** Latency the memory transport adds to every buffer (tests). */
  memoryLatencyMs?: number
  /** Transports besides these (the simulator's link fabric). */
  extra?: NonNullable<Libp2pOptions['transports']>
}

/**
 * How often libp2p's connection monitor pings each connection from each end (libp2p's own default: 10 s). On a Consort
 * node a failed ping closes nothing (decision 0009): the pings only measure round trips (`conn.rtt`, read by nothing
 * in Consort; libp2p's `libp2p_connection_monitor_ping_time_milliseconds`), and each costs a new stream with its
 * protocol negotiation and a peer-store write at both ends — most of an idle node's CPU at 10 s. Keeping connections
 * alive through TCP's inactivity time-out and NAT mappings is yamux's keep-alive (`MUXER_KEEP_ALIVE_MS`), not the
 * monitor's. Once a minute keeps round trips current for operators at a sixth of the cost (decision 0019). It is the
 * default of `config.json`'s `connectionMonitor.pingIntervalMs`, which the daemon (and so the devnet) passes on;
 * `createConsortNode` without a setting keeps libp2p's 10 s, which simulations without `libp2p.pingIntervalMs` and
 * their determinism figures were made with.
 */
export const DEFAULT_PING_INTERVAL_MS = 60_000

/**
 * yamux's keep-alive: a PING frame on every connection this often (no stream, no negotiation). It is what keeps an
 * idle connection's bytes flowing: within `@libp2p/tcp`'s 120 s inactivity time-out at each end and every common NAT
 * or firewall idle time-out for TCP (AWS NAT gateway 350 s, Azure 4 min, Google Cloud NAT 20 min; decision 0019).
 * Stated here rather than inherited from the library's default, so that a change there cannot let connections idle out.
 */
export const MUXER_KEEP_ALIVE_MS = 30_000

/** NAT traversal (config.json `nat`). */
export interface NatOptions {
  autonat: boolean
  relayServer: boolean
  reserveRelay: boolean
  holePunching: boolean
}

/** Simulations and in-process tests: no NAT to traverse. */
export const NO_NAT: NatOptions = { autonat: false, relayServer: false, reserveRelay: false, holePunching: false }

/**
 * What a relay lets one relayed connection carry before it resets it. libp2p's defaults (2 minutes, 128 KiB) suit
 * only signalling; a Consort relay carries a NATed player's purchases, usage reports and, when hole punching fails,
 * the blocks it fetches or serves: tens of MiB a track. A relay operator bounds the cost with the reservations.
 */
export const RELAY_DATA_LIMIT_BYTES = 256n * 1024n * 1024n
export const RELAY_DURATION_LIMIT_MS = 30 * 60_000
/** NATed peers one relay serves at once. */
export const RELAY_MAX_RESERVATIONS = 128

export interface Libp2pAssembly {
  privateKey: PrivateKey
  datastore: Datastore
  network: NetworkContext
  clock: Clock
  listen: string[]
  announce: string[]
  bootstrap: string[]
  transports: TransportOptions
  dhtClientMode: boolean
  nat?: NatOptions
  gossip?: { meshDegree?: number; heartbeatIntervalMs?: number; signaturePolicy?: GossipSignaturePolicy }
  maxConnections?: number
}

/** The network's own Kad-DHT protocol (not the IPFS DHT): a peer whose identify lists it is a DHT server. */
export function dhtProtocol(network: string): string {
  return `/consort/${network}/kad/1.0.0`
}

/** Where kad-dht keeps records it stores for others (its default datastore prefix, `/dht/record`). */
async function storedDhtValue(datastore: Datastore, key: Uint8Array): Promise<Uint8Array | null> {
  try {
    const bytes = await datastore.get(new Key(`/dht/record/${bytesToString(key, 'base32')}`, false))
    return Libp2pRecord.deserialize(bytes).value
  } catch {
    return null
  }
}

/**
 * True when the node tells others to reach it only at public addresses: it announces some, and none is private. A
 * node listening on every interface without announcing (a LAN, a studio network, namespaces on one machine) shares
 * what it has, private addresses included, or its peers could never find it (docs/decisions/0010).
 */
export function announcesOnlyPublicly(announce: string[]): boolean {
  // libp2p's own notion of private (RFC 1918, loopback, link-local, CGNAT, the test and documentation ranges…):
  // the DHT's filter uses the same one, so a node never announces what its own DHT would strip.
  return announce.length > 0 && announce.every((address) => !isPrivate(multiaddr(address)))
}

/** The libp2p 3 configuration of a Consort node: its transports, security, muxer and services. */
export function libp2pOptions(a: Libp2pAssembly): Libp2pOptions {
  const nat = a.transports.tcp ? (a.nat ?? NO_NAT) : NO_NAT
  const transports = []
  if (a.transports.tcp) transports.push(tcp(), webSockets(), circuitRelayTransport())
  if (a.transports.memory) transports.push(memory({ latency: a.transports.memoryLatencyMs ?? 0 }))
  if (a.transports.extra != null) transports.push(...a.transports.extra)
  // `/p2p-circuit` as a listen address makes the relay transport reserve a slot on a relay among its peers.
  const listen = nat.reserveRelay && !a.listen.includes('/p2p-circuit') ? [...a.listen, '/p2p-circuit'] : a.listen
  const bootstrapList = [...new Set([...a.bootstrap, ...a.network.body.bootstrap])]
  const decodeOptions = () => ({ network: a.network.name, now: a.clock.now(), caps: a.network.caps })
  // noise's frame decoder throws once per chunk a socket reads: without a stack trace, that costs a fifth as much
  decodeNoiseFramesQuietly()
  return {
    privateKey: a.privateKey,
    datastore: a.datastore,
    addresses: { listen, announce: a.announce },
    transports,
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux({ enableKeepAlive: true, keepAliveInterval: MUXER_KEEP_ALIVE_MS })],
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList })] : [],
    connectionManager: { maxConnections: a.maxConnections ?? 300 },
    nodeInfo: { userAgent: AGENT_VERSION },
    services: {
      identify: identify(),
      ping: ping(),
      ...(nat.autonat ? { autoNAT: autoNAT({ protocolPrefix: `consort/${a.network.name}` }) } : {}),
      ...(nat.holePunching ? { dcutr: dcutr() } : {}),
      ...(nat.relayServer
        ? {
            relay: circuitRelayServer({
              reservations: {
                maxReservations: RELAY_MAX_RESERVATIONS,
                defaultDataLimit: RELAY_DATA_LIMIT_BYTES,
                defaultDurationLimit: RELAY_DURATION_LIMIT_MS,
              },
            }),
          }
        : {}),
      dht: kadDHT({
        protocol: dhtProtocol(a.network.name),
        clientMode: a.dhtClientMode,
        // A node that announces public addresses shares only public addresses through the DHT; any other (a devnet,
        // a label's studio network, hosts on one LAN) must share its private ones, or its peers could never find it.
        peerInfoMapper: announcesOnlyPublicly(a.announce) ? removePrivateAddressesMapper : passthroughMapper,
        validators: {
          [DHT_NAMESPACE]: async (key, value) =>
            validateLatestRecord(key, value, decodeOptions, await storedDhtValue(a.datastore, key)),
        },
        selectors: { [DHT_NAMESPACE]: selectLatestRecord },
      }),
      pubsub: consortGossipsub({
        network: a.network.name,
        maxMessageBytes: a.network.body.caps.messageBytes,
        ...a.gossip,
      }),
      // gossipsub never opens a failed or closed gossip stream again while the connection lives (decision 0018).
      gossipStreams: gossipStreamKeeper({ protocols: GOSSIP_PROTOCOLS }),
    },
  } as unknown as Libp2pOptions
}
