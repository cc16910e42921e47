import type { CID } from 'multiformats/cid'
import { z } from 'zod'
import { type UsedUses, usedUses } from '../../protocols/records/types/consumption.ts'
import { REVOCABLE_KINDS, type RevocableKind } from '../../protocols/records/types/revocation.ts'
import { type CertRequestFields, certRequestFields } from '../../protocols/register/index.ts'
import {
  codecs,
  defineLayout,
  type EntriesOptions,
  type Repository,
  type RoleStore,
  repository,
  type StoreValueError,
  stored,
} from '../store.ts'
import { STORE_VERSION } from './constants.ts'

/**
 * The registration manager's store (`REGISTRATION_LAYOUT`): one typed value per key, keys built by the functions
 * below (components joined by `!`, a character no id, ISRC, content id or hex string contains), each naming its
 * repository so that `get` and `put` know the value's type and check it. Every change is one atomic batch. Prefixes
 * are never reused for another meaning.
 */
export const KEYS = {
  serial: at('serial', ''),
  request: (id: string) => at('requests', id),
  pending: (id: string) => at('pending', id),
  pendingPrefix: at('pending', ''),
  cert: (subject: string, serial: number) => at('certs', `${subject}!${serialKey(serial)}`),
  certPrefix: (subject: string) => at('certs', `${subject}!`),
  device: (device: string) => at('devices', device),
  deviceRecord: (device: string, serial: number) => at('deviceRecords', `${device}!${serialKey(serial)}`),
  deviceRecordPrefix: (device: string) => at('deviceRecords', `${device}!`),
  deviceRecordId: (id: string) => at('deviceRecordIds', id),
  account: (account: string) => at('accounts', account),
  /** The territory the operator attests for an account (`consort registration territory`). */
  territory: (account: string) => at('territories', account),
  escrow: (keyId: string) => at('escrows', keyId),
  escrowPrefix: at('escrows', ''),
  isrc: (isrc: string, signer: string) => at('isrcIndex', `${isrc}!${signer}`),
  manifestKey: (manifest: string) => at('manifestKeys', manifest),
  release: (contentId: string, signer: string) => at('releases', `${contentId}!${signer}`),
  contract: (signer: string, contractId: string) => at('contracts', `${signer}!${contractId}`),
  revoked: (id: string) => at('revoked', id),
  purchase: (purchaseId: string) => at('purchases', purchaseId),
  withdrawn: (purchaseId: string) => at('withdrawn', purchaseId),
  /** A transfer done (its answer, for a retry; docs/decisions/0606). */
  transfer: (transferId: string) => at('transfers', transferId),
  licence: (purchaseId: string, device: string) => at('licences', `${purchaseId}!${device}`),
  licenceId: (id: string) => at('licenceIds', id),
  ownRevocation: (id: string) => at('ownRevocations', id),
  ownRevocationPrefix: at('ownRevocations', ''),
  rotation: (oldCert: string) => at('rotations', oldCert),
  rotationDue: (at_: number, oldCert: string) => at('rotationsDue', `${serialKey(at_)}!${oldCert}`),
  rotationDuePrefix: at('rotationsDue', ''),
} as const

/** Serials sort as fixed-width decimal strings, so the last key under a prefix is the highest serial. */
function serialKey(serial: number): string {
  return serial.toString().padStart(16, '0')
}

/** A certificate rotated to a new key: the new certificate, and when the old one is (or was) revoked. */
export interface RotationState {
  newSubject: Uint8Array
  cert: Uint8Array
  revokeOldAt: number
  revoked: boolean
}

export type RequestStatus = 'pending' | 'approved' | 'rejected'

export interface CertRequestState {
  requestId: string
  request: CertRequestFields
  sig: Uint8Array
  status: RequestStatus
  received: number
  decided: number | null
  /** The certificate record issued on approval. */
  cert: Uint8Array | null
  reason: string | null
}

export interface DeviceState {
  account: Uint8Array
  status: 'active' | 'revoked'
  registered: number
  /** The device record currently in force. */
  current: Uint8Array
}

/** An account's territory as this registrar's operator attested it. */
export interface AttestedTerritory {
  territory: string
  at: number
}

export interface AccountDevices {
  /** Devices (hex keys) in order of registration, revoked ones included. */
  devices: Array<{ device: string; revoked: boolean }>
}

/** An escrowed content key, still sealed to this registrar, with what is needed to find it. */
export interface EscrowEntry {
  keyId: Uint8Array
  isrc: string
  manifest: CID
  signer: Uint8Array
  sealedKey: Uint8Array
  /** The manifest's `seq` when the deposit carried the manifest, else -1. */
  seq: number
  created: number
  /** The escrow record as deposited. */
  record: Uint8Array
}

export interface IsrcIndexEntry {
  keyId: string
  seq: number
  created: number
}

export interface ReleaseEntry {
  seq: number
  created: number
  /** The release's tracks in order, as the verified record lists them. */
  tracks: Array<{ isrc: string; manifest: CID }>
  record: Uint8Array
}

export interface ContractIndexEntry {
  seq: number
  cid: CID
}

export interface RevokedEntry {
  kind: RevocableKind
  /** Hex keys of who revoked it; the reader decides whose word counts. */
  by: string[]
}

export interface PurchaseState {
  purchaseId: string
  receipt: CID
  account: Uint8Array
  /** Device keys (hex) holding a licence of this purchase, the first one included. */
  devices: string[]
  /** Who may have escrowed the keys of this purchase's content (the contract's signer and distributor). */
  escrowSigners: Uint8Array[]
  /** The device allowance of the licence's rules (null: unlimited). */
  deviceAllowance: number | null
  revoked: boolean
  issued: number
  /** The key that signed the receipt: the only peer that may withdraw the purchase. */
  retailer: Uint8Array
  /**
   * The clearinghouse's `consort/payment` the first licence was issued against (money before keys); every reissue
   * checks it again. Absent on purchases licensed before payments were proven: those are not reissued.
   */
  payment?: Uint8Array
  /**
   * The most uses any reissue so far wrote into a licence of this purchase (from the clearinghouse's consumption
   * statements): a later reissue never writes fewer.
   */
  used?: UsedUses
  /**
   * After a transfer (docs/decisions/0606): how many times the purchase moved, and the device (hex) whose licence is
   * the template of the holder's licences (the giver's first; `devices` then lists the receiver's devices only).
   */
  transfers?: number
  template?: string
}

/** A transfer as kept: the registrar's transfer record and revocation, answered again on a retry. */
export interface TransferDone {
  purchaseId: string
  from: Uint8Array
  transfer: Uint8Array
  revocation: Uint8Array
}

/**
 * A purchase its retailer withdrew (its licence could not be delivered after the capture): the signed revocation of
 * its receipt (and of any licence issued for it), answered again on a retry. No licence of it will be issued here.
 */
export interface WithdrawnPurchase {
  retailer: Uint8Array
  at: number
  /** The withdrawn receipt; absent on markers written before withdrawals named their receipt. */
  receipt?: CID
  /** The `consort/revocation` this registrar signed for it. */
  revocation?: Uint8Array
}

export interface LicenceRef {
  purchaseId: string
  device: string
}

const bytes = stored.bytes
const hexKey = z.string().regex(/^[0-9a-f]+$/)

const certRequestState: z.ZodType<CertRequestState> = z.strictObject({
  requestId: z.string().min(1),
  request: certRequestFields,
  sig: bytes,
  status: z.enum(['pending', 'approved', 'rejected']),
  received: stored.count,
  decided: stored.count.nullable(),
  cert: bytes.nullable(),
  reason: z.string().nullable(),
})

const deviceState: z.ZodType<DeviceState> = z.strictObject({
  account: bytes,
  status: z.enum(['active', 'revoked']),
  registered: stored.count,
  current: bytes,
})

const accountDevices: z.ZodType<AccountDevices> = z.strictObject({
  devices: z.array(z.strictObject({ device: hexKey, revoked: z.boolean() })),
})

const attestedTerritory: z.ZodType<AttestedTerritory> = z.strictObject({ territory: z.string(), at: stored.count })

const escrowEntry: z.ZodType<EscrowEntry> = z.strictObject({
  keyId: bytes,
  isrc: z.string(),
  manifest: stored.cid,
  signer: bytes,
  sealedKey: bytes,
  seq: z.number().int().min(-1),
  created: stored.count,
  record: bytes,
})

const isrcIndexEntry: z.ZodType<IsrcIndexEntry> = z.strictObject({
  keyId: z.string(),
  seq: z.number().int().min(-1),
  created: stored.count,
})

const releaseEntry: z.ZodType<ReleaseEntry> = z.strictObject({
  seq: stored.count,
  created: stored.count,
  tracks: z.array(z.strictObject({ isrc: z.string(), manifest: stored.cid })),
  record: bytes,
})

const contractIndexEntry: z.ZodType<ContractIndexEntry> = z.strictObject({ seq: stored.count, cid: stored.cid })

const revokedEntry: z.ZodType<RevokedEntry> = z.strictObject({
  kind: z.enum(REVOCABLE_KINDS),
  by: z.array(hexKey),
})

const purchaseState: z.ZodType<PurchaseState> = z.strictObject({
  purchaseId: z.string().min(1),
  receipt: stored.cid,
  account: bytes,
  devices: z.array(hexKey),
  escrowSigners: z.array(bytes),
  deviceAllowance: stored.count.nullable(),
  revoked: z.boolean(),
  issued: stored.count,
  retailer: bytes,
  payment: bytes.optional(),
  used: usedUses.optional(),
  transfers: stored.count.optional(),
  template: hexKey.optional(),
})

const withdrawnPurchase: z.ZodType<WithdrawnPurchase> = z.strictObject({
  retailer: bytes,
  at: stored.count,
  receipt: stored.cid.optional(),
  revocation: bytes.optional(),
})

/** A licence as issued here, with the sealing key of the device it was sealed to. */
export interface StoredLicence {
  record: Uint8Array
  sealedTo: Uint8Array
}

const transferDone: z.ZodType<TransferDone> = z.strictObject({
  purchaseId: z.string().min(1),
  from: bytes,
  transfer: bytes,
  revocation: bytes,
})

const storedLicence: z.ZodType<StoredLicence> = z.strictObject({ record: bytes, sealedTo: bytes })

const licenceRef: z.ZodType<LicenceRef> = z.strictObject({ purchaseId: z.string().min(1), device: hexKey })

const rotationState: z.ZodType<RotationState> = z.strictObject({
  newSubject: bytes,
  cert: bytes,
  revokeOldAt: stored.count,
  revoked: z.boolean(),
})

/** The layout `KEYS` builds keys of: the one this role has had since its layout version 1. */
export const REGISTRATION_LAYOUT = defineLayout({
  role: 'registration',
  version: STORE_VERSION,
  versionKey: 'meta!version',
  repositories: {
    serial: repository('meta!serial', codecs.cbor(stored.count)),
    requests: repository('req!', codecs.cbor(certRequestState)),
    pending: repository('pending!', codecs.marker),
    certs: repository('cert!', codecs.record('consort/cert')),
    devices: repository('dev!', codecs.cbor(deviceState)),
    deviceRecords: repository('devrec!', codecs.record('consort/device')),
    /** The device key (hex) a device record id belongs to. */
    deviceRecordIds: repository('devid!', codecs.cbor(hexKey)),
    accounts: repository('acct!', codecs.cbor(accountDevices)),
    territories: repository('terr!', codecs.cbor(attestedTerritory)),
    escrows: repository('escrow!', codecs.cbor(escrowEntry)),
    isrcIndex: repository('isrc!', codecs.cbor(isrcIndexEntry)),
    /** The escrowed key id (hex) of a manifest. */
    manifestKeys: repository('mkey!', codecs.cbor(z.string())),
    releases: repository('release!', codecs.cbor(releaseEntry)),
    contracts: repository('contract!', codecs.cbor(contractIndexEntry)),
    revoked: repository('revoked!', codecs.cbor(revokedEntry)),
    purchases: repository('purchase!', codecs.cbor(purchaseState)),
    withdrawn: repository('withdrawn!', codecs.cbor(withdrawnPurchase)),
    transfers: repository('xfer!', codecs.cbor(transferDone)),
    licences: repository('licence!', codecs.cbor(storedLicence)),
    licenceIds: repository('licid!', codecs.cbor(licenceRef)),
    ownRevocations: repository('myrev!', codecs.record('consort/revocation')),
    rotations: repository('rot!', codecs.cbor(rotationState)),
    /** The old certificate's id, by when its grace period ends. */
    rotationsDue: repository('rotdue!', codecs.cbor(z.string())),
  },
})

export type RegistrationRoleStore = RoleStore<(typeof REGISTRATION_LAYOUT)['repositories']>
type Repos = RegistrationRoleStore['repositories']
type RepositoryName = keyof Repos
/** The value type of a repository. */
export type ValueOf<N extends RepositoryName> = NonNullable<Awaited<ReturnType<Repos[N]['get']>>>

/** A key of one repository (or, with a partial key, a prefix within it): what `KEYS` builds. */
export interface StoreKey<N extends RepositoryName = RepositoryName> {
  readonly repository: N
  readonly key: string
}

function at<N extends RepositoryName>(repository: N, key: string): StoreKey<N> {
  return { repository, key }
}

export type BatchOp =
  | { [N in RepositoryName]: { type: 'put'; key: StoreKey<N>; value: ValueOf<N> } }[RepositoryName]
  | { type: 'del'; key: StoreKey }

export class RegistrationStore {
  readonly #store: RegistrationRoleStore

  constructor(store: RegistrationRoleStore) {
    this.#store = store
  }

  /** Check (or write, on a fresh store) the layout version; the role's template did already, a bare registrar not. */
  async open(): Promise<void> {
    await this.#store.open()
  }

  async get<N extends RepositoryName>(key: StoreKey<N>): Promise<ValueOf<N> | undefined> {
    return (await this.#repository(key).get(key.key)) as ValueOf<N> | undefined
  }

  async has(key: StoreKey): Promise<boolean> {
    return this.#repository(key).has(key.key)
  }

  async batch(ops: readonly BatchOp[]): Promise<void> {
    const batch = this.#store.batch()
    for (const op of ops) {
      const repository = this.#repository(op.key)
      if (op.type === 'put') batch.put(repository as Repository<unknown>, op.key.key, op.value)
      else batch.del(repository, op.key.key)
    }
    await batch.write()
  }

  /** Keys (after `prefix`) and values under a prefix, in key order (or reversed), at most `limit`. */
  async *entries<N extends RepositoryName>(
    prefix: StoreKey<N>,
    options: { limit: number; reverse?: boolean; onBadValue?: (err: StoreValueError) => void },
  ): AsyncGenerator<[string, ValueOf<N>]> {
    const range: EntriesOptions = {
      gte: prefix.key,
      lt: `${prefix.key}\xff`,
      limit: options.limit,
      reverse: options.reverse ?? false,
      ...(options.onBadValue != null ? { onBadValue: options.onBadValue } : {}),
    }
    for await (const [key, value] of this.#repository(prefix).entries(range)) {
      yield [key.slice(prefix.key.length), value as ValueOf<N>]
    }
  }

  /** Every value's bytes as they are on disk (tests prove what is, and is not, stored). */
  rawValues(): AsyncIterable<Uint8Array> {
    return this.#store.rawValues()
  }

  #repository(key: StoreKey): Repos[RepositoryName] {
    return this.#store.repositories[key.repository]
  }
}

export function put<N extends RepositoryName>(key: StoreKey<N>, value: ValueOf<N>): BatchOp {
  return { type: 'put', key, value } as BatchOp
}

/** The key as it is on disk (prefix and key): one name per key, for locks and logs. */
export function keyName(key: StoreKey): string {
  return REGISTRATION_LAYOUT.repositories[key.repository].prefix + key.key
}

export function del(key: StoreKey): BatchOp {
  return { type: 'del', key }
}
