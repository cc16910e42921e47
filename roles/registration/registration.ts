import { logger } from '@libp2p/logger'
import { ESCROW_PROTOCOL } from '../../protocols/escrow/index.ts'
import { LICENCE_PROTOCOL } from '../../protocols/licence/index.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { REGISTER_PROTOCOL } from '../../protocols/register/index.ts'
import { registerRpc } from '../../protocols/rpc/server.ts'
import type { ControlRoute, Role, RoleComponents } from '../role.ts'
import { ROTATION_CHECK_INTERVAL_MS } from './constants.ts'
import type { RegistrationOptions } from './context.ts'
import type { RegistrarTopics } from './contracts.ts'
import { escrowHandlers, licenceHandlers, registerHandlers } from './handlers.ts'
import { Registrar } from './registrar.ts'
import { registrationRoutes } from './routes.ts'
import type { RegistrationRoleStore } from './store.ts'

const log = logger('consort:registration')

/**
 * The registration manager role (DESIGN.md): registers participants and devices, keeps escrowed content keys
 * sealed, issues licences against valid purchases, and revokes certificates, devices and licences.
 *
 * Serves `/consort/<net>/register/1`, `/escrow/1` and `/licence/1`; follows the `contracts` and `revocations`
 * topics; publishes on `revocations`. Events (on `registrar`): `cert:requested`, `cert:issued`,
 * `device:registered`, `escrow:stored`, `licence:issued`, `revocation:issued`.
 */

/** Settings from the node's configuration (`roleOptions.registration`); every one has a default. */
export type RegistrationInit = Partial<RegistrationOptions>

/** What the role takes from the node. */
export type RegistrationComponents = Pick<
  RoleComponents,
  'libp2p' | 'keys' | 'clock' | 'random' | 'network' | 'topics' | 'trust' | 'records' | 'credentials'
> & { store: RegistrationRoleStore }

export interface RegistrationEvents {
  'cert:requested': { requestId: string; subject: Uint8Array; roles: string[] }
  'cert:issued': { cert: SignedRecord<'consort/cert'> }
  'device:registered': { device: SignedRecord<'consort/device'> }
  'escrow:stored': { keyIds: Uint8Array[] }
  'licence:issued': { licence: SignedRecord<'consort/licence'>; purchaseId: string }
  'revocation:issued': { revocation: SignedRecord<'consort/revocation'> }
}

export class RegistrationRole implements Role {
  readonly name = 'registration' as const
  readonly registrar: Registrar
  readonly controlRoutes: readonly ControlRoute[]
  readonly #components: RegistrationComponents
  readonly #unhandle: Array<() => Promise<void>> = []
  #rotationTimer: ReturnType<typeof setInterval> | undefined
  /** The round of revocations running now, if any: stop() waits for it, so nothing reads the store after stop. */
  #revoking: Promise<void> | undefined

  constructor(components: RegistrationComponents, init: RegistrationInit = {}) {
    this.#components = components
    this.registrar = new Registrar(components, init, (record, attachments) =>
      components.topics.publish('revocations', record, attachments),
    )
    this.controlRoutes = registrationRoutes(this.registrar, () => components.credentials.attachments())
  }

  async start(): Promise<void> {
    const { libp2p, network, topics } = this.#components
    const subscribe: RegistrarTopics = (topic, onMessage) => topics.subscribe(topic, { onMessage })
    await this.registrar.start(subscribe)
    // Should one fail, the role template runs stop(), which removes those already registered.
    this.#unhandle.push(
      await registerRpc(libp2p, network.protocol(REGISTER_PROTOCOL), registerHandlers(this.registrar)),
    )
    this.#unhandle.push(await registerRpc(libp2p, network.protocol(ESCROW_PROTOCOL), escrowHandlers(this.registrar)))
    this.#unhandle.push(await registerRpc(libp2p, network.protocol(LICENCE_PROTOCOL), licenceHandlers(this.registrar)))
    // Old certificates of rotated keys are revoked when their grace period ends (also those due while stopped).
    const revokeDue = () => {
      if (this.#revoking !== undefined) return
      this.#revoking = this.registrar.rotations
        .revokeDue()
        .then(
          () => {},
          (err) => log.error('revoking rotated certificates failed: %e', err),
        )
        .finally(() => {
          this.#revoking = undefined
        })
    }
    revokeDue()
    this.#rotationTimer = setInterval(revokeDue, ROTATION_CHECK_INTERVAL_MS)
    this.#rotationTimer.unref()
    log('registration manager started')
  }

  async stop(): Promise<void> {
    if (this.#rotationTimer !== undefined) clearInterval(this.#rotationTimer)
    this.#rotationTimer = undefined
    for (const unhandle of this.#unhandle.splice(0).reverse()) await unhandle()
    // A round started by start() or the timer may still read the store (an iterator): stopped means it has ended.
    await this.#revoking
    this.registrar.stop()
  }
}
