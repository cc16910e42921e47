import type { AbortOptions, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What opening a protocol stream needs: `dialProtocol`, and the open connections when the caller has them. */
export type StreamDialer = Pick<Libp2p, 'dialProtocol'> & { getConnections?: Libp2p['getConnections'] }

function isPeerId(value: unknown): value is PeerId {
  return (
    value != null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    typeof (value as PeerId).equals === 'function' &&
    typeof (value as { toMultihash?: unknown }).toMultihash === 'function'
  )
}

/**
 * Open a stream for `protocol` (or the first of several the peer serves) to `peer`, on a connection already open to it when there is one (a direct one
 * first, else a relayed one), otherwise by dialling. Relayed connections (a peer behind NAT, reachable only through
 * a relay until hole punching succeeds) carry Consort's protocols too: libp2p would otherwise refuse them, or dial
 * the peer again through the relay for every request.
 */
export async function openProtocolStream(
  libp2p: StreamDialer,
  peer: PeerId | Multiaddr | Multiaddr[],
  protocol: string | string[],
  options: AbortOptions = {},
): Promise<Stream> {
  if (isPeerId(peer) && libp2p.getConnections != null) {
    const open = libp2p.getConnections(peer).filter((c) => c.status === 'open')
    const connection = open.find((c) => c.limits == null) ?? open[0]
    if (connection != null) return connection.newStream(protocol, { ...options, runOnLimitedConnection: true })
  }
  return libp2p.dialProtocol(peer, protocol, { ...options, runOnLimitedConnection: true })
}
