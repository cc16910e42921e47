import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import { verifyDeviceRequest } from '../../protocols/register/client.ts'
import type { DeviceRequestFields } from '../../protocols/register/index.ts'
import { TRUST_CODES } from '../../protocols/trust/errors.ts'
import { MAX_ACCOUNT_DEVICES, MAX_REQUEST_AGE_MS } from './constants.ts'
import { bytesEqual, emit, policy, type RegistrarContext, readStored, requestAgeProblem } from './context.ts'
import {
  DeviceLimitError,
  DeviceNotRegisteredError,
  DeviceRevokedError,
  DeviceTakenError,
  RequestStaleError,
  RequestUnauthorisedError,
} from './errors.ts'
import type { SerialSource } from './serials.ts'
import { type AttestedTerritory, type BatchOp, type DeviceState, KEYS, put } from './store.ts'

const log = logger('consort:registration:devices')

/** Device records one device's history is searched through (renewals and re-keyings). */
const MAX_DEVICE_HISTORY = 64

/** Per account: its device keys (hex) in registration order, each with whether it was revoked. */
export interface AccountDevices {
  devices: Array<{ device: string; revoked: boolean }>
}

export interface DeviceSummary {
  device: string
  name: string
  status: 'active' | 'revoked'
  registered: number
  record: CID
  notAfter: number
  /** The territory its current registration attests (`Worldwide` when none was attested). */
  territory: string
}

/**
 * Consumer devices: each registered to one account, at most the network's `deviceLimit` active devices per
 * account. A revoked device frees its slot (a lost phone is replaced) but can never be registered again.
 */
export class DeviceRegistry {
  readonly #ctx: RegistrarContext
  readonly #serials: SerialSource

  constructor(ctx: RegistrarContext, serials: SerialSource) {
    this.#ctx = ctx
    this.#serials = serials
  }

  /** `register-device`: signed by the account and by the device; idempotent for a device already registered. */
  async register(message: {
    request: DeviceRequestFields
    accountSig: Uint8Array
    deviceSig: Uint8Array
  }): Promise<SignedRecord<'consort/device'>> {
    const request = message.request
    const problem = requestAgeProblem(this.#ctx, request, MAX_REQUEST_AGE_MS)
    if (problem != null) throw new RequestStaleError(problem)
    const verified = verifyDeviceRequest(message)
    if (!verified.account) throw new RequestUnauthorisedError('accountSig: not signed by the account key')
    if (!verified.device) throw new RequestUnauthorisedError('deviceSig: not signed by the device key')
    const account = toHex(request.account)
    const device = toHex(request.device)
    return this.#ctx.locks.run(`account:${account}`, async () => {
      const known = await this.#ctx.store.get(KEYS.device(device))
      const devices = (await this.#ctx.store.get(KEYS.account(account))) ?? { devices: [] }
      const territory = (await this.#ctx.store.get(KEYS.territory(account)))?.territory
      const ops: BatchOp[] = []
      if (known != null) {
        if (!bytesEqual(known.account, request.account))
          throw new DeviceTakenError(`device ${device} is registered to another account`)
        if (known.status === 'revoked') throw new DeviceRevokedError(`device ${device} was revoked`)
        const current = readStored(this.#ctx, 'consort/device', known.current)
        if (
          this.#currentlyValid(current) &&
          bytesEqual(current.body.sealingKey, request.sealingKey) &&
          current.body.name === request.name &&
          current.body.territory === territory
        )
          return current
        // Renewal, a new sealing key, or a territory the operator attested since: a new record for the same slot.
      } else {
        const active = devices.devices.filter((d) => !d.revoked).length
        const limit = policy(this.#ctx).deviceLimit
        if (active >= limit)
          throw new DeviceLimitError(`account ${account} has ${active} devices, the limit is ${limit}`)
        if (devices.devices.length >= MAX_ACCOUNT_DEVICES)
          throw new DeviceLimitError(`account ${account} has registered ${devices.devices.length} devices`)
        ops.push(put(KEYS.account(account), { devices: [...devices.devices, { device, revoked: false }] }))
      }
      const record = this.#issue(request, territory)
      const now = this.#ctx.clock.now()
      const state: DeviceState = {
        account: request.account,
        status: 'active',
        registered: known?.registered ?? now,
        current: record.bytes,
      }
      await this.#ctx.store.batch([
        ...ops,
        put(KEYS.device(device), state),
        put(KEYS.deviceRecord(device, record.body.serial), record),
        put(KEYS.deviceRecordId(record.id.toString()), device),
        this.#serials.op(),
      ])
      this.#ctx.trust.learnDevice(record)
      emit(this.#ctx, 'device:registered', { device: record })
      log('device %s registered to account %s', device, account)
      return record
    })
  }

  /**
   * The licence check of a device: its registration is valid and unrevoked, it belongs to its account here, and
   * it is within the account's limit. A device registered by another registrar of the network is adopted into
   * this registrar's account view if the account has room. Throws the licence protocol's device errors.
   */
  async checkForLicence(record: SignedRecord<'consort/device'>): Promise<void> {
    const verdict = this.#ctx.trust.learnDevice(record)
    if (!verdict.ok) {
      if (verdict.code === TRUST_CODES.revoked) throw new DeviceRevokedError(`device record ${record.id} is revoked`)
      throw new DeviceNotRegisteredError(`device record ${record.id}: ${verdict.reason}`)
    }
    const account = toHex(record.body.account)
    const device = toHex(record.body.device)
    await this.#ctx.locks.run(`account:${account}`, async () => {
      const known = await this.#ctx.store.get(KEYS.device(device))
      const devices = (await this.#ctx.store.get(KEYS.account(account))) ?? { devices: [] }
      const limit = policy(this.#ctx).deviceLimit
      if (known != null) {
        if (!bytesEqual(known.account, record.body.account))
          throw new DeviceNotRegisteredError(`device ${device} is registered to another account`)
        if (known.status === 'revoked') throw new DeviceRevokedError(`device ${device} is revoked`)
        const position = devices.devices.filter((d) => !d.revoked).findIndex((d) => d.device === device)
        if (position < 0) throw new DeviceNotRegisteredError(`device ${device} is not listed for its account`)
        if (position >= limit)
          throw new DeviceLimitError(`device ${device} is number ${position + 1} of its account, the limit is ${limit}`)
        return
      }
      if (bytesEqual(record.signer, this.#ctx.signer.publicKey))
        throw new DeviceNotRegisteredError(`device ${device} is not registered here`)
      const active = devices.devices.filter((d) => !d.revoked).length
      if (active >= limit) throw new DeviceLimitError(`account ${account} has ${active} devices, the limit is ${limit}`)
      if (devices.devices.length >= MAX_ACCOUNT_DEVICES)
        throw new DeviceLimitError(`account ${account} has registered ${devices.devices.length} devices`)
      const state: DeviceState = {
        account: record.body.account,
        status: 'active',
        registered: this.#ctx.clock.now(),
        current: record.bytes,
      }
      await this.#ctx.store.batch([
        put(KEYS.account(account), { devices: [...devices.devices, { device, revoked: false }] }),
        put(KEYS.device(device), state),
      ])
      log('device %s of another registrar adopted into account %s', device, account)
    })
  }

  /**
   * The operator attests an account's territory (its country, checked however the operator checks it: an identity
   * document, the funding card's country). Every device record issued to the account from now on carries it; each
   * device gets its new record when it registers again (a player does at every start). Never the buyer's word.
   */
  async attestTerritory(account: Uint8Array, territory: string): Promise<AttestedTerritory> {
    const key = toHex(account)
    return this.#ctx.locks.run(`account:${key}`, async () => {
      const attested: AttestedTerritory = { territory, at: this.#ctx.clock.now() }
      await this.#ctx.store.batch([put(KEYS.territory(key), attested)])
      log('account %s attested in %s', key, territory)
      return attested
    })
  }

  /** An account's attested territory, if its operator set one. */
  async territoryOf(account: Uint8Array): Promise<string | undefined> {
    return (await this.#ctx.store.get(KEYS.territory(toHex(account))))?.territory
  }

  /** The devices of an account, in registration order. */
  async list(account: Uint8Array): Promise<DeviceSummary[]> {
    const devices = (await this.#ctx.store.get(KEYS.account(toHex(account)))) ?? { devices: [] }
    const out: DeviceSummary[] = []
    for (const entry of devices.devices) {
      const state = await this.#ctx.store.get(KEYS.device(entry.device))
      if (state == null) continue
      const record = readStored(this.#ctx, 'consort/device', state.current)
      out.push({
        device: entry.device,
        name: record.body.name,
        status: state.status,
        registered: state.registered,
        record: record.id,
        notAfter: record.body.notAfter,
        territory: record.body.territory ?? 'Worldwide',
      })
    }
    return out
  }

  /** The device key (hex) of a record issued here, by the record's id. */
  async deviceOfRecord(id: CID): Promise<string | undefined> {
    return this.#ctx.store.get(KEYS.deviceRecordId(id.toString()))
  }

  async state(device: string): Promise<DeviceState | undefined> {
    return this.#ctx.store.get(KEYS.device(device))
  }

  /** Ids of every record issued here for `device`, newest first. */
  async recordIds(device: string): Promise<CID[]> {
    const out: CID[] = []
    for await (const [, record] of this.#ctx.store.entries(KEYS.deviceRecordPrefix(device), {
      limit: MAX_DEVICE_HISTORY,
      reverse: true,
    })) {
      out.push(record.id)
    }
    return out
  }

  /** The batch operations that mark a device revoked here (its slot in the account is freed). */
  async revokeOps(device: string): Promise<BatchOp[]> {
    const state = await this.#ctx.store.get(KEYS.device(device))
    if (state == null) return []
    const account = toHex(state.account)
    const devices = (await this.#ctx.store.get(KEYS.account(account))) ?? { devices: [] }
    return [
      put(KEYS.device(device), { ...state, status: 'revoked' } satisfies DeviceState),
      put(KEYS.account(account), {
        devices: devices.devices.map((d) => (d.device === device ? { device, revoked: true } : d)),
      } satisfies AccountDevices),
    ]
  }

  #issue(request: DeviceRequestFields, territory: string | undefined): SignedRecord<'consort/device'> {
    const now = this.#ctx.clock.now()
    return signRecord(
      'consort/device',
      {
        network: this.#ctx.network.name,
        created: now,
        serial: this.#serials.next(),
        account: request.account,
        device: request.device,
        sealingKey: request.sealingKey,
        name: request.name,
        notBefore: Math.max(0, now - this.#ctx.network.caps.clockSkewMs),
        notAfter: now + this.#ctx.options.deviceValidityMs,
        ...(territory !== undefined ? { territory } : {}),
      },
      this.#ctx.signer,
      this.#ctx.network.caps,
    )
  }

  #currentlyValid(record: SignedRecord<'consort/device'>): boolean {
    const now = this.#ctx.clock.now()
    return !this.#ctx.trust.isRevoked(record.id) && now >= record.body.notBefore && now < record.body.notAfter
  }
}
