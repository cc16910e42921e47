import { InvalidHexError } from './errors.ts'

/** Lower-case hexadecimal of `bytes` (read through a Buffer view: no copy). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/**
 * The bytes that `hex` spells: an even number of hexadecimal digits, either case, nothing else (Node's own decoder
 * stops silently at the first bad digit). `field` names the value in the error.
 */
export function fromHex(hex: string, field = 'hex'): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new InvalidHexError(field, hex)
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}
