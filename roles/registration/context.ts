import { createHash } from 'node:crypto'
import type { Signer } from '../../keys/ed25519.ts'
import type { Random } from '../../keys/random.ts'
import type { SealingKeyPair } from '../../keys/x25519.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import {
  type DecodeOptions,
  decodeRecord,
  decodeRecordAs,
  type SignedRecord,
} from '../../protocols/records/envelope.ts'
import { UnexpectedRecordTypeError } from '../../protocols/records/errors.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import type { NetworkPolicy } from '../../protocols/records/types/network.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import type { KeyedQueue } from '../common/keyed-queue.ts'
import type { RegistrationStore } from './store.ts'

/**
 * Records verified recently, by the SHA-256 of their bytes. The same offer, certification, retailer certificate
 * and device registration come with purchase after purchase; decoding and verifying a record is the registrar's
 * main cost, and identical bytes decode to the identical record. Time-dependent checks (expiry, revocation) are
 * made by the caller every time; the decoder's own time check only refuses records from the future, which a
 * record verified earlier is not.
 */
export class VerifiedRecordCache {
  readonly #entries = new Map<string, SignedRecord>()
  readonly #capacity: number

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  /** Decode and verify a record of any type, or return the one decoded from the same bytes before. */
  decodeAny(bytes: Uint8Array, options: DecodeOptions): SignedRecord {
    const key = createHash('sha256').update(bytes).digest('base64')
    const known = this.#entries.get(key)
    if (known != null) {
      this.#entries.delete(key)
      this.#entries.set(key, known)
      return known
    }
    const record = decodeRecord(bytes, options)
    this.#entries.set(key, record)
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    return record
  }

  decode<T extends RecordType>(type: T, bytes: Uint8Array, options: DecodeOptions): SignedRecord<T> {
    const record = this.decodeAny(bytes, options)
    if (record.type !== type) throw new UnexpectedRecordTypeError('type', `expected ${type}, got ${record.type}`)
    return record as SignedRecord<T>
  }
}

/** Settings of the registration manager, with their defaults in `constants.ts`. */
export interface RegistrationOptions {
  certValidityMs: number
  deviceValidityMs: number
  contractFetchTimeoutMs: number
}

/** What the parts of the registration manager share. */
export interface RegistrarContext {
  store: RegistrationStore
  signer: Signer
  sealing: SealingKeyPair
  clock: Clock
  random: Random
  network: NetworkContext
  trust: CertificateTrust
  records: RecordStore
  locks: KeyedQueue
  events: EventTarget
  options: RegistrationOptions
  verified: VerifiedRecordCache
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function decodeOptions(ctx: RegistrarContext): DecodeOptions {
  return { network: ctx.network.name, now: ctx.clock.now(), caps: ctx.network.caps }
}

/**
 * Read back a record this role stored itself (verified when it was stored): the signature is checked again, the
 * freshness check is not (it was fresh when stored).
 */
export function readStored<T extends RecordType>(ctx: RegistrarContext, type: T, bytes: Uint8Array): SignedRecord<T> {
  return decodeRecordAs(type, bytes, { ...decodeOptions(ctx), now: Number.MAX_SAFE_INTEGER })
}

/** The network's policy in force (a newer network record may have changed it). */
export function policy(ctx: RegistrarContext): NetworkPolicy {
  return ctx.trust.network.policy
}

export function emit<T>(ctx: RegistrarContext, type: string, detail: T): void {
  ctx.events.dispatchEvent(new CustomEvent<T>(type, { detail }))
}

/** Refuse a signed request for another network, dated in the future, or older than `maxAgeMs`. */
export function requestAgeProblem(
  ctx: RegistrarContext,
  request: { network: string; created: number },
  maxAgeMs: number,
): string | null {
  if (request.network !== ctx.network.name)
    return `request.network: ${JSON.stringify(request.network)} is not this network (${ctx.network.name})`
  const now = ctx.clock.now()
  const skew = ctx.network.caps.clockSkewMs
  if (request.created > now + skew) return `request.created: ${request.created} is ${request.created - now} ms ahead`
  if (request.created < now - maxAgeMs - skew)
    return `request.created: ${request.created} is ${now - request.created} ms old (at most ${maxAgeMs} ms)`
  return null
}
