import { looksLikeAdts } from './adts.ts'
import { startsWithAscii } from './bytes.ts'
import { readMp3Header } from './mp3.ts'
import { skipId3v2 } from './tags.ts'
import type { AudioFormat } from './types.ts'

/**
 * The container of an audio file, told from its first bytes (never from its name): `fLaC`, `RIFF…WAVE`, `OggS`,
 * an MP4 `ftyp` box, or, after any ID3v2 tag, an MPEG Layer III or ADTS frame header. Null when none fits.
 */
export function detectAudioFormat(bytes: Uint8Array): AudioFormat | null {
  if (startsWithAscii(bytes, 'fLaC')) return 'flac'
  if (startsWithAscii(bytes, 'RIFF') && startsWithAscii(bytes, 'WAVE', 8)) return 'wav'
  if (startsWithAscii(bytes, 'OggS')) return 'ogg'
  if (startsWithAscii(bytes, 'ftyp', 4)) return 'mp4'
  let start: number
  try {
    start = skipId3v2(bytes, 'audio')
  } catch {
    return null
  }
  if (startsWithAscii(bytes, 'fLaC', start)) return 'flac'
  if (looksLikeAdts(bytes, start)) return 'adts'
  // MP3 files may carry a little junk before the first frame: look a short way in for two frames in a row.
  for (let at = start; at >= 0 && at < Math.min(bytes.length, start + 4096); at = bytes.indexOf(0xff, at + 1)) {
    const h = readMp3Header(bytes, at)
    if (h != null && (at + h.length >= bytes.length || readMp3Header(bytes, at + h.length) != null)) return 'mp3'
  }
  return null
}
