import type { Role, RoleComponents } from '../../role.ts'
import { type WithPages, withPages } from '../../role.ts'
import { PlayerUi, type PlayerUiBackend } from './ui.ts'

/**
 * The web player and library (see README.md), served by the listener's own player daemon at its control API
 * origin under `/ui/`. They are composed onto the player role (`withWebPlayer`), not a subclass of it: the role keeps
 * its own shape, and gains `ui`, a `web` mount for the control API and one more control route
 * (`POST /v1/player/ui/login-link`, for `consort ui`).
 */
export { UiAuth, type UiSession } from './auth.ts'
export * from './constants.ts'
export * from './errors.ts'
export { PlayerUi, type PlayerUiBackend } from './ui.ts'

/** The player role with its web pages: `role.ui`, `role.web` (the `/ui` mount) and the login-link route. */
export function withWebPlayer<R extends Role & PlayerUiBackend>(
  role: R,
  components: Pick<RoleComponents, 'clock' | 'random'>,
): WithPages<R, 'ui', PlayerUi> {
  return withPages(role, 'ui', new PlayerUi(role, components.clock, components.random))
}
