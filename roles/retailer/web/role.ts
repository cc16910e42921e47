import type { RoleComponents } from '../../role.ts'
import { RetailerService } from '../service.ts'
import { createStorefront } from './index.ts'
import { parseStorefrontInit, type Storefront } from './storefront.ts'

/**
 * The retailer role with its storefront: the same service, whose start and stop also start and stop the web server.
 * The storefront's settings are `roleOptions.retailer.storefront` (host, port, name, featured, publicUrl, enabled).
 */
export class StorefrontRetailer extends RetailerService {
  readonly storefront: Storefront

  constructor(components: RoleComponents, init: ConstructorParameters<typeof RetailerService>[1], storefront: unknown) {
    super(components, init)
    this.storefront = createStorefront(components, this.offers, parseStorefrontInit(storefront))
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
