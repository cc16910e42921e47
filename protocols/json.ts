import { CID } from 'multiformats/cid'
import { toString as bytesToString } from 'uint8arrays/to-string'
import { toHex } from '../keys/hex.ts'

/**
 * How records and results are shown as JSON (CLI `--json`, control API): bigints as decimal strings (money
 * must not pass through a float), CIDs as their string form, bytes as hex (keys, ids) or, when long, as
 * `{ "base64": "…" }`.
 */
export const MAX_HEX_BYTES = 64

export function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) {
    return value.length <= MAX_HEX_BYTES ? toHex(value) : { base64: bytesToString(value, 'base64') }
  }
  const cid = CID.asCID(value)
  if (cid != null) return cid.toString()
  if (Array.isArray(value)) return value.map(toJsonValue)
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v)]))
  if (value instanceof Set) return [...value].map(toJsonValue)
  if (value != null && typeof value === 'object') {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]))
  }
  return value
}

export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(toJsonValue(value), null, indent)
}
