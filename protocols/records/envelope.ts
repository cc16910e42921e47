import { hash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import type { z } from 'zod'
import { ed25519Verify, type Signer } from '../../keys/ed25519.ts'
import { toHex } from '../../keys/hex.ts'
import { isError } from '../errors.ts'
import { decodeCanonical, NotCanonicalError } from './canonical.ts'
import {
  BadSignatureError,
  FutureTimestampError,
  MalformedRecordError,
  NonCanonicalRecordError,
  RecordSchemaError,
  RecordTooLargeError,
  UnexpectedRecordTypeError,
  UnknownRecordTypeError,
  UnsupportedVersionError,
  WrongNetworkError,
} from './errors.ts'
import { type BodyInput, type BodyOf, isRecordType, RECORD_TYPES, type RecordType } from './registry.ts'

/** The envelope format this code writes and the only one it reads. */
export const ENVELOPE_VERSION = 1
/** Every signature covers this prefix, the type, a zero byte and the body: a signature for one type never passes for another. */
export const SIGNING_DOMAIN = 'consort/v1/'
const ENVELOPE_FIELDS = ['body', 'sig', 'signer', 'type', 'v'] as const

export interface RecordCaps {
  /** Largest small record (offers, certs, receipts…), in bytes. */
  recordBytes: number
  /** Largest record of the types that grow with content (manifests, contracts, licences…), in bytes. */
  largeRecordBytes: number
  /** How far into the future `created` may lie before a record is refused. */
  clockSkewMs: number
}

/** Defaults of a new network; a network record may set its own. */
export const DEFAULT_RECORD_CAPS: RecordCaps = {
  recordBytes: 64 * 1024,
  largeRecordBytes: 1024 * 1024,
  clockSkewMs: 5 * 60_000,
}

/** A record that was signed here or decoded and verified: its typed body, its exact bytes and its id. */
export interface SignedRecord<T extends RecordType = RecordType> {
  readonly type: T
  readonly body: BodyOf<T>
  readonly signer: Uint8Array
  readonly sig: Uint8Array
  /** The canonical DAG-CBOR bytes of the whole envelope. */
  readonly bytes: Uint8Array
  /** CID(dag-cbor, sha2-256) of `bytes`: the record's name everywhere. */
  readonly id: CID
}

export interface DecodeOptions {
  /** The network this node belongs to: records of any other are refused. */
  network: string
  /** Current time in ms, from the node's clock. */
  now: number
  caps?: RecordCaps
}

/** The signing prefix of every known type, made once (the verify path is hot). */
const SIGNING_PREFIXES = new Map(
  Object.keys(RECORD_TYPES).map((type) => [type, new TextEncoder().encode(`${SIGNING_DOMAIN}${type}\0`)]),
)

/** The bytes a record's signature covers: `utf8("consort/v1/" ‖ type) ‖ 0x00 ‖ body`. */
export function signingPayload(type: string, bodyBytes: Uint8Array): Uint8Array {
  return prefixed(SIGNING_PREFIXES.get(type) ?? new TextEncoder().encode(`${SIGNING_DOMAIN}${type}\0`), bodyBytes)
}

/**
 * The bytes a signed request's signature covers, for requests signed under a domain of their own rather than a
 * record type (`ACCOUNT_REQUEST_DOMAIN`, `CONSUMPTION_DOMAIN`, `USAGE_STATE_DOMAIN`): `utf8(domain) ‖ 0x00 ‖ bytes`.
 * Built here and in `signingPayload` only, so that every kind of signature is separated the same way.
 */
export function domainPayload(domain: string, bytes: Uint8Array): Uint8Array {
  return prefixed(new TextEncoder().encode(`${domain}\0`), bytes)
}

function prefixed(prefix: Uint8Array, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + bytes.length)
  out.set(prefix, 0)
  out.set(bytes, prefix.length)
  return out
}

/** The id of a record (or of any DAG-CBOR block): CIDv1, dag-cbor, sha2-256. */
export function recordId(bytes: Uint8Array): CID {
  return CID.createV1(dagCbor.code, createDigest(sha256.code, hash('sha256', bytes, 'buffer')))
}

/**
 * Where the body lies inside a canonical envelope, so that the verify path need not encode the body a second
 * time. DAG-CBOR sorts map keys by length, then bytewise, so a canonical envelope is `v, sig, body, type,
 * signer`: the body starts after the encoding of `{ v, sig }` and the `body` key, and ends where the encoding of
 * `{ type, signer }` begins (each small map's one-byte header stands for the envelope's own). Both lengths depend
 * only on the version, the type and the key and signature sizes, which the decoder checks first, so they are
 * worked out once per type by encoding those small maps.
 */
const BODY_OFFSET =
  dagCbor.encode({ v: ENVELOPE_VERSION, sig: new Uint8Array(64) }).length + dagCbor.encode('body').length
const BYTES_AFTER_BODY = new Map(
  Object.keys(RECORD_TYPES).map((type) => [type, dagCbor.encode({ type, signer: new Uint8Array(32) }).length - 1]),
)

/** The body's bytes inside `bytes`: only valid once `bytes` is known to be the canonical envelope of `type`. */
function canonicalBodyBytes(bytes: Uint8Array, type: RecordType): Uint8Array {
  return bytes.subarray(BODY_OFFSET, bytes.length - BYTES_AFTER_BODY.get(type)!)
}

/** The size cap of a record type under `caps`. */
export function capFor(type: RecordType, caps: RecordCaps): number {
  return RECORD_TYPES[type].size === 'large' ? caps.largeRecordBytes : caps.recordBytes
}

function validateBody<T extends RecordType>(type: T, body: unknown): BodyOf<T> {
  const schema = RECORD_TYPES[type].body as unknown as z.ZodType<BodyOf<T>>
  const result = schema.safeParse(body)
  if (!result.success) {
    throw new RecordSchemaError(
      result.error.issues.map((issue) => ({
        field: ['body', ...issue.path.map(String)].join('.'),
        message: issue.code === 'unrecognized_keys' ? `unexpected field(s) ${issue.keys.join(', ')}` : issue.message,
      })),
    )
  }
  return result.data
}

/** A decoded body, checked: by the type's quick check when it vouches for it, by the schema otherwise. */
function decodeBody<T extends RecordType>(type: T, body: unknown): BodyOf<T> {
  const entry = RECORD_TYPES[type]
  const quick = 'quick' in entry ? entry.quick(body) : undefined
  return quick !== undefined ? (quick as BodyOf<T>) : validateBody(type, body)
}

/**
 * Validate a body against its type's schema, sign it and encode the envelope. Refuses to sign anything a
 * decoder would refuse, so a node never publishes a record its peers will reject.
 */
export function signRecord<T extends RecordType>(
  type: T,
  body: BodyInput<T>,
  signer: Signer,
  caps: RecordCaps = DEFAULT_RECORD_CAPS,
): SignedRecord<T> {
  const validBody = validateBody(type, body)
  const bodyBytes = dagCbor.encode(validBody)
  const sig = signer.sign(signingPayload(type, bodyBytes))
  const bytes = dagCbor.encode({ v: ENVELOPE_VERSION, type, body: validBody, signer: signer.publicKey, sig })
  const cap = capFor(type, caps)
  if (bytes.length > cap)
    throw new RecordTooLargeError('record', `${bytes.length} bytes exceeds the ${type} cap of ${cap}`)
  return { type, body: validBody, signer: signer.publicKey, sig, bytes, id: recordId(bytes) }
}

/**
 * The last checks of a decoded record, once its bytes are known to be a canonical envelope of `type` with a valid body:
 * its network, its time, and last its signature over `bodyBytes` (the body's bytes inside the envelope). Shared by
 * `decodeRecord` and the hand-written readers of hot record types (`protocols/usage/read-report.ts`), so that both
 * refuse the same records with the same errors.
 */
export function checkSignedBody(
  type: RecordType,
  body: { network: string; created: number },
  signer: Uint8Array,
  sig: Uint8Array,
  bodyBytes: Uint8Array,
  options: DecodeOptions,
): void {
  const caps = options.caps ?? DEFAULT_RECORD_CAPS
  if (body.network !== options.network) {
    throw new WrongNetworkError(
      'body.network',
      `record of network ${JSON.stringify(body.network)}, this is ${JSON.stringify(options.network)}`,
    )
  }
  if (body.created > options.now + caps.clockSkewMs) {
    throw new FutureTimestampError(
      'body.created',
      `${body.created} is ${body.created - options.now} ms in the future (allowed skew ${caps.clockSkewMs} ms)`,
    )
  }
  if (!ed25519Verify(signer, signingPayload(type, bodyBytes), sig)) {
    throw new BadSignatureError('sig', `signature does not verify for signer ${toHex(signer)}`)
  }
}

/**
 * Decode and verify a record from bytes that came from outside. Cheap checks run first (size, structure,
 * version, type, canonical form, schema, network, time) and the signature last. Throws a `RecordError`
 * subclass naming the field at fault.
 */
export function decodeRecord(bytes: Uint8Array, options: DecodeOptions): SignedRecord {
  const caps = options.caps ?? DEFAULT_RECORD_CAPS
  const maxBytes = Math.max(caps.recordBytes, caps.largeRecordBytes)
  if (bytes.length > maxBytes) {
    throw new RecordTooLargeError('record', `${bytes.length} bytes exceeds the largest record cap of ${maxBytes}`)
  }

  // One record, one encoding, one id: a non-canonical copy of a record would otherwise get a new id. The canonical
  // form is checked while decoding (see canonical.ts) rather than by encoding the envelope again to compare.
  let envelope: unknown
  try {
    envelope = decodeCanonical(bytes)
  } catch (err) {
    if (isError(err, NotCanonicalError))
      throw new NonCanonicalRecordError('record', `not in canonical DAG-CBOR form: ${err.message}`)
    throw new MalformedRecordError('record', `not DAG-CBOR (${(err as Error).message})`)
  }
  if (envelope == null || typeof envelope !== 'object' || Array.isArray(envelope) || envelope instanceof Uint8Array) {
    throw new MalformedRecordError('record', 'not a map')
  }
  const fields = envelope as Record<string, unknown>
  const keys = Object.keys(fields).sort()
  for (const key of keys) {
    if (!(ENVELOPE_FIELDS as readonly string[]).includes(key)) {
      throw new MalformedRecordError(key, 'unexpected field in the envelope')
    }
  }
  for (const key of ENVELOPE_FIELDS) {
    if (!(key in fields)) throw new MalformedRecordError(key, 'missing from the envelope')
  }
  if (fields.v !== ENVELOPE_VERSION) {
    throw new UnsupportedVersionError(
      'v',
      `version ${String(fields.v)} is not supported (expected ${ENVELOPE_VERSION})`,
    )
  }
  const type = fields.type
  if (!isRecordType(type)) throw new UnknownRecordTypeError('type', `unknown record type ${JSON.stringify(type)}`)
  const cap = capFor(type, caps)
  if (bytes.length > cap)
    throw new RecordTooLargeError('record', `${bytes.length} bytes exceeds the ${type} cap of ${cap}`)
  if (!(fields.signer instanceof Uint8Array) || fields.signer.length !== 32) {
    throw new MalformedRecordError('signer', 'expected a 32-byte Ed25519 public key')
  }
  if (!(fields.sig instanceof Uint8Array) || fields.sig.length !== 64) {
    throw new MalformedRecordError('sig', 'expected a 64-byte Ed25519 signature')
  }

  const bodyBytes = canonicalBodyBytes(bytes, type)

  const body = decodeBody(type, fields.body) as BodyOf<RecordType> & { network: string; created: number }
  checkSignedBody(type, body, fields.signer, fields.sig, bodyBytes, options)
  // The id on first use: a clearinghouse's verification worker decodes every usage report and never asks for it (the
  // main thread, which had to know it first, keeps it), and a hash per report is worth saving there.
  let id: CID | undefined
  return {
    type,
    body,
    signer: fields.signer,
    sig: fields.sig,
    bytes,
    get id() {
      if (id === undefined) id = recordId(bytes)
      return id
    },
  }
}

/** Decode a record that must be of one type. */
export function decodeRecordAs<T extends RecordType>(
  type: T,
  bytes: Uint8Array,
  options: DecodeOptions,
): SignedRecord<T> {
  const record = decodeRecord(bytes, options)
  if (record.type !== type) throw new UnexpectedRecordTypeError('type', `expected ${type}, got ${record.type}`)
  return record as SignedRecord<T>
}

export function isRecordOfType<T extends RecordType>(record: SignedRecord, type: T): record is SignedRecord<T> {
  return record.type === type
}
