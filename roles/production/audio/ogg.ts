import { concatBytes, startsWithAscii, u16le, u32le } from './bytes.ts'
import { crc32Ogg } from './crc.ts'
import { CorruptAudioError, PreviewCutError, TruncatedAudioError, UnsupportedAudioError } from './errors.ts'
import type { ScannedAudio } from './types.ts'

const PAGE_HEADER_BYTES = 27
const FLAG_CONTINUED = 0x01
const FLAG_BOS = 0x02
const FLAG_EOS = 0x04
/** Opus timestamps always count at 48 kHz, whatever the input rate. */
const OPUS_GRANULE_RATE = 48000

interface Page {
  offset: number
  length: number
  flags: number
  /** -1 when no packet ends on this page. */
  granule: number
  /** The page's last packet goes on in the next page. */
  open: boolean
}

function readGranule(b: Uint8Array, at: number): number {
  const low = u32le(b, at)
  const high = u32le(b, at + 4)
  if (high === 0xffffffff && low === 0xffffffff) return -1
  if (high >= 2 ** 21) throw new CorruptAudioError(`Ogg granule position at ${at} is out of range`)
  return high * 2 ** 32 + low
}

function writeGranule(b: Uint8Array, at: number, granule: number): void {
  const low = granule % 2 ** 32
  const high = Math.floor(granule / 2 ** 32)
  for (let i = 0; i < 4; i++) {
    b[at + i] = (low >>> (8 * i)) & 0xff
    b[at + 4 + i] = (high >>> (8 * i)) & 0xff
  }
}

function pageCrc(page: Uint8Array): number {
  const copy = page.slice()
  copy.fill(0, 22, 26)
  return crc32Ogg(copy)
}

/**
 * Ogg Vorbis or Opus, one logical stream: every page is checked (capture pattern, CRC-32, one serial number, page
 * sequence) and the stream must end with its end-of-stream page, so a file cut anywhere is refused. A clip is the
 * codec's header pages and the audio pages of its range, renumbered, with granule positions rebased to the clip's
 * start and the end-of-stream flag on its last page.
 */
export function scanOgg(bytes: Uint8Array, name: string): ScannedAudio {
  const pages: Page[] = []
  let pos = 0
  let serial = -1
  let packets = 0
  let headerPages = -1
  let headerPackets = 0
  let codec: 'vorbis' | 'opus' | undefined
  let sampleRate = 0
  let channels = 0
  let preSkip = 0
  while (pos < bytes.length) {
    if (!startsWithAscii(bytes, 'OggS', pos)) throw new CorruptAudioError(`${name}: no Ogg page at ${pos}`)
    if (pos + PAGE_HEADER_BYTES > bytes.length)
      throw new TruncatedAudioError(`${name}: the Ogg page at ${pos} is cut off`)
    const segments = bytes[pos + 26]!
    if (pos + PAGE_HEADER_BYTES + segments > bytes.length) {
      throw new TruncatedAudioError(`${name}: the Ogg page at ${pos} is cut off`)
    }
    let bodyLength = 0
    for (let i = 0; i < segments; i++) bodyLength += bytes[pos + PAGE_HEADER_BYTES + i]!
    const length = PAGE_HEADER_BYTES + segments + bodyLength
    if (pos + length > bytes.length) throw new TruncatedAudioError(`${name}: the Ogg page at ${pos} is cut off`)
    const page = bytes.subarray(pos, pos + length)
    if (page[4] !== 0) throw new UnsupportedAudioError(`${name}: Ogg version ${page[4]} is not supported`)
    if (pageCrc(page) !== u32le(page, 22)) throw new CorruptAudioError(`${name}: the Ogg page at ${pos} fails its CRC`)
    const pageSerial = u32le(page, 14)
    if (serial < 0) serial = pageSerial
    else if (pageSerial !== serial) {
      throw new UnsupportedAudioError(`${name}: chained or multiplexed Ogg streams are not supported`)
    }
    if (u32le(page, 18) !== pages.length) throw new CorruptAudioError(`${name}: Ogg page ${pages.length} is missing`)
    const flags = page[5]!
    const beginsStream = (flags & FLAG_BOS) !== 0
    if (beginsStream !== (pages.length === 0)) {
      throw new CorruptAudioError(`${name}: the Ogg beginning-of-stream flag is misplaced`)
    }
    if (pages.length === 0) {
      const body = PAGE_HEADER_BYTES + segments
      if (startsWithAscii(page, '\x01vorbis', body)) {
        codec = 'vorbis'
        channels = page[body + 11]!
        sampleRate = u32le(page, body + 12)
        headerPackets = 3
      } else if (startsWithAscii(page, 'OpusHead', body)) {
        codec = 'opus'
        channels = page[body + 9]!
        preSkip = u16le(page, body + 10)
        sampleRate = OPUS_GRANULE_RATE
        headerPackets = 2
      } else {
        throw new UnsupportedAudioError(`${name}: the Ogg stream is neither Vorbis nor Opus`)
      }
      if (channels === 0 || sampleRate === 0) throw new CorruptAudioError(`${name}: the codec header is invalid`)
    }
    let lastLacing = 0
    for (let i = 0; i < segments; i++) {
      lastLacing = bytes[pos + PAGE_HEADER_BYTES + i]!
      if (lastLacing < 255) {
        packets++
        if (packets === headerPackets) {
          if (i !== segments - 1) {
            throw new UnsupportedAudioError(`${name}: audio starts on the page of the last codec header`)
          }
          headerPages = pages.length + 1
        }
      }
    }
    pages.push({
      offset: pos,
      length,
      flags,
      granule: readGranule(page, 6),
      open: segments > 0 && lastLacing === 255,
    })
    pos += length
  }
  if (codec == null || headerPages < 0) throw new TruncatedAudioError(`${name}: the Ogg codec headers are incomplete`)
  const last = pages[pages.length - 1]!
  if ((last.flags & FLAG_EOS) === 0) {
    throw new TruncatedAudioError(`${name}: the Ogg stream has no end-of-stream page: the file is cut off`)
  }
  if (pages.length <= headerPages) throw new CorruptAudioError(`${name}: the Ogg stream holds no audio`)
  const offset = codec === 'opus' ? preSkip : 0
  const audioCodec = codec
  return {
    format: 'ogg',
    codec,
    mime: codec === 'opus' ? 'audio/ogg; codecs=opus' : 'audio/ogg',
    sampleRate,
    channels,
    totalSamples: Math.max(0, last.granule - offset),
    cut(startSample, endSample) {
      const startGranule = startSample + offset
      const endGranule = endSample + offset
      let from = pages.findIndex((p, i) => i >= headerPages && p.granule > startGranule)
      if (from < 0) throw new PreviewCutError(`${name}: no Ogg page in samples ${startSample}-${endSample}`)
      // A page whose first packet began on the page before cannot start the clip: start with that page.
      while (from > headerPages && (pages[from]!.flags & FLAG_CONTINUED) !== 0) from--
      let to = from
      while (to < pages.length - 1 && (pages[to]!.granule < endGranule || pages[to]!.open)) to++
      let base = 0
      for (let i = from - 1; i >= headerPages; i--) {
        if (pages[i]!.granule >= 0) {
          base = pages[i]!.granule
          break
        }
      }
      // Opus keeps its pre-skip at the head of the clip: the decoder spends it converging, as at a stream start.
      const shift = base - (audioCodec === 'opus' && base > 0 ? preSkip : 0)
      const parts: Uint8Array[] = []
      for (let i = 0; i < headerPages; i++)
        parts.push(bytes.subarray(pages[i]!.offset, pages[i]!.offset + pages[i]!.length))
      let lastGranule = 0
      for (let i = from; i <= to; i++) {
        const p = pages[i]!
        const page = bytes.slice(p.offset, p.offset + p.length)
        page[5] = (p.flags & FLAG_CONTINUED) | (i === to ? FLAG_EOS : 0)
        if (p.granule >= 0) {
          lastGranule = p.granule - shift
          writeGranule(page, 6, lastGranule)
        }
        const sequence = headerPages + (i - from)
        page[18] = sequence & 0xff
        page[19] = (sequence >>> 8) & 0xff
        page[20] = (sequence >>> 16) & 0xff
        page[21] = (sequence >>> 24) & 0xff
        const crc = pageCrc(page)
        page[22] = crc & 0xff
        page[23] = (crc >>> 8) & 0xff
        page[24] = (crc >>> 16) & 0xff
        page[25] = (crc >>> 24) & 0xff
        parts.push(page)
      }
      const clipStart = Math.max(0, base - offset)
      return {
        bytes: concatBytes(parts),
        codec: audioCodec,
        mime: audioCodec === 'opus' ? 'audio/ogg; codecs=opus' : 'audio/ogg',
        startSample: clipStart,
        samples: Math.max(0, lastGranule - offset),
      }
    },
  }
}
