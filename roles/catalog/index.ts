import type { RoleFactory } from '../role.ts'
import { type CatalogInit, CatalogRole } from './catalog.ts'

export { type CatalogInit, CatalogRole } from './catalog.ts'
export { type CatalogDocument, toDocument } from './documents.ts'
export { SearchIndex } from './search-index.ts'

export const catalog: RoleFactory = (components, init) => new CatalogRole(components, init as CatalogInit)
