import { CID } from 'multiformats/cid'
import {
  type CurrencyCode,
  isCanonicalContentId,
  isCurrency,
  isDpid,
  isIsrc,
  isTerritory,
  type Territory,
} from '../identifiers/index.ts'

/**
 * Hand-written body checks for the record types a node decodes most (offers, certifications and certificates in
 * gossip; usage reports and device registrations at a clearinghouse): the zod schemas cost about as much as the rest
 * of decoding together. A quick check either vouches for a body — returning exactly what the type's zod schema
 * returns for it: the same fields in the same order, money as bigints — or says nothing (`undefined`), and then the
 * schema runs and gives its verdict and its error naming the field. So a quick check can only ever be stricter than
 * the schema beside it, never laxer; `test/unit/records/quick.test.ts` holds each one to its schema on every sample
 * body and on thousands of spoiled ones. A change to a schema is made to its quick check in the same file.
 *
 * Quick checks see only what the canonical decoder gives (plain objects, arrays, strings, numbers, bigints, booleans,
 * null, Uint8Arrays, CIDs). Inside one, a failed check throws `MISS` (not an Error: no stack is captured), which
 * `quick()` turns into `undefined`.
 */

/** Thrown inside a quick check when it will not vouch for a body. */
const MISS: unique symbol = Symbol('quick check miss')

/** Wrap a quick check: what it throws `MISS` for becomes `undefined`. */
export function quick<T>(check: (body: unknown) => T): (body: unknown) => T | undefined {
  return (body) => {
    try {
      return check(body)
    } catch (err) {
      if (err === MISS) return undefined
      throw err
    }
  }
}

export function ensure(condition: boolean): void {
  if (!condition) throw MISS
}

/**
 * A plain object with exactly these keys (the optional ones may be absent): what a strict zod object accepts. The
 * caller builds the output from it, in the schema's order.
 */
export function object(
  v: unknown,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) throw MISS
  const o = v as Record<string, unknown>
  let n = 0
  for (const key in o) {
    if (!Object.hasOwn(o, key)) throw MISS
    n++
  }
  let present = 0
  for (const key of required) {
    if (!Object.hasOwn(o, key)) throw MISS
    present++
  }
  for (const key of optional) if (Object.hasOwn(o, key)) present++
  if (present !== n) throw MISS
  return o
}

/** A string of `min` to `max` UTF-16 code units (zod's `.min`/`.max` on strings). */
export function string(v: unknown, min: number, max: number): string {
  if (typeof v !== 'string' || v.length < min || v.length > max) throw MISS
  return v
}

/** `fields.ts` `text(max)`. */
export function text(v: unknown, max: number): string {
  return string(v, 1, max)
}

const ID = /^[A-Za-z0-9._:/-]+$/
/** `fields.ts` `id`: 1 to 128 of letters, digits and `. _ : / -`. */
export function id(v: unknown): string {
  const s = string(v, 1, 128)
  if (!ID.test(s)) throw MISS
  return s
}

const NETWORK = /^[a-z0-9][a-z0-9-]*$/
/** `types/common.ts` `networkName`. */
export function networkName(v: unknown): string {
  const s = string(v, 1, 64)
  if (!NETWORK.test(s)) throw MISS
  return s
}

/** `fields.ts` `timestamp`, `count`, `sequence` and usage rules' `quantity`: a safe integer ≥ 0. */
export function natural(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw MISS
  return v
}

export function boolean(v: unknown): boolean {
  if (typeof v !== 'boolean') throw MISS
  return v
}

/** `fields.ts` `bytes(n)`. */
export function bytes(v: unknown, length: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== length) throw MISS
  return v
}

/** `fields.ts` `boundedBytes(max)`. */
export function boundedBytes(v: unknown, max: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length === 0 || v.length > max) throw MISS
  return v
}

const DAG_CBOR = 0x71
const SHA2_256 = 0x12
/** `fields.ts` `recordCid`: CIDv1, dag-cbor, sha2-256. */
export function recordCid(v: unknown): CID {
  const c = v instanceof CID ? v : CID.asCID(v)
  if (c == null || c.version !== 1 || c.code !== DAG_CBOR || c.multihash.code !== SHA2_256) throw MISS
  return c
}

export function oneOf<T extends string>(v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw MISS
  return v as T
}

export function nullable<T>(v: unknown, check: (v: unknown) => T): T | null {
  return v === null ? null : check(v)
}

/** An array of `min` to `max` items, each checked (and converted) by `each`: a new array, as zod gives. */
export function array<T>(v: unknown, min: number, max: number, each: (item: unknown) => T): T[] {
  if (!Array.isArray(v) || v.length < min || v.length > max) throw MISS
  const out = new Array<T>(v.length)
  for (let i = 0; i < v.length; i++) out[i] = each(v[i])
  return out
}

export function unique(list: readonly unknown[]): void {
  if (list.length > 1 && new Set(list).size !== list.length) throw MISS
}

/** 2^64 - 1: DAG-CBOR's largest unsigned integer (`fields.ts` `MAX_AMOUNT`). */
const MAX_AMOUNT = 2n ** 64n - 1n
/** `fields.ts` `amount`: a number or bigint, given back as a bigint in 0 … 2^64 - 1. */
export function amount(v: unknown): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw MISS
    return BigInt(v)
  }
  if (typeof v !== 'bigint' || v < 0n || v > MAX_AMOUNT) throw MISS
  return v
}

/** `fields.ts` `money`. */
export function money(v: unknown): { amount: bigint; currency: CurrencyCode } {
  const o = object(v, ['amount', 'currency'])
  const amountValue = amount(o.amount)
  if (typeof o.currency !== 'string' || !isCurrency(o.currency)) throw MISS
  return { amount: amountValue, currency: o.currency }
}

export function territory(v: unknown): Territory {
  if (typeof v !== 'string' || !isTerritory(v)) throw MISS
  return v
}

/** `fields.ts` `territories(max)`: no repeats. */
export function territories(v: unknown, max = 300): Territory[] {
  const list = array(v, 0, max, territory)
  unique(list)
  return list
}

export function contentId(v: unknown): string {
  if (typeof v !== 'string' || !isCanonicalContentId(v)) throw MISS
  return v
}

export function isrc(v: unknown): string {
  if (typeof v !== 'string' || !isIsrc(v)) throw MISS
  return v
}

/** `fields.ts` `dpid`. */
export function dpid(v: unknown): string {
  if (typeof v !== 'string' || !isDpid(v)) throw MISS
  return v
}
