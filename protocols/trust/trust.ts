import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { Clock } from '../clock.ts'
import type { SignedRecord } from '../records/envelope.ts'
import type { RecordType } from '../records/registry.ts'
import type { RoleName } from '../records/types/common.ts'
import type { NetworkBody } from '../records/types/network.ts'
import { TRUST_CODES, type TrustCode } from './errors.ts'

/**
 * Who must have signed each record type. `registrar`, `reference` and `clearinghouse` are the anchors the
 * network record lists; a role name means "holds a current certificate for that role"; `device` means a
 * registered, unrevoked device; `participant` means any certified participant or anchor; `referrer` (a
 * `consort/share`) means the key the share names as its referrer — any account key for a consumer, a key holding a
 * current `retailer` certificate for a retailer.
 */
export type SignerRequirement =
  | RoleName
  | 'registrar'
  | 'reference-anchor'
  | 'clearinghouse-anchor'
  | 'device'
  | 'participant'
  | 'genesis'
  | 'referrer'

export const SIGNER_REQUIREMENTS: Record<RecordType, SignerRequirement> = {
  'consort/network': 'genesis',
  'consort/cert': 'registrar',
  'consort/device': 'registrar',
  'consort/licence': 'registrar',
  'consort/manifest': 'production',
  'consort/release': 'production',
  'consort/contract': 'production',
  'consort/escrow': 'production',
  'consort/offer': 'retailer',
  'consort/receipt': 'retailer',
  'consort/certification': 'reference-anchor',
  'consort/statement': 'clearinghouse-anchor',
  'consort/payment': 'clearinghouse-anchor',
  'consort/consumption': 'clearinghouse-anchor',
  'consort/usage': 'device',
  'consort/delivery': 'device',
  'consort/transfer': 'registrar',
  'consort/share': 'referrer',
  'consort/revocation': 'participant',
}

export type TrustVerdict = { ok: true } | { ok: false; code: TrustCode; reason: string }

/**
 * The pluggable signer check of every validator: given a record and the records attached to it (the signer's
 * certificate, a device's registration), say whether its signer may sign it.
 */
export interface SignerTrust {
  check(record: SignedRecord, attachments?: readonly SignedRecord[]): TrustVerdict
}

/** Accept every signer: only for tests of the layers below trust. */
export const trustEverySigner: SignerTrust = { check: () => ({ ok: true }) }

/** Certificates and devices kept per subject; bounded so that a flood of certificates cannot exhaust memory. */
export const MAX_KNOWN_CERTIFICATES = 100_000
const fail = (code: TrustCode, reason: string): TrustVerdict => ({ ok: false, code, reason })

/**
 * Trust rooted in the network record: registrars sign certificates and device registrations, the network
 * record names the reference services and clearinghouses, and revocations withdraw any of them.
 */
export class CertificateTrust implements SignerTrust {
  #network: NetworkBody
  readonly #clock: Clock
  readonly #certs = new Map<string, SignedRecord<'consort/cert'>>()
  readonly #devices = new Map<string, SignedRecord<'consort/device'>>()
  readonly #revoked = new Set<string>()

  constructor(network: NetworkBody, clock: Clock) {
    this.#network = network
    this.#clock = clock
  }

  get network(): NetworkBody {
    return this.#network
  }

  /** Adopt a newer network record (a higher `seq` signed by the same genesis key, checked by the caller). */
  updateNetwork(network: NetworkBody): void {
    if (network.seq > this.#network.seq) this.#network = network
  }

  isRegistrar(key: Uint8Array): boolean {
    const k = toHex(key)
    return this.#network.registrars.some((a) => toHex(a.key) === k)
  }

  isReferenceService(key: Uint8Array): boolean {
    const k = toHex(key)
    return this.#network.references.some((a) => toHex(a.key) === k)
  }

  isClearinghouse(key: Uint8Array): boolean {
    const k = toHex(key)
    return this.#network.clearinghouses.some((a) => toHex(a.key) === k)
  }

  isAnchor(key: Uint8Array): boolean {
    return this.isRegistrar(key) || this.isReferenceService(key) || this.isClearinghouse(key)
  }

  revoke(ids: Iterable<CID>): void {
    for (const id of ids) this.#revoked.add(id.toString())
  }

  isRevoked(id: CID): boolean {
    return this.#revoked.has(id.toString())
  }

  /** Check a certificate and remember it for its subject. */
  learnCert(cert: SignedRecord<'consort/cert'>): TrustVerdict {
    const verdict = this.#checkIssued(cert, cert.body.notBefore, cert.body.notAfter)
    if (!verdict.ok) return verdict
    const key = toHex(cert.body.subject)
    const known = this.#certs.get(key)
    if (known == null || known.body.serial <= cert.body.serial || !this.#currentlyValid(known)) {
      if (known == null && this.#certs.size >= MAX_KNOWN_CERTIFICATES) this.#evictOne(this.#certs)
      this.#certs.set(key, cert)
    }
    return verdict
  }

  /** Check a device registration and remember it for its device key. */
  learnDevice(device: SignedRecord<'consort/device'>): TrustVerdict {
    const verdict = this.#checkIssued(device, device.body.notBefore, device.body.notAfter)
    if (!verdict.ok) return verdict
    const key = toHex(device.body.device)
    if (!this.#devices.has(key) && this.#devices.size >= MAX_KNOWN_CERTIFICATES) this.#evictOne(this.#devices)
    this.#devices.set(key, device)
    return verdict
  }

  certOf(subject: Uint8Array): SignedRecord<'consort/cert'> | undefined {
    const cert = this.#certs.get(toHex(subject))
    return cert != null && this.#currentlyValid(cert) ? cert : undefined
  }

  deviceOf(device: Uint8Array): SignedRecord<'consort/device'> | undefined {
    const record = this.#devices.get(toHex(device))
    return record != null && this.#currentlyValid(record) ? record : undefined
  }

  /** Does `key` currently hold a certificate for `role`? */
  hasRole(key: Uint8Array, role: RoleName): boolean {
    return this.certOf(key)?.body.roles.includes(role) ?? false
  }

  check(record: SignedRecord, attachments: readonly SignedRecord[] = []): TrustVerdict {
    for (const attachment of attachments) {
      if (attachment.type === 'consort/cert') this.learnCert(attachment as SignedRecord<'consort/cert'>)
      else if (attachment.type === 'consort/device') this.learnDevice(attachment as SignedRecord<'consort/device'>)
    }
    const requirement = SIGNER_REQUIREMENTS[record.type]
    const signer = record.signer
    switch (requirement) {
      case 'genesis':
        return fail(TRUST_CODES.notAnAnchor, 'network records are checked against the genesis key at configuration')
      case 'registrar':
        return this.isRegistrar(signer)
          ? { ok: true }
          : fail(TRUST_CODES.notAnAnchor, `${record.type} must be signed by a registration manager of the network`)
      case 'reference-anchor':
        return this.isReferenceService(signer)
          ? { ok: true }
          : fail(
              TRUST_CODES.notAnAnchor,
              `${record.type} must be signed by a reference service the network record lists`,
            )
      case 'clearinghouse-anchor':
        return this.isClearinghouse(signer)
          ? { ok: true }
          : fail(TRUST_CODES.notAnAnchor, `${record.type} must be signed by a clearinghouse the network record lists`)
      case 'device': {
        const device = this.#devices.get(toHex(signer))
        if (device == null) return fail(TRUST_CODES.noCertificate, 'signer is not a registered device')
        return this.#validity(device, device.body.notBefore, device.body.notAfter)
      }
      case 'referrer': {
        const { kind, key } = (record as SignedRecord<'consort/share'>).body.referrer
        if (toHex(key) !== toHex(signer)) return fail(TRUST_CODES.subjectMismatch, "signer is not the share's referrer")
        return kind === 'account' ? { ok: true } : this.#certifiedFor(signer, 'retailer', 'a retailer referrer')
      }
      case 'participant': {
        if (this.isAnchor(signer)) return { ok: true }
        const cert = this.#certs.get(toHex(signer))
        if (cert == null) return fail(TRUST_CODES.noCertificate, 'signer holds no certificate')
        return this.#validity(cert, cert.body.notBefore, cert.body.notAfter)
      }
      default:
        return this.#certifiedFor(signer, requirement, 'signer')
    }
  }

  /** `signer` holds a current, unrevoked certificate granting `role`. */
  #certifiedFor(signer: Uint8Array, role: RoleName, who: string): TrustVerdict {
    const cert = this.#certs.get(toHex(signer))
    if (cert == null)
      return fail(TRUST_CODES.noCertificate, `${who} holds no certificate (a ${role} certificate is required)`)
    const validity = this.#validity(cert, cert.body.notBefore, cert.body.notAfter)
    if (!validity.ok) return validity
    if (!cert.body.roles.includes(role)) {
      return fail(TRUST_CODES.wrongRole, `${who}'s certificate grants ${cert.body.roles.join(', ')}, not ${role}`)
    }
    return { ok: true }
  }

  #checkIssued(record: SignedRecord, notBefore: number, notAfter: number): TrustVerdict {
    if (!this.isRegistrar(record.signer))
      return fail(TRUST_CODES.badIssuer, `${record.type} not signed by a registration manager of the network`)
    return this.#validity(record, notBefore, notAfter)
  }

  #validity(record: SignedRecord, notBefore: number, notAfter: number): TrustVerdict {
    if (this.#revoked.has(record.id.toString()))
      return fail(TRUST_CODES.revoked, `${record.type} ${record.id} is revoked`)
    const now = this.#clock.now()
    if (now < notBefore) return fail(TRUST_CODES.notYetValid, `${record.type} valid from ${notBefore}, now ${now}`)
    if (now >= notAfter) return fail(TRUST_CODES.expired, `${record.type} expired at ${notAfter}, now ${now}`)
    return { ok: true }
  }

  #currentlyValid(record: SignedRecord<'consort/cert'> | SignedRecord<'consort/device'>): boolean {
    return this.#validity(record, record.body.notBefore, record.body.notAfter).ok
  }

  #evictOne(map: Map<string, unknown>): void {
    const oldest = map.keys().next()
    if (oldest.done !== true) map.delete(oldest.value)
  }
}
