import type { RoleComponents } from '../../role.ts'
import { type WithPages, withPages } from '../../role.ts'
import type { RetailerService } from '../retailer.ts'
import { createStorefront } from './index.ts'
import type { Storefront, StorefrontInit } from './storefront.ts'

/**
 * The retailer role with its storefront composed on (`role.storefront`), not subclassed: the same service, whose
 * start and stop also start (after it) and stop (before it) the web server. The storefront's settings are
 * `roleOptions.retailer.storefront` (host, port, name, featured, publicUrl, enabled), checked with the role's options
 * (`parseStorefrontInit`).
 */
export function withStorefront<R extends RetailerService>(
  role: R,
  components: Pick<
    RoleComponents,
    'helia' | 'libp2p' | 'network' | 'clock' | 'credentials' | 'keys' | 'random' | 'trust'
  >,
  storefront: StorefrontInit,
): WithPages<R, 'storefront', Storefront> {
  return withPages(role, 'storefront', createStorefront(components, role.offers, storefront))
}
