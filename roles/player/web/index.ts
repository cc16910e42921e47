import type { ControlRoute, RoleComponents } from '../../role.ts'
import { type PlayerInit, PlayerRole } from '../player.ts'
import { PlayerUi } from './ui.ts'

/**
 * The web player and library (see README.md), served by the listener's own player daemon at its control API
 * origin under `/ui/`. `WebPlayerRole` is the player role with its pages: the same role, with a `web` mount for the
 * control API and one more control route (`POST /v1/player/ui/login-link`, for `consort ui`).
 */
export { UiAuth, type UiSession } from './auth.ts'
export * from './constants.ts'
export * from './errors.ts'
export { PlayerUi, type PlayerUiBackend, type WebMount } from './ui.ts'

export class WebPlayerRole extends PlayerRole {
  readonly ui: PlayerUi
  readonly web: PlayerUi['mount']

  constructor(components: RoleComponents, init: PlayerInit = {}) {
    super(components, init)
    this.ui = new PlayerUi(this, components.clock, components.random)
    this.web = this.ui.mount
    ;(this as { controlRoutes: readonly ControlRoute[] }).controlRoutes = [
      ...this.controlRoutes,
      ...this.ui.controlRoutes,
    ]
  }
}
