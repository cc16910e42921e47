import { createHash } from 'node:crypto'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { parseMessage } from '../messages.ts'
import type { NetworkContext } from '../network.ts'
import { rpcCall } from '../rpc/client.ts'
import { WireErrors } from '../rpc/errors.ts'
import {
  CATALOG_OPS,
  CATALOG_PROTOCOL,
  catalogServiceKey,
  type SearchRequest,
  type SearchResponse,
  searchResponse,
} from './index.ts'

/** The DHT key catalog nodes provide: a CID of the service name, so the usual provider records find them. */
export function catalogServiceCid(network: string): CID {
  const hash = createHash('sha256').update(catalogServiceKey(network)).digest()
  return CID.createV1(raw.code, createDigest(sha256.code, hash))
}

/** Catalog nodes: connected peers that speak the catalog protocol first, then DHT providers. */
export async function findCatalogPeers(
  libp2p: Libp2p,
  network: NetworkContext,
  options: { signal?: AbortSignal; max?: number } = {},
): Promise<PeerId[]> {
  const protocol = network.protocol(CATALOG_PROTOCOL)
  const found: PeerId[] = []
  const seen = new Set<string>()
  for (const connection of libp2p.getConnections()) {
    const peer = await libp2p.peerStore.get(connection.remotePeer).catch(() => null)
    if (peer?.protocols.includes(protocol) === true && !seen.has(connection.remotePeer.toString())) {
      seen.add(connection.remotePeer.toString())
      found.push(connection.remotePeer)
    }
  }
  const max = options.max ?? 3
  if (found.length >= max) return found.slice(0, max)
  try {
    for await (const provider of libp2p.contentRouting.findProviders(catalogServiceCid(network.name), {
      signal: options.signal ?? AbortSignal.timeout(5000),
    })) {
      if (provider.id.equals(libp2p.peerId) || seen.has(provider.id.toString())) continue
      seen.add(provider.id.toString())
      found.push(provider.id)
      if (found.length >= max) break
    }
  } catch {
    // no providers reachable: answer with what we have
  }
  return found
}

export async function searchRemoteCatalog(
  libp2p: Libp2p,
  network: NetworkContext,
  peer: PeerId,
  request: SearchRequest,
  signal?: AbortSignal,
): Promise<SearchResponse> {
  const body = await rpcCall(libp2p, peer, network.protocol(CATALOG_PROTOCOL), CATALOG_OPS.search, request, {
    errors: WireErrors.shared,
    ...(signal != null ? { signal } : {}),
  })
  return parseMessage(searchResponse, body, 'response')
}
