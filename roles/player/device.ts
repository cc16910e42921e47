import { logger } from '@libp2p/logger'
import { toHex } from '../../keys/hex.ts'
import { isError } from '../../protocols/errors.ts'
import { registrarPeers } from '../../protocols/peers.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { registerDevice } from '../../protocols/register/client.ts'
import { isRefusal } from '../../protocols/rpc/errors.ts'
import { sameBytes } from './bytes.ts'
import { DEVICE_REGISTRATION_ATTEMPTS, DEVICE_REGISTRATION_RETRY_MS, DEVICE_REGISTRATION_WAIT_MS } from './constants.ts'
import type { PlayerCore } from './core.ts'
import { ENTRY_KINDS } from './entries.ts'
import { DeviceNotRegisteredError } from './errors.ts'
import { reachable } from './reachable.ts'

/**
 * This device's registration under the account: the node itself (its node key and X25519 sealing key) registered
 * with a registration manager, which attests the account's territory in it. Everything that acts for the account
 * (buying, fetching a licence, reporting usage, a resync) asks here first; a registration is asked for at most once
 * at a time, and each one this device gets is written into the log.
 */

const log = logger('consort:player:device')

export class DeviceRegistration {
  readonly #core: PlayerCore
  #pending: Promise<SignedRecord<'consort/device'>> | null = null

  constructor(core: PlayerCore) {
    this.#core = core
  }

  /**
   * The current registration: for this device's keys and this account, unexpired and unrevoked; null when there is
   * none (not registered yet, expired, or registered under another account before an import).
   */
  current(): SignedRecord<'consort/device'> | null {
    const c = this.#core.components
    const device = c.credentials.device()
    const account = this.#core.accountOrNull
    if (device === undefined || account === null) return null
    const b = device.body
    const now = this.#core.now()
    if (!sameBytes(b.device, c.keys.signer.publicKey) || !sameBytes(b.account, account.signer.publicKey)) return null
    if (!sameBytes(b.sealingKey, c.keys.sealing.publicKey) || now >= b.notAfter) return null
    if (c.trust.isRevoked(device.id)) return null
    return device
  }

  /**
   * The listener's territory: the account's, as its registration manager attests it in this device's registration
   * (`consort registration territory`), never the listener's word; `Worldwide` (what is sold everywhere) when none
   * was attested. Offers are listed, and always bought, for it.
   */
  get territory(): string {
    return this.current()?.body.territory ?? 'Worldwide'
  }

  /** This device's registration: the current one, or a new one from a registration manager (retried). */
  async ensure(): Promise<SignedRecord<'consort/device'>> {
    const current = this.current()
    if (current !== null) {
      await this.#note(current)
      return current
    }
    return await this.refresh()
  }

  /** Register this device again (the registrar answers its current record, or a new one if anything changed). */
  async refresh(): Promise<SignedRecord<'consort/device'>> {
    this.#pending ??= this.#register().finally(() => {
      this.#pending = null
    })
    return await this.#pending
  }

  /**
   * Load the account key again (after `consort account import`): a device registered to another account is
   * registered anew under this one.
   */
  async reloadAccount(): Promise<{ account: string; device: string }> {
    const account = await this.#core.reloadAccount()
    const device = await this.ensure()
    return { account: toHex(account.signer.publicKey), device: device.id.toString() }
  }

  async #register(): Promise<SignedRecord<'consort/device'>> {
    const core = this.#core
    const c = core.components
    let last: unknown
    for (let attempt = 1; attempt <= DEVICE_REGISTRATION_ATTEMPTS && core.running; attempt++) {
      // A registrar is dialled by its peer id: without any connection yet there is nobody to route through, and a
      // dial that waits on peer routing would hold up the node's own dials to the same peer.
      await this.#connected()
      try {
        await Promise.any(registrarPeers(c.network).map((peer) => reachable(c.libp2p, peer)))
        const device = await registerDevice(c.libp2p, c.network, {
          account: core.account.signer,
          device: c.keys.signer,
          sealingKey: c.keys.sealing.publicKey,
          name: core.init.deviceName ?? 'player',
          now: core.now(),
        })
        await c.credentials.setDevice(device)
        await this.#note(device)
        core.events.dispatchEvent(new CustomEvent('device:registered', { detail: { device: device.id.toString() } }))
        log('device registered: %s', device.id)
        return device
      } catch (err) {
        // A refusal (`DeviceLimitError`, `DeviceTakenError`, `DeviceRevokedError`… by `/register/1`'s table) is
        // final and kept as the cause; anything else is tried again.
        if (isRefusal(err)) {
          throw new DeviceNotRegisteredError(`the registration manager refused this device: ${err.message}`, {
            cause: err,
          })
        }
        last = isError(err, AggregateError) ? (err.errors[0] ?? err) : err
        log('device registration attempt %d failed: %s', attempt, (err as Error).message)
        await new Promise((resolve) => setTimeout(resolve, DEVICE_REGISTRATION_RETRY_MS))
      }
    }
    throw new DeviceNotRegisteredError(
      `no registration manager registered this device: ${(last as Error | undefined)?.message ?? 'the player stopped'}`,
    )
  }

  /** Resolves once the node has a connection (at once if it has one), or after `DEVICE_REGISTRATION_WAIT_MS`. */
  async #connected(): Promise<void> {
    const libp2p = this.#core.components.libp2p
    if (libp2p.getConnections().length > 0) return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        libp2p.removeEventListener('peer:connect', done)
        resolve()
      }
      const timer = setTimeout(done, DEVICE_REGISTRATION_WAIT_MS)
      libp2p.addEventListener('peer:connect', done)
    })
  }

  /** Keep a registration in the log (once per record), so a resync knows which device record the store had. */
  async #note(device: SignedRecord<'consort/device'>): Promise<void> {
    const core = this.#core
    if (core.tampered !== null || core.library.deviceRecord?.id.equals(device.id) === true) return
    await core.commit([{ kind: ENTRY_KINDS.device, data: { record: device.bytes } }])
  }
}
