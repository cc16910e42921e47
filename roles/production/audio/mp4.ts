import { AAC_SAMPLE_RATES, adtsHeader } from './adts.ts'
import { ascii, concatBytes, u16be, u32be, u64be } from './bytes.ts'
import { CorruptAudioError, PreviewCutError, TruncatedAudioError, UnsupportedAudioError } from './errors.ts'
import type { ScannedAudio } from './types.ts'

/** Samples one track may have (an AAC frame is 1024 samples: about six days at 48 kHz). */
const MAX_MP4_SAMPLES = 10_000_000
/** How deep boxes may nest before the file is refused as hostile. */
const MAX_BOX_DEPTH = 16

interface Box {
  type: string
  start: number
  body: number
  end: number
}

/** The boxes inside [from, to); a box that runs past `to` is refused as cut off. */
function boxes(b: Uint8Array, from: number, to: number, name: string): Box[] {
  const out: Box[] = []
  let pos = from
  while (pos + 8 <= to) {
    let size = u32be(b, pos)
    const type = ascii(b, pos + 4, 4)
    let body = pos + 8
    if (size === 1) {
      if (pos + 16 > to) throw new TruncatedAudioError(`${name}: MP4 box ${type} is cut off`)
      size = u64be(b, pos + 8)
      body = pos + 16
    } else if (size === 0) {
      size = to - pos
    }
    if (size < body - pos) throw new CorruptAudioError(`${name}: MP4 box ${type} at ${pos} has size ${size}`)
    if (pos + size > to) {
      throw new TruncatedAudioError(
        `${name}: MP4 box ${JSON.stringify(type)} at ${pos} needs ${size} bytes, ${to - pos} remain: the file is cut off`,
      )
    }
    out.push({ type, start: pos, body, end: pos + size })
    pos += size
  }
  if (pos !== to && to - pos < 8 && to === b.length) {
    throw new TruncatedAudioError(`${name}: ${to - pos} stray bytes at the end of the MP4 file: it is cut off`)
  }
  return out
}

function child(b: Uint8Array, parent: Box, path: string[], name: string, depth = 0): Box | undefined {
  if (depth > MAX_BOX_DEPTH) throw new CorruptAudioError(`${name}: MP4 boxes nest too deep`)
  const [head, ...rest] = path
  const found = boxes(b, parent.body, parent.end, name).find((box) => box.type === head)
  if (found == null || rest.length === 0) return found
  return child(b, found, rest, name, depth + 1)
}

/** Read an MPEG-4 descriptor's tag and length (expandable size, up to 4 bytes). */
function descriptor(b: Uint8Array, at: number, end: number): { tag: number; body: number; end: number } | null {
  if (at + 2 > end) return null
  const tag = b[at]!
  let length = 0
  let pos = at + 1
  for (let i = 0; i < 4; i++) {
    const byte = b[pos++]
    if (byte === undefined) return null
    length = (length << 7) | (byte & 0x7f)
    if ((byte & 0x80) === 0) break
  }
  if (pos + length > end) return null
  return { tag, body: pos, end: pos + length }
}

interface AudioConfig {
  profile: number
  rateIndex: number
  channels: number
}

/** The AudioSpecificConfig from an `esds` box, as the ADTS header fields it maps to. */
function audioConfig(b: Uint8Array, esds: Box, name: string): AudioConfig {
  const es = descriptor(b, esds.body + 4, esds.end)
  if (es == null || es.tag !== 0x03) throw new CorruptAudioError(`${name}: esds has no ES descriptor`)
  const flags = b[es.body + 2]!
  let pos = es.body + 3
  if (flags & 0x80) pos += 2
  if (flags & 0x40) pos += 1 + b[pos]!
  if (flags & 0x20) pos += 2
  const config = descriptor(b, pos, es.end)
  if (config == null || config.tag !== 0x04) throw new CorruptAudioError(`${name}: esds has no decoder config`)
  const objectType = b[config.body]!
  if (![0x40, 0x66, 0x67, 0x68].includes(objectType)) {
    throw new UnsupportedAudioError(`${name}: MP4 audio object type 0x${objectType.toString(16)} is not AAC`)
  }
  const specific = descriptor(b, config.body + 13, config.end)
  if (specific == null || specific.tag !== 0x05 || specific.end - specific.body < 2) {
    throw new CorruptAudioError(`${name}: esds has no AudioSpecificConfig`)
  }
  // audioObjectType (5 bits), samplingFrequencyIndex (4), channelConfiguration (4), then for explicitly signalled
  // HE-AAC (5, 29) the extension's rate index (4) and the core object type (5), which is what ADTS carries.
  const at = specific.body
  const v = ((b[at]! << 24) | (b[at + 1]! << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0
  let aot = v >>> 27
  const rateIndex = (v >>> 23) & 0x0f
  const channels = (v >>> 19) & 0x0f
  if (aot === 5 || aot === 29) aot = (v >>> 10) & 0x1f
  return { profile: aot - 1, rateIndex, channels }
}

/**
 * AAC in MP4/M4A: the box tree is walked (every box must fit, so a cut-off `mdat` is refused), the first sound
 * track's sample table gives each AAC frame's place and time, and every frame must lie inside the file. A clip is
 * the frames of its range as an ADTS stream (`.aac`): rebuilding an MP4 index for a clip would gain nothing a
 * player needs.
 */
export function scanMp4(bytes: Uint8Array, name: string): ScannedAudio {
  const top = boxes(bytes, 0, bytes.length, name)
  if (top[0]?.type !== 'ftyp') throw new UnsupportedAudioError(`${name}: not an MP4 file (no ftyp box first)`)
  const moov = top.find((box) => box.type === 'moov')
  if (moov == null) throw new TruncatedAudioError(`${name}: the MP4 file has no moov box: it is cut off or incomplete`)
  if (!top.some((box) => box.type === 'mdat')) throw new TruncatedAudioError(`${name}: the MP4 file has no mdat box`)
  const track = boxes(bytes, moov.body, moov.end, name)
    .filter((box) => box.type === 'trak')
    .find((trak) => {
      const hdlr = child(bytes, trak, ['mdia', 'hdlr'], name)
      return hdlr != null && ascii(bytes, hdlr.body + 8, 4) === 'soun'
    })
  if (track == null) throw new UnsupportedAudioError(`${name}: the MP4 file has no sound track`)
  const mdhd = child(bytes, track, ['mdia', 'mdhd'], name)
  const stbl = child(bytes, track, ['mdia', 'minf', 'stbl'], name)
  if (mdhd == null || stbl == null) throw new CorruptAudioError(`${name}: the sound track lacks mdhd or stbl`)
  const timescale = bytes[mdhd.body] === 1 ? u32be(bytes, mdhd.body + 20) : u32be(bytes, mdhd.body + 12)
  if (timescale === 0) throw new CorruptAudioError(`${name}: the sound track's timescale is 0`)

  const stsd = child(bytes, stbl, ['stsd'], name)
  const entry = stsd == null ? undefined : boxes(bytes, stsd.body + 8, stsd.end, name)[0]
  if (entry == null || entry.type !== 'mp4a') {
    throw new UnsupportedAudioError(`${name}: the sound track is ${entry?.type ?? 'undescribed'}, not AAC (mp4a)`)
  }
  const channels = u16be(bytes, entry.body + 16)
  const esds = boxes(bytes, entry.body + 28, entry.end, name).find((box) => box.type === 'esds')
  if (esds == null) throw new CorruptAudioError(`${name}: the mp4a entry has no esds box`)
  const config = audioConfig(bytes, esds, name)

  const sizes = sampleSizes(bytes, stbl, name)
  const offsets = sampleOffsets(bytes, stbl, sizes, name)
  const times = sampleTimes(bytes, stbl, sizes.length, name)
  for (let i = 0; i < sizes.length; i++) {
    if (offsets[i]! + sizes[i]! > bytes.length) {
      throw new TruncatedAudioError(`${name}: AAC frame ${i} lies past the end of the file: it is cut off`)
    }
  }
  const totalSamples = times.length === 0 ? 0 : times[times.length - 1]!.end
  return {
    format: 'mp4',
    codec: 'aac',
    mime: 'audio/mp4',
    sampleRate: timescale,
    channels,
    totalSamples,
    cut(startSample, endSample) {
      if (
        config.profile < 0 ||
        config.profile > 3 ||
        config.rateIndex >= AAC_SAMPLE_RATES.length ||
        config.channels === 0
      ) {
        throw new PreviewCutError(`${name}: this AAC configuration cannot be carried in ADTS for a clip`)
      }
      const parts: Uint8Array[] = []
      let first = -1
      let last = -1
      for (let i = 0; i < sizes.length; i++) {
        const t = times[i]!
        if (t.end <= startSample || t.start >= endSample) continue
        if (first < 0) first = i
        last = i
        parts.push(adtsHeader(config.profile, config.rateIndex, config.channels, sizes[i]!))
        parts.push(bytes.subarray(offsets[i]!, offsets[i]! + sizes[i]!))
      }
      if (first < 0) throw new PreviewCutError(`${name}: no AAC frame in samples ${startSample}-${endSample}`)
      return {
        bytes: concatBytes(parts),
        codec: 'aac',
        mime: 'audio/aac',
        startSample: times[first]!.start,
        samples: times[last]!.end - times[first]!.start,
      }
    },
  }
}

function sampleSizes(b: Uint8Array, stbl: Box, name: string): number[] {
  const stsz = child(b, stbl, ['stsz'], name)
  if (stsz == null) throw new CorruptAudioError(`${name}: the sample table has no stsz`)
  const fixed = u32be(b, stsz.body + 4)
  const count = u32be(b, stsz.body + 8)
  if (count > MAX_MP4_SAMPLES)
    throw new UnsupportedAudioError(`${name}: ${count} samples, more than ${MAX_MP4_SAMPLES}`)
  if (fixed === 0 && stsz.body + 12 + 4 * count > stsz.end) throw new CorruptAudioError(`${name}: stsz is short`)
  const sizes: number[] = []
  for (let i = 0; i < count; i++) sizes.push(fixed !== 0 ? fixed : u32be(b, stsz.body + 12 + 4 * i))
  return sizes
}

function sampleOffsets(b: Uint8Array, stbl: Box, sizes: number[], name: string): number[] {
  const count = sizes.length
  const stco = child(b, stbl, ['stco'], name)
  const co64 = stco == null ? child(b, stbl, ['co64'], name) : undefined
  const table = stco ?? co64
  const stsc = child(b, stbl, ['stsc'], name)
  if (table == null || stsc == null) throw new CorruptAudioError(`${name}: the sample table has no chunk offsets`)
  const chunkCount = u32be(b, table.body + 4)
  const width = stco != null ? 4 : 8
  if (table.body + 8 + width * chunkCount > table.end) throw new CorruptAudioError(`${name}: the chunk table is short`)
  const runs = u32be(b, stsc.body + 4)
  if (stsc.body + 8 + 12 * runs > stsc.end) throw new CorruptAudioError(`${name}: stsc is short`)
  const offsets: number[] = []
  for (let r = 0; r < runs && offsets.length < count; r++) {
    const firstChunk = u32be(b, stsc.body + 8 + 12 * r)
    const perChunk = u32be(b, stsc.body + 12 + 12 * r)
    const nextFirst = r + 1 < runs ? u32be(b, stsc.body + 8 + 12 * (r + 1)) : chunkCount + 1
    for (let c = firstChunk; c < nextFirst && offsets.length < count; c++) {
      if (c < 1 || c > chunkCount) throw new CorruptAudioError(`${name}: stsc names chunk ${c} of ${chunkCount}`)
      let at = width === 4 ? u32be(b, table.body + 8 + 4 * (c - 1)) : u64be(b, table.body + 8 + 8 * (c - 1))
      for (let s = 0; s < perChunk && offsets.length < count; s++) {
        offsets.push(at)
        at += sizes[offsets.length - 1]!
      }
    }
  }
  if (offsets.length !== count)
    throw new CorruptAudioError(`${name}: the chunks hold ${offsets.length} of ${count} samples`)
  return offsets
}

function sampleTimes(b: Uint8Array, stbl: Box, count: number, name: string): Array<{ start: number; end: number }> {
  const stts = child(b, stbl, ['stts'], name)
  if (stts == null) throw new CorruptAudioError(`${name}: the sample table has no stts`)
  const runs = u32be(b, stts.body + 4)
  if (stts.body + 8 + 8 * runs > stts.end) throw new CorruptAudioError(`${name}: stts is short`)
  const times: Array<{ start: number; end: number }> = []
  let t = 0
  for (let r = 0; r < runs && times.length < count; r++) {
    const n = u32be(b, stts.body + 8 + 8 * r)
    const delta = u32be(b, stts.body + 12 + 8 * r)
    for (let i = 0; i < n && times.length < count; i++) {
      times.push({ start: t, end: t + delta })
      t += delta
    }
  }
  if (times.length !== count) throw new CorruptAudioError(`${name}: stts covers ${times.length} of ${count} samples`)
  return times
}
