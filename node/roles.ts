import type { RoleName } from '../protocols/records/types/common.ts'
import { catalog } from '../roles/catalog/index.ts'
import { clearinghouse } from '../roles/clearinghouse/index.ts'
import { delivery } from '../roles/delivery/index.ts'
import { player } from '../roles/player/index.ts'
import { production } from '../roles/production/index.ts'
import { reference } from '../roles/reference/index.ts'
import { registration } from '../roles/registration/index.ts'
import { retailer } from '../roles/retailer/index.ts'
import type { RoleFactory } from '../roles/role.ts'

/**
 * The roles this build of Consort can run. Each later role adds one line here; `node/` assembles the roles
 * a configuration asks for and refuses names it does not know.
 */
export const ROLE_FACTORIES: Partial<Record<RoleName, RoleFactory>> = {
  catalog,
  clearinghouse,
  delivery,
  player,
  production,
  registration,
  reference,
  retailer,
}

export function availableRoles(): RoleName[] {
  return Object.keys(ROLE_FACTORIES) as RoleName[]
}
