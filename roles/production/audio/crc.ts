/**
 * The checksums of the audio containers whose frames the preview cutter rewrites: FLAC's CRC-8 (frame headers)
 * and CRC-16 (whole frames), Ogg's CRC-32 (pages). All three are MSB-first, initial value 0, no final XOR.
 */

function table8(poly: number): Uint8Array {
  const t = new Uint8Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let b = 0; b < 8; b++) c = c & 0x80 ? ((c << 1) ^ poly) & 0xff : (c << 1) & 0xff
    t[i] = c
  }
  return t
}

function table16(poly: number): Uint16Array {
  const t = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 8
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ poly) & 0xffff : (c << 1) & 0xffff
    t[i] = c
  }
  return t
}

function table32(poly: number): Uint32Array {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 24
    for (let b = 0; b < 8; b++) c = c & 0x80000000 ? (c << 1) ^ poly : c << 1
    t[i] = c >>> 0
  }
  return t
}

const CRC8 = table8(0x07)
const CRC16 = table16(0x8005)
const CRC32 = table32(0x04c11db7)

/** FLAC frame header CRC-8 (polynomial x^8 + x^2 + x + 1). */
export function crc8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0
  for (let i = start; i < end; i++) c = CRC8[c ^ bytes[i]!]!
  return c
}

/** FLAC frame CRC-16 (polynomial x^16 + x^15 + x^2 + 1). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let c = initial
  for (let i = start; i < end; i++) c = ((c << 8) & 0xffff) ^ CRC16[(c >>> 8) ^ bytes[i]!]!
  return c
}

/** Ogg page CRC-32 (polynomial 0x04c11db7, computed with the checksum field zeroed). */
export function crc32Ogg(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0
  for (let i = start; i < end; i++) c = ((c << 8) ^ CRC32[((c >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0
  return c >>> 0
}
