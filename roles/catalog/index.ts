import { z } from 'zod'
import { defineRole } from '../role.ts'
import { CatalogRole } from './catalog.ts'
import { CATALOG_LAYOUT } from './store.ts'

export { type CatalogComponents, type CatalogInit, CatalogRole } from './catalog.ts'
export { type CatalogDocument, toDocument } from './documents.ts'
export { SearchIndex } from './search-index.ts'

/** The Content Catalog role (`--roles catalog`): a searchable replica of every current release. See README.md. */
export const catalog = defineRole({
  name: 'catalog',
  options: z.strictObject({
    /** Ask a catalog peer for everything it has when starting (default true). */
    catchUp: z.boolean().optional(),
    /** Announce this node as a catalog service in the DHT (default true). */
    announce: z.boolean().optional(),
  }),
  components: ['peerId', 'libp2p', 'clock', 'network', 'topics', 'trust'],
  layout: CATALOG_LAYOUT,
  create: (components, options) => new CatalogRole(components, options),
})
