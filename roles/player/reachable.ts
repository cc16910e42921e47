import type { Libp2p, PeerId } from '@libp2p/interface'
import { withDeadline } from '../../protocols/deadline.ts'

/**
 * Before the player calls a service by peer id (a registrar, a reference service, a retailer, a clearinghouse), it
 * checks that the peer can be dialled at all, so that a call never waits out its whole deadline on a dial with
 * nothing to route through.
 */

/** How long peer routing may look for a peer that is neither connected nor in the peer store. */
const FIND_PEER_TIMEOUT_MS = 5_000

/**
 * Whether `peer` can be dialled: connected, known to the peer store, or found by peer routing within a few seconds.
 * A dial by bare peer id with nothing to route through would wait out its whole deadline (and hold up other dials
 * to the same peer meanwhile), so an unknown clearinghouse is reported unreachable at once instead.
 */
export async function reachable(libp2p: Libp2p, peer: PeerId, signal?: AbortSignal): Promise<void> {
  if (libp2p.peerId.equals(peer) || libp2p.getConnections(peer).length > 0) return
  const known = await libp2p.peerStore.get(peer).catch(() => null)
  if (known !== null && known.addresses.length > 0) return
  try {
    const found = await libp2p.peerRouting.findPeer(peer, {
      signal: withDeadline(FIND_PEER_TIMEOUT_MS, signal).signal,
    })
    if (found.multiaddrs.length > 0) return
  } catch {
    // not found
  }
  throw new PeerUnreachableError(`no address of ${peer} is known and peer routing did not find one`)
}

/** A peer is neither connected nor findable. */
export class PeerUnreachableError extends Error {
  static override name = 'PeerUnreachableError'
  override name = PeerUnreachableError.name

  constructor(message = 'A peer is neither connected nor findable', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_PEER_UNREACHABLE'
}
