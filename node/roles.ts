import type { RoleName } from '../protocols/records/types/common.ts'
import { catalog } from '../roles/catalog/index.ts'
import { clearinghouse } from '../roles/clearinghouse/index.ts'
import { delivery } from '../roles/delivery/index.ts'
import { player } from '../roles/player/index.ts'
import { production } from '../roles/production/index.ts'
import { reference } from '../roles/reference/index.ts'
import { registration } from '../roles/registration/index.ts'
import { retailer } from '../roles/retailer/index.ts'
import type { RoleDefinition } from '../roles/role.ts'

/**
 * The roles this build of Consort can run: each one `defineRole(…)` in its `roles/<role>/index.ts`, listed here
 * under its name. `node/` assembles the roles a configuration asks for and refuses names it does not know.
 */
export const ROLE_DEFINITIONS = {
  catalog,
  clearinghouse,
  delivery,
  player,
  production,
  registration,
  reference,
  retailer,
} as const satisfies { [N in RoleName]: RoleDefinition<N> }

/** Each role's class by its name: what `node.role(name)` answers, so that no caller casts. */
export type RoleMap = { [N in RoleName]: ReturnType<(typeof ROLE_DEFINITIONS)[N]['create']> }

export function availableRoles(): RoleName[] {
  return Object.keys(ROLE_DEFINITIONS) as RoleName[]
}

/** The definition of a role by a name from outside (a configuration, a command line); undefined when unknown. */
export function roleDefinition(name: string): RoleDefinition | undefined {
  return Object.hasOwn(ROLE_DEFINITIONS, name) ? ROLE_DEFINITIONS[name as RoleName] : undefined
}
