import { toHex } from '../../keys/hex.ts'
import { formatMinorUnits } from '../../protocols/identifiers/currencies.ts'
import { referencePeers } from '../../protocols/peers.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { comparePrices, queryCertifiedOffers } from '../../protocols/reference/offers.ts'
import { atLeastAsWide, describeRules, resolveRules } from '../../protocols/usage-rules/index.ts'
import { MAX_CACHED_OFFERS } from './constants.ts'
import type { PlayerCore } from './core.ts'
import type { DeviceRegistration } from './device.ts'
import { type ContentDirectory, normaliseContent } from './directory.ts'
import { BadPlayerRequestError, OfferNotFoundError } from './errors.ts'
import type { HeldLicence } from './library.ts'
import { priceInWords } from './price-words.ts'
import { reachable } from './reachable.ts'
import type { ListedOffer, MarketView, PurchaseQuote } from './types.ts'

/**
 * What is for sale, as this player sees it: certified offers asked of every reference service (each answer
 * re-verified here), cheapest first, remembered (bounded) so that `buy` finds the offer a listing showed; the quote a
 * checkout shows before it charges; and whether this device already holds licences that give as much (decision 0706).
 */

/** An offer listed here, with the certification it was listed under and the territory it was listed for. */
export interface CachedOffer {
  offer: SignedRecord<'consort/offer'>
  certification: SignedRecord<'consort/certification'>
  territory: string
  listed: ListedOffer
}

export class Market {
  readonly #core: PlayerCore
  readonly #device: DeviceRegistration
  readonly #directory: ContentDirectory
  readonly #offers = new Map<string, CachedOffer>()

  constructor(core: PlayerCore, device: DeviceRegistration, directory: ContentDirectory) {
    this.#core = core
    this.#device = device
    this.#directory = directory
  }

  /**
   * Certified offers for a content id in a territory, cheapest first, checked here. For a track, offers of the
   * releases that list it are included.
   */
  async offers(content: string, options: { territory?: string; signal?: AbortSignal } = {}): Promise<MarketView> {
    const c = this.#core.components
    const id = normaliseContent(content)
    if (!/^(isrc|icpn|grid):/.test(id)) {
      throw new BadPlayerRequestError(`content: offers are listed for content ids, not ${id}`)
    }
    const territory = options.territory ?? this.#device.territory
    const contents = [id, ...(id.startsWith('isrc:') ? this.#directory.releasesOf(id.slice(5)) : [])]
    // Reference services are called by peer id: find the ones not yet connected first (bounded), so that a query
    // never waits out its deadline on a dial with nothing to route through.
    await Promise.allSettled(referencePeers(c.network).map((peer) => reachable(c.libp2p, peer, options.signal)))
    const listed = new Map<string, ListedOffer>()
    const dropped: MarketView['dropped'] = []
    const unreachable: MarketView['unreachable'] = []
    const defaults = c.network.body.policy.ruleDefaults
    for (const contentId of contents) {
      const answer = await queryCertifiedOffers(
        { libp2p: c.libp2p, network: c.network, trust: c.trust, clock: c.clock },
        { content: contentId, territory },
        options.signal !== undefined ? { signal: options.signal } : {},
      )
      dropped.push(...answer.dropped)
      unreachable.push(...answer.unreachable)
      for (const verified of answer.offers) {
        const o = verified.offer.body
        const view: ListedOffer = {
          offer: verified.offer.id.toString(),
          offerId: o.offerId,
          content: o.content,
          retailerName: verified.retailerName,
          retailerKey: toHex(verified.offer.signer),
          price: o.price,
          priceText: `${formatMinorUnits(o.price.amount, o.price.currency)} ${o.price.currency}`,
          useType: o.useType,
          rules: describeRules(o.rules, defaults),
          territories: o.territories,
          territory,
          certifier: verified.certifier,
          certifiedUntil: verified.certification.body.validUntil,
          validUntil: o.validUntil,
        }
        listed.set(view.offer, view)
        this.#remember({ offer: verified.offer, certification: verified.certification, territory, listed: view })
      }
    }
    const offers = [...listed.values()].sort(
      (a, b) => comparePrices(a.price, b.price) || a.offer.localeCompare(b.offer),
    )
    return { content: id, territory, offers, dropped, unreachable }
  }

  /** Remember a listed offer, newest last; the oldest are forgotten past `MAX_CACHED_OFFERS`. */
  #remember(cached: CachedOffer): void {
    this.#offers.delete(cached.listed.offer)
    this.#offers.set(cached.listed.offer, cached)
    while (this.#offers.size > MAX_CACHED_OFFERS) this.#offers.delete(this.#offers.keys().next().value!)
  }

  /**
   * What buying an offer listed by `offers` would cost and give, and whether this device already holds as much: what
   * a checkout shows before the buyer confirms (CLI `buy`, the web checkout).
   */
  quote(offerRef: string): PurchaseQuote {
    const cached = this.find(offerRef)
    const price = cached.offer.body.price
    const titles = cached.offer.body.content.map(
      (c) =>
        (c.startsWith('isrc:')
          ? this.#directory.manifestFor(c.slice(5))?.body.title
          : this.#directory.release(c)?.body.title) ?? c,
    )
    return {
      offer: cached.listed,
      title: titles.join(', '),
      priceText: `${formatMinorUnits(price.amount, price.currency)} ${price.currency}`,
      priceWords: priceInWords(price.amount, price.currency),
      territory: this.#device.territory,
      owned: this.ownedBy(cached).map((h) => ({
        purchaseId: h.purchaseId,
        licenceId: h.record.body.licenceId,
        useType: h.record.body.useType,
        rules: describeRules(h.record.body.rules, this.#core.components.network.body.policy.ruleDefaults),
      })),
    }
  }

  /**
   * The licences of this device that together already give at least what an offer would, for every track it covers
   * (`atLeastAsWide`, the shared rules); empty when any track is not covered so.
   */
  ownedBy(cached: CachedOffer): HeldLicence[] {
    const core = this.#core
    const o = cached.offer.body
    const offered = {
      useType: o.useType,
      rules: resolveRules(o.rules, core.components.network.body.policy.ruleDefaults),
    }
    const isrcs = o.content.flatMap((c) =>
      c.startsWith('isrc:') ? [c.slice(5)] : (this.#directory.release(c)?.body.tracks.map((t) => t.isrc) ?? [c]),
    )
    const now = core.now()
    const covering = new Map<string, HeldLicence>()
    for (const isrc of isrcs) {
      const wide = core.library
        .licencesFor(isrc)
        .find(
          (h) =>
            !core.isRevoked(h) &&
            atLeastAsWide({ useType: h.record.body.useType, rules: h.rules, state: h.state }, offered, now),
        )
      if (wide === undefined) return []
      covering.set(wide.purchaseId, wide)
    }
    return [...covering.values()]
  }

  /** An offer listed here, by its record id or, when only one retailer's has it, by its offer id. */
  find(ref: string): CachedOffer {
    const byId = this.#offers.get(ref)
    if (byId !== undefined) return byId
    const byOfferId = [...this.#offers.values()].filter((o) => o.offer.body.offerId === ref)
    if (byOfferId.length === 1) return byOfferId[0]!
    if (byOfferId.length > 1) {
      throw new BadPlayerRequestError(`offer: ${ref} names offers of several retailers; give the offer's record id`)
    }
    throw new OfferNotFoundError(`offer ${ref} is not known here: list offers first (consort offers CONTENT)`)
  }
}
