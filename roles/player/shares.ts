import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { isError } from '../../protocols/errors.ts'
import { tryCanonicalContentId } from '../../protocols/identifiers/content-id.ts'
import { id as idField } from '../../protocols/records/fields.ts'
import {
  createShare,
  DEFAULT_SHARE_TTL_MS,
  decodeShareLink,
  encodeShareLink,
  MAX_SHARE_LIFETIME_MS,
  type SharedContent,
  type ShareRecord,
} from '../../protocols/share/index.ts'
import { shareLink, shareTextOf } from '../common/share-links.ts'
import type { PlayerCore } from './core.ts'
import type { DeviceRegistration } from './device.ts'
import { type ContentDirectory, normaliseContent } from './directory.ts'
import { BadPlayerRequestError, OfferNotFoundError, ShareLinkError } from './errors.ts'
import type { CachedOffer, Market } from './market.ts'
import type { Playback } from './playback.ts'
import type { OpenedShare, PlayOptions, ShareOffer, ShareView } from './types.ts'

/**
 * Sharing (docs/decisions/0708-sharing-in-the-player.md): a listener's share of a track or release, signed with its
 * account key (`consort/share`, referrer kind `account`), and opening a share someone sent — its signature and expiry
 * checked here, the preview started at once from the swarm, and the certified offers for this account's attested
 * territory listed with the referrer's retailer first. Buying with it (`Buying.buy(…, { share })`) puts the share
 * into the signed purchase order, where the clearinghouse decides whether it earns a referral credit.
 */

const log = logger('consort:player:shares')

/** Shortest life a share may be given: less is no time to pass a link on. */
export const MIN_SHARE_TTL_MS = 60_000

export interface CreateShareOptions {
  /** The offer to recommend: a record id or offer id `offers` listed, or an offer id. */
  offer?: string
  /** How long the share runs (default 30 days, at most a year). */
  ttlMs?: number
}

export interface OpenShareOptions extends Pick<PlayOptions, 'out' | 'sink' | 'signal' | 'onFirstAudio'> {
  /** Start the preview (default true). */
  preview?: boolean
}

export class Shares {
  readonly #core: PlayerCore
  readonly #device: DeviceRegistration
  readonly #directory: ContentDirectory
  readonly #market: Market
  readonly #playback: Playback

  constructor(
    core: PlayerCore,
    device: DeviceRegistration,
    directory: ContentDirectory,
    market: Market,
    playback: Playback,
  ) {
    this.#core = core
    this.#device = device
    this.#directory = directory
    this.#market = market
    this.#playback = playback
  }

  /** Share a track (`isrc:…`, a bare ISRC or its manifest CID) or a release (`icpn:…`, `grid:…`) as this account. */
  async create(content: string, options: CreateShareOptions = {}): Promise<ShareView> {
    const core = this.#core
    const ttlMs = options.ttlMs ?? DEFAULT_SHARE_TTL_MS
    if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_SHARE_TTL_MS || ttlMs > MAX_SHARE_LIFETIME_MS) {
      throw new BadPlayerRequestError(
        `expires: a share runs from ${MIN_SHARE_TTL_MS / 60_000} minute to ${Math.floor(MAX_SHARE_LIFETIME_MS / 86_400_000)} days, not ${ttlMs} ms`,
      )
    }
    const shared = await this.#content(content)
    const offer = options.offer === undefined ? null : this.#offerOf(options.offer, shared)
    const record = createShare(
      {
        network: core.components.network.name,
        content: shared,
        kind: 'account',
        offer,
        now: core.now(),
        ttlMs,
        random: core.components.random,
      },
      core.account.signer,
    )
    log('shared %s as %s', shared.track ?? shared.release, record.id)
    return this.view(record)
  }

  /**
   * A share read from its link (`consort://share/…`, a web address with `/share/…` or `?share=`, or the bare text):
   * decoded, its signature checked against the referrer it names, not expired. Each failure names what is wrong.
   */
  read(link: string): ShareRecord {
    const found = shareTextOf(link)
    if ('problem' in found) throw new ShareLinkError(`not a share link: ${found.problem}`)
    return decodeShareLink(found.text, this.#core.decodeOptions())
  }

  /**
   * Open a share: check it, start its preview at once (from the swarm: the blocks the sharer seeds among them), and
   * list the certified offers for this account's territory, the referrer's retailer first when it sells here.
   */
  async open(link: string, options: OpenShareOptions = {}): Promise<OpenedShare> {
    const record = this.read(link)
    const view = this.view(record)
    const body = record.body
    const preview =
      options.preview === false
        ? null
        : this.#playback
            .play(body.content.manifest.toString(), {
              preview: true,
              ...(options.out !== undefined ? { out: options.out } : {}),
              ...(options.sink !== undefined ? { sink: options.sink } : {}),
              ...(options.signal !== undefined ? { signal: options.signal } : {}),
              ...(options.onFirstAudio !== undefined ? { onFirstAudio: options.onFirstAudio } : {}),
            })
            .then(
              (played) => ({
                played: true,
                seconds: played.seconds,
                firstAudioMs: played.firstAudioMs,
                sink: played.sink,
                problem: null,
              }),
              (err: Error) => ({ played: false, seconds: 0, firstAudioMs: null, sink: null, problem: err.message }),
            )
    const territory = this.#device.territory
    let market: Awaited<ReturnType<Market['offers']>>
    try {
      market = await this.#market.offers(body.content.track ?? body.content.release!, {
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      })
    } catch (err) {
      await preview // the preview's output is closed before the failure is answered
      throw err
    }
    const referrerRetailer = this.#referrerRetailer(record, market.offers)
    const offers: ShareOffer[] = market.offers
      .map((o) => ({
        ...o,
        shared:
          body.offer !== null && o.offerId === body.offer && (referrerRetailer ?? o.retailerKey) === o.retailerKey,
        fromReferrer: referrerRetailer !== null && o.retailerKey === referrerRetailer,
      }))
      // The referrer's retailer first (its recommended offer first of all), then the others cheapest first, as listed.
      .sort((a, b) => Number(b.shared) - Number(a.shared) || Number(b.fromReferrer) - Number(a.fromReferrer))
    const previewResult = preview === null ? null : await preview
    // A retailer this player holds no certificate of is named as the reference service listed it.
    if (view.referrer.kind === 'retailer' && view.referrer.name === null) {
      view.referrer.name = market.offers.find((o) => o.retailerKey === view.referrer.key)?.retailerName ?? null
    }
    return {
      share: view,
      territory,
      offers,
      referrerSellsHere: offers.some((o) => o.fromReferrer),
      sharedOffer: body.offer === null ? null : offers.some((o) => o.shared) ? 'listed' : 'not-sold-here',
      own: view.own,
      preview: previewResult,
      dropped: market.dropped,
      unreachable: market.unreachable,
    }
  }

  /** A share as the player shows it: what it names, who shared it, its links. */
  view(record: ShareRecord): ShareView {
    const body = record.body
    const text = encodeShareLink(record)
    const account = this.#core.accountOrNull
    const retailer =
      body.referrer.kind === 'retailer' ? this.#core.components.trust.certOf(body.referrer.key) : undefined
    const track = body.content.track
    const manifest = track !== null ? this.#directory.manifestFor(track.slice(5)) : undefined
    const release = body.content.release !== null ? this.#directory.release(body.content.release) : undefined
    return {
      share: record.id.toString(),
      id: body.id,
      text,
      link: shareLink(text),
      content: {
        track: track,
        release: body.content.release,
        manifest: body.content.manifest.toString(),
      },
      title: manifest?.body.title ?? release?.body.title ?? null,
      artists: manifest?.body.artists ?? release?.body.artists ?? [],
      referrer: {
        kind: body.referrer.kind,
        key: toHex(body.referrer.key),
        name: retailer?.body.name ?? null,
      },
      offer: body.offer,
      created: body.created,
      expires: body.expires,
      own: account !== null && toHex(account.signer.publicKey) === toHex(body.referrer.key),
    }
  }

  /**
   * The retailer a share leads to: a retailer referrer itself; for an account's share, the retailer of the offer it
   * recommends when that offer is listed here (an offer id is a retailer's own name: the first listed wins).
   */
  #referrerRetailer(
    record: ShareRecord,
    listed: ReadonlyArray<{ offerId: string; retailerKey: string }>,
  ): string | null {
    const body = record.body
    if (body.referrer.kind === 'retailer') return toHex(body.referrer.key)
    if (body.offer === null) return null
    return listed.find((o) => o.offerId === body.offer)?.retailerKey ?? null
  }

  /** What a share of `content` names: the track and the release it is on, or the release and its first track. */
  async #content(content: string): Promise<SharedContent> {
    const id = normaliseContent(content)
    if (id.startsWith('icpn:') || id.startsWith('grid:')) {
      const release = this.#directory.release(id) ?? (await this.#directory.lookupRelease(id))
      if (release === undefined) {
        throw new BadPlayerRequestError(`content: release ${id} is not known here or to any catalog node reached`)
      }
      const first = release.body.tracks[0]
      if (first === undefined) throw new BadPlayerRequestError(`content: release ${id} lists no tracks`)
      return { track: null, release: id, manifest: first.manifest }
    }
    const manifest = await this.#directory.resolve(id)
    const isrc = `isrc:${manifest.body.isrc}`
    // Both ids when known, so that buying the album through a track's share counts too (decision 0512).
    const named = manifest.body.release
    const release =
      this.#directory.releasesOf(manifest.body.isrc)[0] ??
      (named?.icpn != null ? tryCanonicalContentId(`icpn:${named.icpn}`) : null) ??
      (named?.grid != null ? tryCanonicalContentId(`grid:${named.grid}`) : null)
    return { track: isrc, release, manifest: manifest.id }
  }

  /** The offer id a share recommends: an offer `offers` listed (which must sell what is shared), or an offer id. */
  #offerOf(ref: string, shared: SharedContent): string {
    let cached: CachedOffer
    try {
      cached = this.#market.find(ref)
    } catch (err) {
      if (!isError(err, OfferNotFoundError)) throw err
      if (idField.safeParse(ref).success && !isCid(ref)) return ref
      throw new BadPlayerRequestError(
        `offer: ${ref} is not an offer listed here; list the offers first (consort offers ${shared.track ?? shared.release}) or give its offer id`,
      )
    }
    if (!offerSellsShared(cached.offer.body.content, shared)) {
      throw new BadPlayerRequestError(
        `offer: ${ref} sells ${cached.offer.body.content.join(', ')}, not what is shared (${shared.track ?? shared.release})`,
      )
    }
    return cached.offer.body.offerId
  }
}

/** Whether an offer sells what a share names (its track or its release). */
export function offerSellsShared(offerContent: readonly string[], shared: SharedContent): boolean {
  return offerContent.some((c) => c === shared.track || c === shared.release)
}

function isCid(text: string): boolean {
  try {
    CID.parse(text)
    return true
  } catch {
    return false
  }
}
