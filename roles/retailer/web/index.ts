import type { BlockStore } from '../../../protocols/records/store.ts'
import type { RoleComponents } from '../../role.ts'
import { ProtocolCatalog } from './catalog.ts'
import { PreviewClips } from './preview.ts'
import { shareDesk } from './shares.ts'
import { type OfferSource, RetailerShelf } from './shelf.ts'
import { Storefront, type StorefrontInit } from './storefront.ts'

/**
 * The Retail Web Site, served by the retailer node (see README.md). `role.ts` has `withStorefront`, which composes it
 * onto the retailer role.
 */
export { type CatalogAccess, ProtocolCatalog, parseContentId, type ReleaseView } from './catalog.ts'
export * from './constants.ts'
export * from './errors.ts'
export { type PreviewClip, PreviewClips } from './preview.ts'
export { type OpenedStoreShare, type ShareDesk, shareDesk } from './shares.ts'
export { type OfferShelf, type OfferSource, RetailerShelf, type ShelfOffer } from './shelf.ts'
export { parseStorefrontInit, Storefront, type StorefrontComponents, type StorefrontInit } from './storefront.ts'

/** A storefront over this node's catalog access, the retailer's own offers and the swarm's preview segments. */
export function createStorefront(
  components: Pick<
    RoleComponents,
    'helia' | 'libp2p' | 'network' | 'clock' | 'credentials' | 'keys' | 'random' | 'trust'
  >,
  offers: OfferSource,
  init: StorefrontInit = {},
): Storefront {
  const blockstore = components.helia.blockstore as unknown as BlockStore
  return new Storefront(
    {
      libp2p: components.libp2p,
      blockstore,
      network: components.network,
      clock: components.clock,
      catalog: new ProtocolCatalog(components),
      shelf: new RetailerShelf(offers, components.clock, () => components.network.body.policy.ruleDefaults),
      previews: new PreviewClips({ blockstore }),
      shares: shareDesk({
        signer: components.keys.signer,
        network: components.network,
        clock: components.clock,
        random: components.random,
        trust: components.trust,
      }),
      defaultName: () => components.credentials.cert()?.body.name ?? 'Consort store',
    },
    init,
  )
}
