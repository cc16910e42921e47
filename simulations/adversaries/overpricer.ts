import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { SimNode } from '../cluster.ts'

/** The two ways an over-pricer tries to sell above the certified price. */
export const OVERPRICE_KINDS = ['foreign-certification', 'uncertified'] as const
export type OverpriceKind = (typeof OVERPRICE_KINDS)[number]

/** How much above the honest offer the over-pricer asks. */
export const OVERPRICE_FACTOR = 10n

/** An honest offer the over-pricer copies, and its certification. */
export interface CertifiedOffer {
  offer: SignedRecord<'consort/offer'>
  certification: SignedRecord<'consort/certification'>
}

export interface OverpriceMetrics {
  nodes: number
  published: Record<OverpriceKind, number>
  /** Listings of an over-pricer's offer that any player was shown by the reference services (must be 0). */
  listedToPlayers: number
  /** Contents whose listings were checked. */
  contentsChecked: number
}

/**
 * Certified retailers (a retailer certificate, no retailer role) that copy an honest certified offer at ten times
 * its price under their own signature and publish it on the offers topic: once with the honest offer's
 * certification attached (a certification of another offer), once with none. Every honest node's offer check must
 * refuse both (the gossip tracker counts any acceptance), and no reference service may list them to a player.
 */
export class Overpricers {
  readonly #nodes: SimNode[]
  readonly #published: Record<OverpriceKind, number> = { 'foreign-certification': 0, uncertified: 0 }
  readonly #contents = new Set<string>()
  #listed = 0

  constructor(nodes: SimNode[]) {
    this.#nodes = nodes
  }

  get nodes(): readonly SimNode[] {
    return this.#nodes
  }

  async publish(sim: SimNode, honest: CertifiedOffer, kind: OverpriceKind, n: number, now: number): Promise<void> {
    if (!sim.online) return
    const body = honest.offer.body
    const offer = signRecord(
      'consort/offer',
      {
        ...body,
        created: now,
        offerId: `overpriced-${sim.index}-${n}`,
        seq: 1,
        price: { amount: body.price.amount * OVERPRICE_FACTOR, currency: body.price.currency },
        contract: CID.parse(body.contract.toString()),
      },
      sim.keys.signer,
    )
    const node = sim.started
    const attachments = [...node.credentials.attachments()]
    if (kind === 'foreign-certification') attachments.push(honest.certification)
    for (const c of body.content) this.#contents.add(c)
    this.#published[kind]++
    await node.topics.publish('offers', offer, attachments)
  }

  /** Ask a player's view of the market for every attacked content: an over-pricer's offer must never be listed. */
  async checkListings(list: (content: string) => Promise<Array<{ retailerKey: string }>>): Promise<void> {
    const keys = new Set(this.#nodes.map((n) => toHex(n.keys.signer.publicKey)))
    for (const content of this.#contents) {
      const offers = await list(content).catch(() => [])
      this.#listed += offers.filter((o) => keys.has(o.retailerKey)).length
    }
  }

  metrics(): OverpriceMetrics {
    return {
      nodes: this.#nodes.length,
      published: { ...this.#published },
      listedToPlayers: this.#listed,
      contentsChecked: this.#contents.size,
    }
  }
}
