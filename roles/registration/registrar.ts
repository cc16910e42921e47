import type { PeerId } from '@libp2p/interface'
import { InvalidParametersError } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { Random } from '../../keys/random.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { TransferFields } from '../../protocols/licence/index.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import { KeyedQueue } from '../common/keyed-queue.ts'
import { CertificateDesk, keyFromHex } from './certs.ts'
import {
  CONTRACT_FETCH_TIMEOUT_MS,
  DEFAULT_CERT_VALIDITY_MS,
  DEFAULT_DEVICE_VALIDITY_MS,
  VERIFIED_RECORD_CACHE_ENTRIES,
} from './constants.ts'
import { emit, type RegistrarContext, type RegistrationOptions, VerifiedRecordCache } from './context.ts'
import { ContractWatch, type RegistrarTopics } from './contracts.ts'
import { DeviceRegistry } from './devices.ts'
import { RevocationTargetNotFoundError } from './errors.ts'
import { EscrowVault } from './escrow.ts'
import { LicenceIssuer } from './licences.ts'
import { RevocationDesk, type RevocationPublisher } from './revocations.ts'
import { CertificateRotation } from './rotation.ts'
import { SerialSource } from './serials.ts'
import type { BatchOp } from './store.ts'
import { type RegistrationRoleStore, RegistrationStore } from './store.ts'

const log = logger('consort:registration')

/** What the registration manager's business logic needs: no libp2p, so that benchmarks can run it alone. */
export interface RegistrarComponents {
  /** Its store (`REGISTRATION_LAYOUT`); `start()` checks its layout version (the role's template did already). */
  store: RegistrationRoleStore
  keys: Pick<NodeKeys, 'signer' | 'sealing'>
  clock: Clock
  random: Random
  network: NetworkContext
  trust: CertificateTrust
  records: RecordStore
}

/** What an operator may revoke here. */
export const REVOCATION_KINDS = ['cert', 'device', 'licence'] as const
export type RevocationKind = (typeof REVOCATION_KINDS)[number]

export interface RevocationResult {
  revocation: SignedRecord<'consort/revocation'>
  /** Peers the revocation was gossiped to directly. */
  recipients: number
}

export function resolveOptions(init: Partial<RegistrationOptions>): RegistrationOptions {
  return {
    certValidityMs: init.certValidityMs ?? DEFAULT_CERT_VALIDITY_MS,
    deviceValidityMs: init.deviceValidityMs ?? DEFAULT_DEVICE_VALIDITY_MS,
    contractFetchTimeoutMs: init.contractFetchTimeoutMs ?? CONTRACT_FETCH_TIMEOUT_MS,
  }
}

/**
 * The registration manager: certificates, devices, escrowed keys, licences and revocations, over one sublevel.
 * The role (`index.ts`) puts it on the network; this class holds the logic.
 */
export class Registrar extends EventTarget {
  readonly certs: CertificateDesk
  readonly devices: DeviceRegistry
  readonly escrow: EscrowVault
  readonly contracts: ContractWatch
  readonly revocations: RevocationDesk
  readonly licences: LicenceIssuer
  readonly rotations: CertificateRotation
  readonly #ctx: RegistrarContext
  readonly #serials: SerialSource

  constructor(
    components: RegistrarComponents,
    options: Partial<RegistrationOptions> = {},
    publish: RevocationPublisher = async () => 0,
  ) {
    super()
    this.#ctx = {
      store: new RegistrationStore(components.store),
      signer: components.keys.signer,
      sealing: components.keys.sealing,
      clock: components.clock,
      random: components.random,
      network: components.network,
      trust: components.trust,
      records: components.records,
      locks: new KeyedQueue(),
      events: this,
      options: resolveOptions(options),
      verified: new VerifiedRecordCache(VERIFIED_RECORD_CACHE_ENTRIES),
    }
    this.#serials = new SerialSource(components.clock)
    this.certs = new CertificateDesk(this.#ctx, this.#serials)
    this.devices = new DeviceRegistry(this.#ctx, this.#serials)
    this.escrow = new EscrowVault(this.#ctx)
    this.revocations = new RevocationDesk(this.#ctx, publish)
    this.contracts = new ContractWatch(this.#ctx, (contract) =>
      this.revocations.isRevokedBy(contract.id, [contract.signer, contract.body.distributor]),
    )
    this.rotations = new CertificateRotation(this.#ctx, this.certs, (id, reason) =>
      this.revoke('cert', id.toString(), reason),
    )
    this.licences = new LicenceIssuer(this.#ctx, {
      devices: this.devices,
      escrow: this.escrow,
      contracts: this.contracts,
      revocations: this.revocations,
    })
  }

  /** Open the store and, given a topic subscriber, follow the contracts and revocations topics. */
  async start(subscribe: RegistrarTopics = () => () => {}): Promise<void> {
    await this.#ctx.store.open()
    await this.#serials.load(this.#ctx.store)
    await this.certs.start()
    await this.revocations.start(subscribe)
    this.contracts.start(subscribe)
  }

  stop(): void {
    this.contracts.stop()
    this.revocations.stop()
  }

  /**
   * An operator revokes a certificate (by record id or subject key), a device (by record id or device key) or a
   * licence (by record id or purchase id): signed, kept, applied here and gossiped on `revocations`.
   */
  async revoke(
    kind: RevocationKind,
    target: string,
    reason: string,
    attachments: readonly SignedRecord[] = [],
  ): Promise<RevocationResult> {
    const id = parseCid(target)
    const ids: CID[] = id != null ? [id] : []
    const add = (more: CID[]) => {
      for (const m of more) if (!ids.some((i) => i.equals(m))) ids.push(m)
    }
    /** The lock the state change runs under, and the state change itself. */
    let lock = `revoke:${kind}`
    let stateOps: () => Promise<BatchOp[]> = async () => []
    if (kind === 'cert') {
      if (id == null) {
        const subject = keyOrThrow(target)
        add(await this.certs.unexpiredIds(subject))
        const known = this.#ctx.trust.certOf(subject)
        if (known != null) add([known.id])
      }
    } else if (kind === 'device') {
      const device = id != null ? await this.devices.deviceOfRecord(id) : toHex(keyOrThrow(target))
      if (device != null) {
        add(await this.devices.recordIds(device))
        const state = await this.devices.state(device)
        if (state != null) lock = `account:${toHex(state.account)}`
        stateOps = () => this.devices.revokeOps(device)
      }
    } else {
      const purchaseId = id != null ? await this.licences.purchaseOfLicence(id) : target
      if (purchaseId != null) {
        add((await this.licences.licencesOf(purchaseId)).map((l) => l.id))
        lock = `purchase:${purchaseId}`
        stateOps = () => this.licences.revokeOps(purchaseId)
      }
    }
    if (ids.length === 0) throw new RevocationTargetNotFoundError(`target: no ${kind} ${target} is known here`)
    const record = await this.#ctx.locks.run(lock, async () => {
      const { record, ops } = this.revocations.sign(
        ids.map((i) => ({ kind, id: i })),
        reason,
      )
      await this.#ctx.store.batch([...ops, ...(await stateOps())])
      this.#ctx.trust.revoke(ids)
      return record
    })
    const recipients = await this.revocations.announce(record, attachments)
    emit(this.#ctx, 'revocation:issued', { revocation: record })
    log('revoked %d %s record(s): %s', ids.length, kind, reason)
    return { revocation: record, recipients }
  }

  /**
   * `licence/1 withdraw`: the retailer of a purchase whose licence could not be delivered after the capture takes it
   * back. The registrar signs a revocation of the receipt and of every licence issued for it, keeps it with the
   * purchase, applies and gossips it; the clearinghouse refunds against it. A retry answers the same revocation.
   */
  async withdraw(
    purchaseId: string,
    reason: string,
    receipt: Uint8Array,
    requester: PeerId,
  ): Promise<{ revoked: boolean; revocation: Uint8Array }> {
    const result = await this.licences.withdraw(purchaseId, receipt, requester, (targets) =>
      this.revocations.sign(targets, `withdrawn by its retailer: ${reason}`),
    )
    if (result.signed !== null) {
      await this.revocations.announce(result.signed, [])
      emit(this.#ctx, 'revocation:issued', { revocation: result.signed })
      log('purchase %s withdrawn by its retailer: %s', purchaseId, reason)
    }
    return { revoked: result.issued, revocation: result.revocation }
  }

  /**
   * `licence/1 transfer` (docs/decisions/0606): move a purchase to another account; the revocation of the giver's
   * licences is applied and gossiped, the transfer record travels with it. A retry answers the same records.
   */
  async transfer(message: {
    request: TransferFields
    sig: Uint8Array
    consumption: Uint8Array[]
  }): Promise<{ transfer: Uint8Array; revocation: Uint8Array }> {
    const result = await this.licences.transfer(message, (targets) =>
      this.revocations.sign(targets, `transferred to another account (${message.request.transferId})`),
    )
    if (result.signed !== null) {
      const transfer = decodeRecordAs('consort/transfer', result.done.transfer, {
        network: this.#ctx.network.name,
        now: this.#ctx.clock.now(),
        caps: this.#ctx.network.caps,
      })
      // The transfer travels with the revocation: clearinghouses learn the purchase's new holder from it.
      await this.revocations.announce(result.signed, [transfer])
      emit(this.#ctx, 'revocation:issued', { revocation: result.signed })
      emit(this.#ctx, 'licence:transferred', { transfer })
    }
    return { transfer: result.done.transfer, revocation: result.done.revocation }
  }

  /** For tests: the role's sublevel, to prove what is (not) stored in it. */
  get store(): RegistrationStore {
    return this.#ctx.store
  }
}

function keyOrThrow(value: string): Uint8Array {
  const key = keyFromHex(value)
  if (key == null)
    throw new InvalidParametersError(`target: ${JSON.stringify(value)} is neither a CID nor a key in hex`)
  return key
}

function parseCid(value: string): CID | null {
  try {
    return CID.parse(value)
  } catch {
    return null
  }
}
