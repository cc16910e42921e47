import type { RoleComponents } from '../../role.ts'
import { type RetailerComponents, RetailerService } from '../retailer.ts'
import { createStorefront } from './index.ts'
import type { Storefront, StorefrontInit } from './storefront.ts'

/**
 * The retailer role with its storefront: the same service, whose start and stop also start and stop the web server.
 * The storefront's settings are `roleOptions.retailer.storefront` (host, port, name, featured, publicUrl, enabled),
 * checked with the role's options (`parseStorefrontInit`).
 */
export class StorefrontRetailer extends RetailerService {
  readonly storefront: Storefront

  constructor(
    components: RetailerComponents & Pick<RoleComponents, 'helia'>,
    init: ConstructorParameters<typeof RetailerService>[1],
    storefront: StorefrontInit,
  ) {
    super(components, init)
    this.storefront = createStorefront(components, this.offers, storefront)
  }

  override async start(): Promise<void> {
    await super.start()
    await this.storefront.start()
  }

  override async stop(): Promise<void> {
    await this.storefront.stop()
    await super.stop()
  }
}
