import type { Clock } from '../../../protocols/clock.ts'
import { tryCanonicalContentId } from '../../../protocols/identifiers/index.ts'
import type { OfferBody } from '../../../protocols/records/types/offer.ts'
import { describeRules, type NetworkRuleDefaults, type UsageRules } from '../../../protocols/usage-rules/index.ts'
import { MAX_SHELF_OFFERS, OFFER_SHELF_TTL_MS } from './constants.ts'

/** An offer of this retailer as the storefront shows it. */
export interface ShelfOffer {
  /** The record id of the version on sale: what a player buys. */
  offer: string
  offerId: string
  content: string[]
  price: { amount: bigint; currency: string }
  priceText: string
  useType: string
  /** `describeRules` of the offer's rules, through the network's defaults. */
  rules: string[]
  territories: string[]
  excludedTerritories: string[]
  validUntil: number | null
  promotion: OfferBody['promotion']
  certifiedUntil: number | null
}

/** What the shelf reads: the retailer's offers page by page (its `OfferDesk.list`). */
export interface OfferSource {
  list(
    after: string | null,
    limit?: number,
  ): Promise<
    Array<{
      offerId: string
      onSale: boolean
      offer: string
      content: string[]
      price: { amount: bigint; currency: string }
      priceText: string
      useType: string
      rules: UsageRules
      territories: string[]
      excludedTerritories: string[]
      validFrom: number
      validUntil: number | null
      promotion: OfferBody['promotion']
      certifiedUntil: number | null
    }>
  >
}

/** The offers on sale for some content ids. */
export interface OfferShelf {
  forContent(contentIds: readonly string[]): Promise<ShelfOffer[]>
}

/**
 * The retailer's own certified offers on sale, indexed by content id. The index is rebuilt from the retailer's
 * store at most every `OFFER_SHELF_TTL_MS` (a page view never waits for more than one rebuild), reading at most
 * `MAX_SHELF_OFFERS`; only offers with a live certified version inside their window are shown.
 */
export class RetailerShelf implements OfferShelf {
  readonly #source: OfferSource
  readonly #clock: Clock
  readonly #defaults: () => NetworkRuleDefaults
  readonly #ttlMs: number
  #index: { builtAt: number; byContent: Map<string, ShelfOffer[]> } | null = null
  #building: Promise<Map<string, ShelfOffer[]>> | null = null

  constructor(source: OfferSource, clock: Clock, defaults: () => NetworkRuleDefaults, ttlMs = OFFER_SHELF_TTL_MS) {
    this.#source = source
    this.#clock = clock
    this.#defaults = defaults
    this.#ttlMs = ttlMs
  }

  async forContent(contentIds: readonly string[]): Promise<ShelfOffer[]> {
    const index = await this.#current()
    const now = this.#clock.now()
    const seen = new Set<string>()
    const out: ShelfOffer[] = []
    for (const id of contentIds) {
      for (const offer of index.get(tryCanonicalContentId(id) ?? id) ?? []) {
        if (seen.has(offer.offer)) continue
        if (offer.validUntil != null && offer.validUntil <= now) continue
        if (offer.certifiedUntil != null && offer.certifiedUntil <= now) continue
        seen.add(offer.offer)
        out.push(offer)
      }
    }
    return out
  }

  /** Forget the index (after the retailer changed its offers). */
  invalidate(): void {
    this.#index = null
  }

  async #current(): Promise<Map<string, ShelfOffer[]>> {
    const now = this.#clock.now()
    if (this.#index != null && now - this.#index.builtAt < this.#ttlMs) return this.#index.byContent
    this.#building ??= this.#build()
      .then((byContent) => {
        this.#index = { builtAt: this.#clock.now(), byContent }
        return byContent
      })
      .finally(() => {
        this.#building = null
      })
    return this.#building
  }

  async #build(): Promise<Map<string, ShelfOffer[]>> {
    const byContent = new Map<string, ShelfOffer[]>()
    const now = this.#clock.now()
    const defaults = this.#defaults()
    let after: string | null = null
    let read = 0
    while (read < MAX_SHELF_OFFERS) {
      const page = await this.#source.list(after)
      if (page.length === 0) break
      read += page.length
      after = page[page.length - 1]!.offerId
      for (const view of page) {
        if (!view.onSale || view.validFrom > now) continue
        const offer: ShelfOffer = {
          offer: view.offer,
          offerId: view.offerId,
          content: view.content,
          price: view.price,
          priceText: view.priceText,
          useType: view.useType,
          rules: describeRules(view.rules, defaults),
          territories: view.territories,
          excludedTerritories: view.excludedTerritories,
          validUntil: view.validUntil,
          promotion: view.promotion,
          certifiedUntil: view.certifiedUntil,
        }
        for (const written of view.content) {
          // Keyed by the canonical id, as pages ask (decision 0006), whatever form the offer was written in.
          const id = tryCanonicalContentId(written) ?? written
          const list = byContent.get(id) ?? []
          list.push(offer)
          byContent.set(id, list)
        }
      }
    }
    for (const list of byContent.values()) list.sort(cheapestFirst)
    return byContent
  }
}

/** By currency, then amount (money is compared as integers, never as text or floats). */
function cheapestFirst(a: ShelfOffer, b: ShelfOffer): number {
  if (a.price.currency !== b.price.currency) return a.price.currency < b.price.currency ? -1 : 1
  return a.price.amount < b.price.amount ? -1 : a.price.amount > b.price.amount ? 1 : a.offer.localeCompare(b.offer)
}
