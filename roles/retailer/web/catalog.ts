import { InvalidParametersError, type Libp2p, type PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { findCatalogPeers } from '../../../protocols/catalog/client.ts'
import {
  CATALOG_OPS,
  CATALOG_PROTOCOL,
  lookupResponse,
  type SearchRequest,
  type SearchResponse,
  searchResponse,
} from '../../../protocols/catalog/index.ts'
import type { Clock } from '../../../protocols/clock.ts'
import { withDeadline } from '../../../protocols/deadline.ts'
import { isError } from '../../../protocols/errors.ts'
import { tryCanonicalContentId } from '../../../protocols/identifiers/index.ts'
import { parseMessage } from '../../../protocols/messages.ts'
import type { NetworkContext } from '../../../protocols/network.ts'
import { decodeRecord, type SignedRecord } from '../../../protocols/records/envelope.ts'
import { rpcCall } from '../../../protocols/rpc/client.ts'
import { WireErrors } from '../../../protocols/rpc/errors.ts'
import { CATALOG_DEADLINE_MS, MANIFEST_LOOKUPS_IN_FLIGHT, MAX_CATALOG_PEERS } from './constants.ts'
import { CatalogUnavailableError, NotInCatalogError } from './errors.ts'

const log = logger('consort:retailer:storefront:catalog')

export type ReleaseRecord = SignedRecord<'consort/release'>
export type ManifestRecord = SignedRecord<'consort/manifest'>

/** A release with its tracks' manifests, in the release's order (null where the catalog has no current manifest). */
export interface ReleaseView {
  release: ReleaseRecord
  contentId: string
  tracks: Array<{ isrc: string; manifest: ManifestRecord | null }>
}

/** What the storefront asks of the Content Catalog. */
export interface CatalogAccess {
  search(request: SearchRequest, signal?: AbortSignal): Promise<SearchResponse>
  /** The current release for `icpn:…` or `grid:…`, with its tracks' manifests. */
  release(contentId: string, signal?: AbortSignal): Promise<ReleaseView>
  /** The current manifest for an ISRC; `preferred` picks one signer's when several labels published it. */
  manifest(isrc: string, preferred?: CID | null, signal?: AbortSignal): Promise<ManifestRecord>
}

export interface ProtocolCatalogComponents {
  libp2p: Libp2p
  network: NetworkContext
  clock: Clock
}

/** The canonical content id of the release a track's manifest names, or null when it names none. */
export function manifestReleaseId(manifest: ManifestRecord): string | null {
  const release = manifest.body.release
  if (release == null) return null
  if (release.icpn != null) return tryCanonicalContentId(`icpn:${release.icpn}`)
  if (release.grid != null) return tryCanonicalContentId(`grid:${release.grid}`)
  return null
}

/**
 * The canonical form of a content id written in any valid form (`icpn:012345678905`, a bare UPC, `ISRC:us-rc1-…`),
 * or a `InvalidParametersError` naming `field` that a page shows in words.
 */
export function parseContentId(value: string, field: string): { kind: 'icpn' | 'grid' | 'isrc'; id: string } {
  const canonical = tryCanonicalContentId(value)
  if (canonical == null) {
    throw new InvalidParametersError(
      `${field}: “${value.slice(0, 64)}” is not a UPC/EAN, ISRC or GRid with a valid check digit`,
    )
  }
  const [kind, id] = canonical.split(':') as ['icpn' | 'grid' | 'isrc', string]
  return { kind, id }
}

/**
 * The catalog through its protocol (`/consort/<net>/catalog/1`): this node's own catalog role when it runs one
 * (an RPC to itself is served locally), else the nearest catalog nodes (connected peers, then DHT providers).
 * Records are decoded (signature and schema) here; the catalog checked their signers when it indexed them.
 */
export class ProtocolCatalog implements CatalogAccess {
  readonly #c: ProtocolCatalogComponents
  readonly #protocol: string

  constructor(components: ProtocolCatalogComponents) {
    this.#c = components
    this.#protocol = components.network.protocol(CATALOG_PROTOCOL)
  }

  async search(request: SearchRequest, signal?: AbortSignal): Promise<SearchResponse> {
    return parseMessage(searchResponse, await this.#call(CATALOG_OPS.search, request, signal), 'response')
  }

  async release(contentId: string, signal?: AbortSignal): Promise<ReleaseView> {
    const { kind, id } = parseContentId(contentId, 'release')
    if (kind === 'isrc') throw new InvalidParametersError(`release: ${contentId} names a track, not a release`)
    const records = await this.#lookup(kind === 'icpn' ? { icpn: id } : { grid: id }, signal)
    const release = newest(records.filter((r): r is ReleaseRecord => r.type === 'consort/release'))
    if (release == null) throw new NotInCatalogError(`no release ${contentId} in the catalog`)
    // One lookup per track, a few at a time (a box set lists hundreds).
    const tracks: ReleaseView['tracks'] = release.body.tracks.map((t) => ({ isrc: t.isrc, manifest: null }))
    let next = 0
    const worker = async () => {
      while (next < tracks.length) {
        const i = next++
        const track = release.body.tracks[i]!
        tracks[i]!.manifest = await this.manifest(track.isrc, track.manifest, signal).catch((err) => {
          if (isError(err, NotInCatalogError)) return null
          throw err
        })
      }
    }
    await Promise.all(Array.from({ length: Math.min(MANIFEST_LOOKUPS_IN_FLIGHT, tracks.length) }, worker))
    return { release, contentId: `${kind}:${id}`, tracks }
  }

  async manifest(isrc: string, preferred: CID | null = null, signal?: AbortSignal): Promise<ManifestRecord> {
    const records = (await this.#lookup({ isrc: isrc.toUpperCase() }, signal)).filter(
      (r): r is ManifestRecord => r.type === 'consort/manifest',
    )
    const chosen = (preferred != null ? records.find((r) => r.id.equals(preferred)) : undefined) ?? newest(records)
    if (chosen == null) throw new NotInCatalogError(`no track isrc:${isrc} in the catalog`)
    return chosen
  }

  async #lookup(request: Record<string, string>, signal?: AbortSignal): Promise<SignedRecord[]> {
    const body = parseMessage(lookupResponse, await this.#call(CATALOG_OPS.lookup, request, signal), 'response')
    const options = { network: this.#c.network.name, now: this.#c.clock.now(), caps: this.#c.network.caps }
    const out: SignedRecord[] = []
    for (const bytes of body.records) {
      try {
        out.push(decodeRecord(bytes, options))
      } catch (err) {
        log('dropping a catalog answer that does not decode: %e', err)
      }
    }
    return out
  }

  async #peers(signal: AbortSignal): Promise<PeerId[]> {
    const own = this.#c.libp2p.getProtocols().includes(this.#protocol) ? [this.#c.libp2p.peerId] : []
    if (own.length > 0) return own
    return findCatalogPeers(this.#c.libp2p, this.#c.network, { signal, max: MAX_CATALOG_PEERS })
  }

  async #call(op: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const combined = withDeadline(CATALOG_DEADLINE_MS, signal).signal
    const peers = await this.#peers(combined)
    if (peers.length === 0) throw new CatalogUnavailableError('no catalog node is known to this storefront yet')
    let last: unknown
    for (const peer of peers) {
      try {
        return await rpcCall(this.#c.libp2p, peer, this.#protocol, op, body, {
          signal: combined,
          errors: WireErrors.shared,
        })
      } catch (err) {
        if (isError(err, InvalidParametersError)) {
          throw new InvalidParametersError(err.message)
        }
        log('catalog %p failed to answer %s: %e', peer, op, err)
        last = err
      }
    }
    throw new CatalogUnavailableError(`no catalog node answered: ${(last as Error)?.message ?? 'unknown error'}`)
  }
}

function newest<T extends ReleaseRecord | ManifestRecord>(records: T[]): T | undefined {
  return records.sort((a, b) => b.body.created - a.body.created)[0]
}
