import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import type { PeerId } from '@libp2p/interface'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { toHex } from '../../keys/hex.ts'
import { ESCROW_ERRORS } from '../escrow/errors.ts'
import { depositResponse, ESCROW_OPS, ESCROW_PROTOCOL } from '../escrow/index.ts'
import {
  issueResponse,
  LICENCE_OPS,
  LICENCE_PROTOCOL,
  REISSUE_DOMAIN,
  reissueResponse,
  TRANSFER_DOMAIN,
  type TransferFields,
  transferResponse,
} from '../licence/index.ts'
import { parseMessage } from '../messages.ts'
import type { NetworkContext } from '../network.ts'
import { peerIdOfKey, registrarPeers } from '../peers.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord, signingPayload } from '../records/envelope.ts'
import type { RoleName } from '../records/types/common.ts'
import { type RpcCallOptions, type RpcDialer, rpcCall } from '../rpc/client.ts'
import { isRefusal, type WireErrors } from '../rpc/errors.ts'
import { REGISTER_ERRORS } from './errors.ts'
import {
  CERT_REQUEST_DOMAIN,
  CERT_ROTATION_DOMAIN,
  type CertRequestFields,
  type CertStatusResponse,
  certStatusResponse,
  DEVICE_REQUEST_DOMAIN,
  type DeviceRequestFields,
  lookupCertResponse,
  REGISTER_OPS,
  REGISTER_PROTOCOL,
  registerDeviceResponse,
  rotateCertResponse,
} from './index.ts'

/**
 * The client side of the registration manager's protocols, for any node: ask for a role certificate, poll it,
 * register a device, look up a certificate, ask for a licence (retailers) or its reissue (players), deposit
 * escrowed keys (producers). Signed requests are signed like record bodies (docs/protocol.md §5):
 * Ed25519 over `"consort/v1/" ‖ <domain> ‖ 0x00 ‖ dagCbor(fields)`, each kind under its own domain.
 * Every record that comes back is decoded and verified before it is returned.
 */

/** Characters of hex in a certificate request id (128 bits of SHA-256: unique, and short enough to type). */
const REQUEST_ID_HEX_CHARS = 32

// ---------------------------------------------------------------------------------------------------------------
// Signed requests

/** The bytes a certificate request's signature covers. */
export function certRequestPayload(fields: CertRequestFields): Uint8Array {
  return signingPayload(CERT_REQUEST_DOMAIN, dagCbor.encode(fields))
}

export function signCertRequest(
  fields: CertRequestFields,
  subject: Signer,
): { request: CertRequestFields; sig: Uint8Array } {
  return { request: fields, sig: subject.sign(certRequestPayload(fields)) }
}

export function verifyCertRequest(request: { request: CertRequestFields; sig: Uint8Array }): boolean {
  return ed25519Verify(request.request.subject, certRequestPayload(request.request), request.sig)
}

/**
 * The id of a certificate request: the same subject asking for the same roles under the same name and sealing
 * key gets the same id, whenever it asks. Re-sending a request is therefore how a node picks up its certificate
 * once an operator approved it.
 */
export function certRequestId(fields: Pick<CertRequestFields, 'subject' | 'roles' | 'name' | 'sealingKey'>): string {
  const canonical = dagCbor.encode({
    subject: fields.subject,
    roles: [...fields.roles].sort(),
    name: fields.name,
    sealingKey: fields.sealingKey,
  })
  return `cr-${createHash('sha256').update(canonical).digest('hex').slice(0, REQUEST_ID_HEX_CHARS)}`
}

/** The bytes both signatures of a device registration cover. */
export function deviceRequestPayload(fields: DeviceRequestFields): Uint8Array {
  return signingPayload(DEVICE_REQUEST_DOMAIN, dagCbor.encode(fields))
}

/** A device registration, signed by the consumer account's key and by the device's own key. */
export function signDeviceRequest(
  fields: DeviceRequestFields,
  account: Signer,
  device: Signer,
): { request: DeviceRequestFields; accountSig: Uint8Array; deviceSig: Uint8Array } {
  const payload = deviceRequestPayload(fields)
  return { request: fields, accountSig: account.sign(payload), deviceSig: device.sign(payload) }
}

export function verifyDeviceRequest(request: {
  request: DeviceRequestFields
  accountSig: Uint8Array
  deviceSig: Uint8Array
}): { account: boolean; device: boolean } {
  const payload = deviceRequestPayload(request.request)
  return {
    account: ed25519Verify(request.request.account, payload, request.accountSig),
    device: ed25519Verify(request.request.device, payload, request.deviceSig),
  }
}

export interface ReissueFields {
  network: string
  purchaseId: string
  created: number
}

/** The bytes a licence reissue request's signature (by the device) covers. */
export function reissuePayload(fields: ReissueFields): Uint8Array {
  return signingPayload(REISSUE_DOMAIN, dagCbor.encode(fields))
}

export function verifyReissueRequest(fields: ReissueFields, device: Uint8Array, sig: Uint8Array): boolean {
  return ed25519Verify(device, reissuePayload(fields), sig)
}

/** The bytes a giving account signs to transfer a purchase (`licence/1 transfer`). */
export function transferPayload(fields: TransferFields): Uint8Array {
  return signingPayload(TRANSFER_DOMAIN, dagCbor.encode(fields))
}

export function verifyTransferRequest(fields: TransferFields, account: Uint8Array, sig: Uint8Array): boolean {
  return ed25519Verify(account, transferPayload(fields), sig)
}

// ---------------------------------------------------------------------------------------------------------------
// Calls

/** The bytes the old key signs to endorse its successor's certificate request. */
export function certRotationPayload(fields: CertRequestFields): Uint8Array {
  return signingPayload(CERT_ROTATION_DOMAIN, dagCbor.encode(fields))
}

export function verifyCertRotation(fields: CertRequestFields, predecessor: Uint8Array, sig: Uint8Array): boolean {
  return ed25519Verify(predecessor, certRotationPayload(fields), sig)
}

export interface RegistrarCallOptions extends RpcCallOptions {
  /** Ask this registration manager; by default each one the network record lists, in order, until one answers. */
  registrar?: PeerId
}

function decodeOptionsOf(network: NetworkContext, now: number): DecodeOptions {
  return { network: network.name, now, caps: network.caps }
}

function isRegistrarKey(network: NetworkContext, key: Uint8Array): boolean {
  const hex = toHex(key)
  return network.body.registrars.some((r) => toHex(r.key) === hex)
}

/** A record the registrar returned was not what was asked for. */
export class UnexpectedRegistrarAnswerError extends Error {
  static override name = 'UnexpectedRegistrarAnswerError'
  override name = UnexpectedRegistrarAnswerError.name

  constructor(message = 'the registrar returned a record that was not asked for', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_UNEXPECTED_ANSWER'
}

/**
 * Call the given registrar, or each registrar of the network in turn: a peer that cannot be reached or times out
 * is skipped; a refusal is final, since every registrar applies the same policy. With `errors` (the protocol's
 * table), a refusal whose code the protocol lists is thrown as its own class (`REGISTER_ERRORS`: `DeviceTakenError`…).
 */
async function callRegistrar(
  libp2p: RpcDialer,
  network: NetworkContext,
  protocol: string,
  op: string,
  body: unknown,
  options: RegistrarCallOptions,
  errors?: WireErrors,
): Promise<{ registrar: PeerId; response: unknown }> {
  const peers = options.registrar != null ? [options.registrar] : registrarPeers(network)
  const callOptions: RpcCallOptions = errors != null ? { ...options, errors } : options
  let lastError: unknown
  for (const peer of peers) {
    try {
      const response = await rpcCall(libp2p, peer, network.protocol(protocol), op, body, callOptions)
      return { registrar: peer, response }
    } catch (err) {
      if (isRefusal(err) || options.signal?.aborted === true) throw err
      lastError = err
    }
  }
  throw lastError ?? new UnexpectedRegistrarAnswerError('the network record lists no registration manager')
}

export type CertRequestResult =
  | { status: 'approved'; cert: SignedRecord<'consort/cert'>; registrar: PeerId }
  | { status: 'pending'; requestId: string; registrar: PeerId }
  | { status: 'rejected'; reason: string; registrar: PeerId }

function certResult(
  network: NetworkContext,
  now: number,
  subject: Uint8Array,
  registrar: PeerId,
  answer: CertStatusResponse,
): CertRequestResult {
  if (answer.status === 'pending') return { status: 'pending', requestId: answer.requestId, registrar }
  if (answer.status === 'rejected') return { status: 'rejected', reason: answer.reason, registrar }
  const cert = decodeRecordAs('consort/cert', answer.cert, decodeOptionsOf(network, now))
  if (!isRegistrarKey(network, cert.signer))
    throw new UnexpectedRegistrarAnswerError('the certificate is not signed by a registration manager of the network')
  if (toHex(cert.body.subject) !== toHex(subject))
    throw new UnexpectedRegistrarAnswerError('the certificate names another subject')
  return { status: 'approved', cert, registrar }
}

export interface CertRequestInit {
  /** The subject: the node's own signer (its libp2p identity). */
  signer: Signer
  sealingKey: Uint8Array
  roles: RoleName[]
  name: string
  now: number
}

/** Ask a registration manager for a role certificate. Players may be approved at once; other roles wait. */
export async function requestCert(
  libp2p: RpcDialer,
  network: NetworkContext,
  init: CertRequestInit,
  options: RegistrarCallOptions = {},
): Promise<CertRequestResult> {
  const fields: CertRequestFields = {
    network: network.name,
    subject: init.signer.publicKey,
    name: init.name,
    roles: init.roles,
    sealingKey: init.sealingKey,
    created: init.now,
  }
  const { registrar, response } = await callRegistrar(
    libp2p,
    network,
    REGISTER_PROTOCOL,
    REGISTER_OPS.requestCert,
    signCertRequest(fields, init.signer),
    options,
    REGISTER_ERRORS,
  )
  const answer = parseMessage(certStatusResponse, response, 'response')
  return certResult(network, init.now, init.signer.publicKey, registrar, answer)
}

export interface CertRotationInit {
  /** The new key's certificate request (same name and roles as `cert`) and its signature by the new key. */
  request: CertRequestFields
  sig: Uint8Array
  /** The node's current key and certificate. */
  old: Signer
  cert: SignedRecord<'consort/cert'>
  graceMs: number
  now: number
}

/**
 * Move a certified node to a new key: the registrar that answers certifies the new key for the old certificate's
 * name and roles and revokes the old certificate after `graceMs`. A retry gets the same certificate.
 */
export async function rotateCert(
  libp2p: RpcDialer,
  network: NetworkContext,
  init: CertRotationInit,
  options: RegistrarCallOptions = {},
): Promise<{ cert: SignedRecord<'consort/cert'>; revokeOldAt: number; registrar: PeerId }> {
  const { registrar, response } = await callRegistrar(
    libp2p,
    network,
    REGISTER_PROTOCOL,
    REGISTER_OPS.rotateCert,
    {
      request: init.request,
      sig: init.sig,
      predecessor: init.cert.bytes,
      predecessorSig: init.old.sign(certRotationPayload(init.request)),
      graceMs: init.graceMs,
    },
    options,
    REGISTER_ERRORS,
  )
  const answer = parseMessage(rotateCertResponse, response, 'response')
  const result = certResult(network, init.now, init.request.subject, registrar, {
    status: 'approved',
    cert: answer.cert,
  })
  if (result.status !== 'approved') throw new UnexpectedRegistrarAnswerError('no certificate came back')
  return { cert: result.cert, revokeOldAt: answer.revokeOldAt, registrar }
}

/** Poll a pending certificate request at the registrar that holds it. */
export async function certStatus(
  libp2p: RpcDialer,
  network: NetworkContext,
  registrar: PeerId,
  requestId: string,
  subject: Uint8Array,
  now: number,
  options: RpcCallOptions = {},
): Promise<CertRequestResult> {
  const response = await rpcCall(
    libp2p,
    registrar,
    network.protocol(REGISTER_PROTOCOL),
    REGISTER_OPS.certStatus,
    { requestId },
    { ...options, errors: REGISTER_ERRORS },
  )
  return certResult(network, now, subject, registrar, parseMessage(certStatusResponse, response, 'response'))
}

export interface DeviceRegistrationInit {
  /** The consumer account's key. */
  account: Signer
  /** The device's own key (the player node's identity). */
  device: Signer
  /** The device's X25519 key: licences are sealed to it. */
  sealingKey: Uint8Array
  name: string
  now: number
}

/** Register a device to a consumer account; refused beyond the network's device limit. */
export async function registerDevice(
  libp2p: RpcDialer,
  network: NetworkContext,
  init: DeviceRegistrationInit,
  options: RegistrarCallOptions = {},
): Promise<SignedRecord<'consort/device'>> {
  const fields: DeviceRequestFields = {
    network: network.name,
    account: init.account.publicKey,
    device: init.device.publicKey,
    sealingKey: init.sealingKey,
    name: init.name,
    created: init.now,
  }
  const { response } = await callRegistrar(
    libp2p,
    network,
    REGISTER_PROTOCOL,
    REGISTER_OPS.registerDevice,
    signDeviceRequest(fields, init.account, init.device),
    options,
    REGISTER_ERRORS,
  )
  const { device: bytes } = parseMessage(registerDeviceResponse, response, 'response')
  const device = decodeRecordAs('consort/device', bytes, decodeOptionsOf(network, init.now))
  if (!isRegistrarKey(network, device.signer))
    throw new UnexpectedRegistrarAnswerError('the device record is not signed by a registration manager')
  if (toHex(device.body.device) !== toHex(init.device.publicKey))
    throw new UnexpectedRegistrarAnswerError('the device record names another device')
  return device
}

/** The current certificate of `subject`, or null when the registrar knows none. */
export async function lookupCert(
  libp2p: RpcDialer,
  network: NetworkContext,
  subject: Uint8Array,
  now: number,
  options: RegistrarCallOptions = {},
): Promise<SignedRecord<'consort/cert'> | null> {
  const { response } = await callRegistrar(
    libp2p,
    network,
    REGISTER_PROTOCOL,
    REGISTER_OPS.lookupCert,
    { subject },
    options,
    REGISTER_ERRORS,
  )
  const { cert: bytes } = parseMessage(lookupCertResponse, response, 'response')
  if (bytes == null) return null
  const cert = decodeRecordAs('consort/cert', bytes, decodeOptionsOf(network, now))
  if (!isRegistrarKey(network, cert.signer) || toHex(cert.body.subject) !== toHex(subject))
    throw new UnexpectedRegistrarAnswerError('the certificate is not the subject’s, or not signed by a registrar')
  return cert
}

function checkLicence(
  network: NetworkContext,
  now: number,
  bytes: Uint8Array,
  expect: { purchaseId?: string; device?: Uint8Array },
): SignedRecord<'consort/licence'> {
  const licence = decodeRecordAs('consort/licence', bytes, decodeOptionsOf(network, now))
  if (!isRegistrarKey(network, licence.signer))
    throw new UnexpectedRegistrarAnswerError('the licence is not signed by a registration manager')
  if (expect.purchaseId != null && licence.body.purchaseId !== expect.purchaseId)
    throw new UnexpectedRegistrarAnswerError(`the licence is for purchase ${licence.body.purchaseId}`)
  if (expect.device != null && toHex(licence.body.device) !== toHex(expect.device))
    throw new UnexpectedRegistrarAnswerError('the licence is bound to another device')
  return licence
}

export interface LicenceIssueInit {
  receipt: SignedRecord<'consort/receipt'>
  /** The clearinghouse's proof that the receipt's price was captured. */
  payment: SignedRecord<'consort/payment'>
  offer: SignedRecord<'consort/offer'>
  certification: SignedRecord<'consort/certification'>
  device: SignedRecord<'consort/device'>
  /** The retailer's certificate. */
  attachments: SignedRecord[]
  now: number
}

/** A retailer asks a registration manager for the licence of a purchase it signed a receipt for. */
export async function requestLicence(
  libp2p: RpcDialer,
  network: NetworkContext,
  init: LicenceIssueInit,
  options: RegistrarCallOptions = {},
): Promise<SignedRecord<'consort/licence'>> {
  const { response } = await callRegistrar(
    libp2p,
    network,
    LICENCE_PROTOCOL,
    LICENCE_OPS.issue,
    {
      receipt: init.receipt.bytes,
      payment: init.payment.bytes,
      offer: init.offer.bytes,
      certification: init.certification.bytes,
      device: init.device.bytes,
      attachments: init.attachments.map((a) => a.bytes),
    },
    options,
  )
  const { licence } = parseMessage(issueResponse, response, 'response')
  return checkLicence(network, init.now, licence, {
    purchaseId: init.receipt.body.purchaseId,
    device: init.device.body.device,
  })
}

export interface LicenceReissueInit {
  purchaseId: string
  /** The asking device's registration. */
  device: SignedRecord<'consort/device'>
  /** The device's own key. */
  signer: Signer
  now: number
  /** The clearinghouses' signed statements of what the purchase already used (the registrar needs its payer's). */
  consumption?: SignedRecord<'consort/consumption'>[]
}

/**
 * A device asks for its licence of a purchase again (lost store, updated keys), or, for another device of the
 * same account, a licence of its own within the licence's `devices` rule.
 */
export async function requestReissue(
  libp2p: RpcDialer,
  network: NetworkContext,
  init: LicenceReissueInit,
  options: RegistrarCallOptions = {},
): Promise<SignedRecord<'consort/licence'>> {
  const request: ReissueFields = { network: network.name, purchaseId: init.purchaseId, created: init.now }
  const { response } = await callRegistrar(
    libp2p,
    network,
    LICENCE_PROTOCOL,
    LICENCE_OPS.reissue,
    {
      request,
      device: init.device.bytes,
      sig: init.signer.sign(reissuePayload(request)),
      ...(init.consumption !== undefined ? { consumption: init.consumption.map((c) => c.bytes) } : {}),
    },
    options,
  )
  const { licence } = parseMessage(reissueResponse, response, 'response')
  return checkLicence(network, init.now, licence, { purchaseId: init.purchaseId, device: init.signer.publicKey })
}

export interface EscrowDepositInit {
  /** The `consort/escrow` records, all addressed to the registrar called. */
  escrows: SignedRecord<'consort/escrow'>[]
  manifests: SignedRecord<'consort/manifest'>[]
  release: SignedRecord<'consort/release'> | null
  /** The producer's certificate. */
  attachments: SignedRecord[]
}

/**
 * A producer deposits content keys with the registration manager they are sealed to (the escrows' `recipient`).
 * Idempotent: a retry stores nothing twice. Returns how many escrows the registrar holds from this deposit.
 */
export async function depositEscrow(
  libp2p: RpcDialer,
  network: NetworkContext,
  init: EscrowDepositInit,
  options: RpcCallOptions = {},
): Promise<number> {
  const recipient = init.escrows[0]?.body.recipient
  if (recipient == null) throw new UnexpectedRegistrarAnswerError('a deposit needs at least one escrow')
  const response = await rpcCall(
    libp2p,
    peerIdOfKey(recipient),
    network.protocol(ESCROW_PROTOCOL),
    ESCROW_OPS.deposit,
    {
      escrows: init.escrows.map((e) => e.bytes),
      manifests: init.manifests.map((m) => m.bytes),
      release: init.release?.bytes ?? null,
      attachments: init.attachments.map((a) => a.bytes),
    },
    { ...options, errors: ESCROW_ERRORS },
  )
  return parseMessage(depositResponse, response, 'response').stored
}

export interface LicenceTransferInit {
  transferId: string
  purchaseId: string
  /** The receiving account's key. */
  to: Uint8Array
  /** The giving account's key: it owns the purchase. */
  account: Signer
  /** Fresh `consort/consumption` statements of the purchase (the uses travel with it). */
  consumption: SignedRecord<'consort/consumption'>[]
  now: number
  /** A purchase bought for the receiver (decision 0606): allowed whatever its transfer rule, once, unused. */
  gift?: boolean
}

/** Ask the registrar to move a purchase to another account (docs/decisions/0606-licence-transfer.md). */
export async function requestTransfer(
  libp2p: RpcDialer,
  network: NetworkContext,
  init: LicenceTransferInit,
  options: RegistrarCallOptions = {},
): Promise<{ transfer: SignedRecord<'consort/transfer'>; revocation: SignedRecord<'consort/revocation'> }> {
  const request: TransferFields = {
    network: network.name,
    transferId: init.transferId,
    purchaseId: init.purchaseId,
    to: init.to,
    created: init.now,
    ...(init.gift === true ? { gift: true as const } : {}),
  }
  const { response } = await callRegistrar(
    libp2p,
    network,
    LICENCE_PROTOCOL,
    LICENCE_OPS.transfer,
    { request, sig: init.account.sign(transferPayload(request)), consumption: init.consumption.map((c) => c.bytes) },
    options,
  )
  const answer = parseMessage(transferResponse, response, 'response')
  const decode = { network: network.name, now: init.now, caps: network.caps }
  return {
    transfer: decodeRecordAs('consort/transfer', answer.transfer, decode),
    revocation: decodeRecordAs('consort/revocation', answer.revocation, decode),
  }
}
