import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import type { UsedUses } from '../../protocols/records/types/consumption.ts'
import type { RevocableKind } from '../../protocols/records/types/revocation.ts'
import type { CertRequestFields } from '../../protocols/register/index.ts'
import type { RoleDb } from '../role.ts'
import { STORE_VERSION } from './constants.ts'
import { StoreVersionError } from './errors.ts'

/**
 * The registration manager's sublevel: one typed value per key, DAG-CBOR encoded, keys built by the functions
 * below (components joined by `!`, a character no id, ISRC, content id or hex string contains). Every change is
 * one atomic batch. Prefixes are never reused for another meaning.
 */
export const KEYS = {
  version: 'meta!version',
  serial: 'meta!serial',
  request: (id: string) => `req!${id}`,
  pending: (id: string) => `pending!${id}`,
  pendingPrefix: 'pending!',
  cert: (subject: string, serial: number) => `cert!${subject}!${serialKey(serial)}`,
  certPrefix: (subject: string) => `cert!${subject}!`,
  device: (device: string) => `dev!${device}`,
  deviceRecord: (device: string, serial: number) => `devrec!${device}!${serialKey(serial)}`,
  deviceRecordPrefix: (device: string) => `devrec!${device}!`,
  deviceRecordId: (id: string) => `devid!${id}`,
  account: (account: string) => `acct!${account}`,
  /** The territory the operator attests for an account (`consort registration territory`). */
  territory: (account: string) => `terr!${account}`,
  escrow: (keyId: string) => `escrow!${keyId}`,
  escrowPrefix: 'escrow!',
  isrc: (isrc: string, signer: string) => `isrc!${isrc}!${signer}`,
  manifestKey: (manifest: string) => `mkey!${manifest}`,
  release: (contentId: string, signer: string) => `release!${contentId}!${signer}`,
  contract: (signer: string, contractId: string) => `contract!${signer}!${contractId}`,
  revoked: (id: string) => `revoked!${id}`,
  purchase: (purchaseId: string) => `purchase!${purchaseId}`,
  withdrawn: (purchaseId: string) => `withdrawn!${purchaseId}`,
  /** A transfer done (its answer, for a retry; docs/decisions/0606). */
  transfer: (transferId: string) => `xfer!${transferId}`,
  licence: (purchaseId: string, device: string) => `licence!${purchaseId}!${device}`,
  licenceId: (id: string) => `licid!${id}`,
  ownRevocation: (id: string) => `myrev!${id}`,
  ownRevocationPrefix: 'myrev!',
  rotation: (oldCert: string) => `rot!${oldCert}`,
  rotationDue: (at: number, oldCert: string) => `rotdue!${serialKey(at)}!${oldCert}`,
  rotationDuePrefix: 'rotdue!',
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

export interface AccountState {
  /** Device keys (hex) in order of registration, revoked ones included. */
  devices: string[]
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

export type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }

export class RegistrationStore {
  readonly #db: RoleDb

  constructor(db: RoleDb) {
    this.#db = db
  }

  /** Check (or write, on a fresh sublevel) the layout version. */
  async open(): Promise<void> {
    const version = await this.get<number>(KEYS.version)
    if (version == null) await this.#db.put(KEYS.version, encode(STORE_VERSION))
    else if (version !== STORE_VERSION)
      throw new StoreVersionError(`registration store has layout version ${version}, this build reads ${STORE_VERSION}`)
  }

  async get<T>(key: string): Promise<T | undefined> {
    const bytes = await this.#db.get(key)
    return bytes == null ? undefined : (dagCbor.decode(bytes) as T)
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    const bytes = await this.#db.get(key)
    return bytes ?? undefined
  }

  async has(key: string): Promise<boolean> {
    return (await this.#db.get(key)) != null
  }

  async batch(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return
    await this.#db.batch(ops)
  }

  /** Keys and values under a prefix, in key order (or reversed), at most `limit`. */
  async *entries(prefix: string, options: { limit: number; reverse?: boolean }): AsyncGenerator<[string, Uint8Array]> {
    for await (const [key, value] of this.#db.iterator({
      gte: prefix,
      lt: `${prefix}\xff`,
      limit: options.limit,
      reverse: options.reverse ?? false,
    })) {
      yield [key, value]
    }
  }

  async *allValues(): AsyncGenerator<Uint8Array> {
    for await (const value of this.#db.values()) yield value
  }
}

export function encode(value: unknown): Uint8Array {
  return dagCbor.encode(value)
}

export function put(key: string, value: unknown): BatchOp {
  return { type: 'put', key, value: encode(value) }
}

export function putBytes(key: string, value: Uint8Array): BatchOp {
  return { type: 'put', key, value }
}

export function del(key: string): BatchOp {
  return { type: 'del', key }
}
