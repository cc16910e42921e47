import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { NetworkContext } from './network.ts'

/**
 * Every participant's record-signing key is its libp2p identity key, so a signer is also an address: the peer
 * id of the key that signed an offer is the retailer to buy from; the keys the network record lists are the
 * registration managers, reference services and clearinghouses to call.
 */
export function peerIdOfKey(publicKey: Uint8Array): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey))
}

export function registrarPeers(network: NetworkContext): PeerId[] {
  return network.body.registrars.map((a) => peerIdOfKey(a.key))
}

export function referencePeers(network: NetworkContext): PeerId[] {
  return network.body.references.map((a) => peerIdOfKey(a.key))
}

export function clearinghousePeers(network: NetworkContext): PeerId[] {
  return network.body.clearinghouses.map((a) => peerIdOfKey(a.key))
}
