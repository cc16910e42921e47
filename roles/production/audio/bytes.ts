/** Small readers and writers over Uint8Array used by the container parsers. */

export const ascii = (bytes: Uint8Array, start: number, length: number): string =>
  String.fromCharCode(...bytes.subarray(start, start + length))

export function startsWithAscii(bytes: Uint8Array, text: string, at = 0): boolean {
  if (at + text.length > bytes.length) return false
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false
  return true
}

export const u16be = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!
export const u24be = (b: Uint8Array, i: number): number => (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!
export const u32be = (b: Uint8Array, i: number): number =>
  ((b[i]! << 24) >>> 0) + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!)
export const u64be = (b: Uint8Array, i: number): number => u32be(b, i) * 2 ** 32 + u32be(b, i + 4)
export const u16le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8)
export const u32le = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)) + b[i + 3]! * 2 ** 24

export function writeU16le(b: Uint8Array, i: number, v: number): void {
  b[i] = v & 0xff
  b[i + 1] = (v >>> 8) & 0xff
}

export function writeU32le(b: Uint8Array, i: number, v: number): void {
  b[i] = v & 0xff
  b[i + 1] = (v >>> 8) & 0xff
  b[i + 2] = (v >>> 16) & 0xff
  b[i + 3] = (v >>> 24) & 0xff
}

export function writeU32be(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >>> 24) & 0xff
  b[i + 1] = (v >>> 16) & 0xff
  b[i + 2] = (v >>> 8) & 0xff
  b[i + 3] = v & 0xff
}

export function writeAscii(b: Uint8Array, i: number, text: string): void {
  for (let j = 0; j < text.length; j++) b[i + j] = text.charCodeAt(j)
}

/** Concatenate byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
