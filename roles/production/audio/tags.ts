import { startsWithAscii, u32le } from './bytes.ts'
import { TruncatedAudioError } from './errors.ts'

/** Where the stream starts after any ID3v2 tags (MP3 and ADTS files often begin with one or more). */
export function skipId3v2(bytes: Uint8Array, name: string): number {
  let pos = 0
  while (startsWithAscii(bytes, 'ID3', pos) && pos + 10 <= bytes.length) {
    const size =
      ((bytes[pos + 6]! & 0x7f) << 21) |
      ((bytes[pos + 7]! & 0x7f) << 14) |
      ((bytes[pos + 8]! & 0x7f) << 7) |
      (bytes[pos + 9]! & 0x7f)
    const footer = (bytes[pos + 5]! & 0x10) !== 0 ? 10 : 0
    pos += 10 + size + footer
    if (pos > bytes.length) throw new TruncatedAudioError(`${name}: the ID3v2 tag is cut off`)
  }
  return pos
}

/** Where the stream ends before trailing tags (ID3v1, APEv2). */
export function trailingTagsStart(bytes: Uint8Array, start: number): number {
  let end = bytes.length
  for (let changed = true; changed; ) {
    changed = false
    if (end - 128 >= start && startsWithAscii(bytes, 'TAG', end - 128)) {
      end -= 128
      changed = true
    }
    if (end - 32 >= start && startsWithAscii(bytes, 'APETAGEX', end - 32)) {
      const size = u32le(bytes, end - 32 + 12)
      const hasHeader = (bytes[end - 32 + 23]! & 0x80) !== 0
      const total = size + (hasHeader ? 32 : 0)
      if (total <= end - start) {
        end -= total
        changed = true
      }
    }
  }
  return end
}
