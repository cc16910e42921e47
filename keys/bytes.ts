import { InvalidByteLengthError } from './errors.ts'

/** Internal helpers shared by this module's files (not re-exported from `index.ts`). */

/** Throws `InvalidByteLengthError` unless `bytes` is a Uint8Array of exactly `length` bytes. */
export function assertBytes(field: string, bytes: unknown, length: number): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array))
    throw new InvalidByteLengthError(field, length, bytes === null ? 'null' : `a ${typeof bytes} (not a Uint8Array)`)
  if (bytes.length !== length) throw new InvalidByteLengthError(field, length, bytes.length)
}

/** A plain Uint8Array copy of node's Buffer output (Buffers may share a pooled ArrayBuffer with other data). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

/** A zero-copy Buffer view of a Uint8Array, for node APIs that want a Buffer. */
export function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** True when every byte is zero; reads every byte whatever it finds (no early exit on secret data). */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0
  for (const byte of bytes) acc |= byte
  return acc === 0
}

/** Byte equality (not constant-time: for public values only). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
