import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { z } from 'zod'
import { isCanonicalContentId, isCurrency, isDpid, isGrid, isIcpn, isIsrc, isTerritory } from '../identifiers/index.ts'

/**
 * The building blocks of every record body. Each is strict: exact byte lengths, bounded strings and lists,
 * safe integers, and the identifiers of the music industry checked for form and check digits.
 */

/** Longest free-text field (titles, names, reasons). Long enough for any real title, short enough to bound. */
export const MAX_TEXT_CHARS = 512
/** Longest identifier-like field (offer ids, contract ids, purchase ids). */
export const MAX_ID_CHARS = 128

export const bytes = (length: number) =>
  z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === length, {
    message: `expected ${length} bytes`,
  })

export const boundedBytes = (max: number) =>
  z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length > 0 && v.length <= max, {
    message: `expected 1 to ${max} bytes`,
  })

/** An Ed25519 public key (a record signer, a subject, a device). */
export const publicKey = bytes(32)
/** An X25519 public key that things are sealed to. */
export const sealingKey = bytes(32)
/** A content key id. */
export const keyId = bytes(16)
export const digest32 = bytes(32)

export const text = (max = MAX_TEXT_CHARS) => z.string().min(1).max(max)
export const id = z
  .string()
  .min(1)
  .max(MAX_ID_CHARS)
  .regex(/^[A-Za-z0-9._:/-]+$/, 'only letters, digits and . _ : / - are allowed')

/** Milliseconds since the Unix epoch. */
export const timestamp = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
export const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
export const sequence = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/** DAG-CBOR integers are 64-bit (major types 0 and 1): an amount outside this range cannot be encoded at all. */
export const MAX_AMOUNT = 2n ** 64n - 1n
export const MIN_SIGNED_AMOUNT = -(2n ** 64n)
/**
 * Money in integer minor units. DAG-CBOR gives back small integers as numbers and large ones as bigints; the
 * domain type is always bigint.
 */
export const amount = z
  .union([z.bigint(), z.number().int()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n, 'must not be negative')
  .refine((v) => v <= MAX_AMOUNT, `must not exceed ${MAX_AMOUNT}`)
export const signedAmount = z
  .union([z.bigint(), z.number().int()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= MIN_SIGNED_AMOUNT && v <= MAX_AMOUNT, `must lie within ${MIN_SIGNED_AMOUNT} … ${MAX_AMOUNT}`)

export const currency = z.string().refine(isCurrency, 'not an ISO 4217 currency code')
export const money = z.object({ amount, currency }).strict()
export type Money = z.infer<typeof money>

export const territory = z.string().refine(isTerritory, 'not an ISO 3166-1 alpha-2 code or Worldwide')
export const territories = (max = 300) =>
  z
    .array(territory)
    .max(max)
    .refine((list) => new Set(list).size === list.length, 'territories repeat')

export const isrc = z.string().refine(isIsrc, 'not an ISRC (CC-XXX-YY-NNNNN without hyphens)')
export const icpn = z.string().refine(isIcpn, 'not a UPC/EAN with a valid check digit')
export const grid = z.string().refine(isGrid, 'not a GRid with a valid check character')
export const dpid = z.string().refine(isDpid, 'not a DDEX party id (PADPIDA, 10 letters or digits, a check character)')

/**
 * Content is named by stable industry identifiers rather than by manifest CIDs, because an update of a release
 * produces new manifests while contracts and offers keep applying: `isrc:USRC17607839` for a track,
 * `icpn:00724384960650` or `grid:A10302B0001655731` for a release. Records carry the canonical form only
 * (`protocols/identifiers/content-id.ts`, decision 0006), so that one release never has two ids: whoever makes a
 * record from what a person typed turns it into that form first (`canonicalContentId`).
 */
export const contentId = z
  .string()
  .refine(isCanonicalContentId, 'not a canonical content id (isrc:…, icpn: and 14 digits, or grid:…)')
export type ContentId = string

/** True when `value` is a content id in its canonical form. */
export function isContentId(value: string): boolean {
  return isCanonicalContentId(value)
}

export const cid = z.custom<CID>((v) => CID.asCID(v) != null && (v as CID).version === 1, {
  message: 'expected a CIDv1',
})
/** A link to another record (a DAG-CBOR block). */
export const recordCid = z.custom<CID>(
  (v) => {
    const c = CID.asCID(v)
    return c != null && c.version === 1 && c.code === dagCbor.code && c.multihash.code === sha256.code
  },
  { message: 'expected the CID of a record (CIDv1, dag-cbor, sha2-256)' },
)
/** A link to a raw block (an encrypted segment or an artwork image). */
export const blockCid = z.custom<CID>(
  (v) => {
    const c = CID.asCID(v)
    return c != null && c.version === 1 && c.code === raw.code && c.multihash.code === sha256.code
  },
  { message: 'expected the CID of a raw block (CIDv1, raw, sha2-256)' },
)

export const unique = <T>(list: T[]): boolean => new Set(list).size === list.length

/** A validity window whose end, if any, comes after its start. */
export function windowIsOrdered(from: number, until: number | null): boolean {
  return until == null || until > from
}
