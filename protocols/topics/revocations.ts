import type { SignedRecord } from '../records/envelope.ts'
import type { RecordType } from '../records/registry.ts'
import type { RevocableKind } from '../records/types/revocation.ts'
import { keyHex } from './knowledge.ts'
import { ATTACHMENT_TYPES } from './names.ts'
import { ACCEPT, ignore, reject, type TopicSpec, type TopicTrust } from './spec.ts'

/**
 * The largest valid revocation (1 000 targets, each a kind and a CID, and a 512-character reason) with the revoker's
 * certificate and device is about 65 KiB: 96 KiB leaves room for a field or two more (`test/unit/topics/specs.test.ts`
 * builds it and keeps this honest).
 */
export const REVOCATIONS_MESSAGE_BYTES = 96 * 1024

/** Who may revoke each kind of record. The revocations topic forwards nothing else; each role applies what it holds. */
export type RevocationAuthority = 'registrar' | 'reference' | 'signer' | 'signer-or-reference'

export const REVOCATION_AUTHORITY: Record<RevocableKind, RevocationAuthority> = {
  cert: 'registrar',
  device: 'registrar',
  licence: 'registrar',
  receipt: 'registrar',
  certification: 'reference',
  contract: 'signer',
  release: 'signer',
  manifest: 'signer',
  offer: 'signer-or-reference',
}

/** The kind a revocation names a record of this type by (records that are revoked by id on the topics). */
export const REVOCABLE_KIND_OF: Partial<Record<RecordType, RevocableKind>> = {
  'consort/contract': 'contract',
  'consort/offer': 'offer',
  'consort/release': 'release',
  'consort/manifest': 'manifest',
}

export const REVOCATION_CODES = {
  unauthorised: 'ERR_UNAUTHORISED',
} as const

/**
 * May `revoker` revoke a record of this kind whose signer is `signer` (hex)? Kinds an anchor revokes are decided by
 * the network record alone; kinds a signer revokes need the signer: `undefined` when it is not known here.
 */
export function mayRevoke(
  kind: RevocableKind,
  revoker: Uint8Array,
  signer: string | undefined,
  trust: TopicTrust,
): boolean | undefined {
  switch (REVOCATION_AUTHORITY[kind]) {
    case 'registrar':
      return trust.isRegistrar(revoker)
    case 'reference':
      return trust.isReferenceService(revoker)
    case 'signer':
      return signer == null ? undefined : signer === keyHex(revoker)
    case 'signer-or-reference':
      if (trust.isReferenceService(revoker)) return true
      return signer == null ? undefined : signer === keyHex(revoker)
  }
}

/** Is this record revoked, by the revokers (hex keys) known here, by someone who may revoke it? */
export function isWithdrawn(record: SignedRecord, revokers: ReadonlySet<string>, trust: TopicTrust): boolean {
  const kind = REVOCABLE_KIND_OF[record.type]
  if (kind == null) return false
  const signer = keyHex(record.signer)
  for (const by of revokers) {
    if (mayRevoke(kind, Uint8Array.from(Buffer.from(by, 'hex')), signer, trust) === true) return true
  }
  return false
}

/**
 * `/revocations`: `consort/revocation`, signed by any certified participant or anchor. A target whose authority is
 * an anchor (certificates, devices, licences and receipts: a registrar; certifications: a reference service) revoked
 * by anyone else is rejected: the network record says so on every node. A target revoked by someone other than its
 * signer (contracts, releases, manifests; offers also by a reference service) is ignored when this node knows the
 * target's signer; an unknown target is accepted and counts only if it turns out to be the revoker's own.
 */
export const revocationsTopic: TopicSpec = {
  name: 'revocations',
  leads: ['consort/revocation'],
  // A licence transfer's revocation carries the registrar's `consort/transfer` (decision 0606): clearinghouses learn
  // the purchase's new holder, the receiver's player learns it was given one.
  attachments: [...ATTACHMENT_TYPES, 'consort/transfer'],
  maxMessageBytes: REVOCATIONS_MESSAGE_BYTES,
  // A takedown of a catalogue revokes thousands of offers in a burst of records of 1 000 targets each; every one must
  // reach the roles (a revocation lost is an offer still on sale), so the newest waits at the door when full.
  queue: { maxItems: 1024, maxBytes: 16 * 1024 * 1024, concurrency: 4, whenFull: 'refuse-newest' },
  validate(delivery, { trust }) {
    const record = delivery.record as SignedRecord<'consort/revocation'>
    for (const target of record.body.targets) {
      const authority = REVOCATION_AUTHORITY[target.kind]
      if (authority !== 'registrar' && authority !== 'reference') continue
      if (mayRevoke(target.kind, record.signer, undefined, trust) !== true) {
        const who = authority === 'registrar' ? 'a registration manager' : 'a reference service'
        return reject(REVOCATION_CODES.unauthorised, `only ${who} may revoke a ${target.kind} (${target.id})`)
      }
    }
    return ACCEPT
  },
  async judge(delivery, { trust, knows }) {
    const record = delivery.record as SignedRecord<'consort/revocation'>
    for (const target of record.body.targets) {
      const authority = REVOCATION_AUTHORITY[target.kind]
      if (authority === 'registrar' || authority === 'reference') continue
      if (mayRevoke(target.kind, record.signer, await knows.signerOf(target.id), trust) === false) {
        return ignore(
          REVOCATION_CODES.unauthorised,
          `${target.kind} ${target.id} is not the revoker's${authority === 'signer-or-reference' ? ' and the revoker is not a reference service' : ''}`,
        )
      }
    }
    return ACCEPT
  },
  learn(record, memory) {
    memory.noteRevocation(record as SignedRecord<'consort/revocation'>)
  },
}
