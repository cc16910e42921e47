import { concatBytes, startsWithAscii, u16be, u24be, u32be } from './bytes.ts'
import { crc8, crc16 } from './crc.ts'
import { CorruptAudioError, PreviewCutError, TruncatedAudioError, UnsupportedAudioError } from './errors.ts'
import { skipId3v2 } from './tags.ts'
import type { ScannedAudio } from './types.ts'

/** Bytes of the STREAMINFO block body. */
const STREAMINFO_BYTES = 34
/** Smallest possible frame: a header of 6 bytes, one constant subframe of 2, the CRC-16. */
const MIN_FRAME_BYTES = 10

interface Frame {
  offset: number
  length: number
  /** Bytes of the header before its CRC-8, and where the coded frame/sample number sits in it. */
  headerLength: number
  numberLength: number
  firstSample: number
  samples: number
}

interface FrameHeader {
  headerLength: number
  numberLength: number
  number: number
  blockSize: number
  variable: boolean
}

interface StreamInfo {
  offset: number
  sampleRate: number
  channels: number
  bitsPerSample: number
  totalSamples: number
}

const BITS_BY_CODE = [0, 8, 12, -1, 16, 20, 24, 32]

function readUtf8Number(b: Uint8Array, at: number): { value: number; length: number } | null {
  const first = b[at]
  if (first === undefined) return null
  let length: number
  let value: number
  if (first < 0x80) return { value: first, length: 1 }
  if ((first & 0xe0) === 0xc0) [length, value] = [2, first & 0x1f]
  else if ((first & 0xf0) === 0xe0) [length, value] = [3, first & 0x0f]
  else if ((first & 0xf8) === 0xf0) [length, value] = [4, first & 0x07]
  else if ((first & 0xfc) === 0xf8) [length, value] = [5, first & 0x03]
  else if ((first & 0xfe) === 0xfc) [length, value] = [6, first & 0x01]
  else if (first === 0xfe) [length, value] = [7, 0]
  else return null
  for (let i = 1; i < length; i++) {
    const c = b[at + i]
    if (c === undefined || (c & 0xc0) !== 0x80) return null
    value = value * 64 + (c & 0x3f)
  }
  return { value, length }
}

function writeUtf8Number(value: number): Uint8Array {
  if (value < 0x80) return Uint8Array.of(value)
  const limits = [0x800, 0x10000, 0x200000, 0x4000000, 0x80000000, 2 ** 36]
  const length = limits.findIndex((limit) => value < limit) + 2
  if (length < 2) throw new RangeError(`FLAC frame number ${value} too large`)
  const out = new Uint8Array(length)
  let v = value
  for (let i = length - 1; i > 0; i--) {
    out[i] = 0x80 | (v % 64)
    v = Math.floor(v / 64)
  }
  out[0] = length === 7 ? 0xfe : ((0xff00 >> length) & 0xff) | v
  return out
}

/** Parse and check a frame header at `at`; null when the bytes there are not one that fits this stream. */
function readFrameHeader(b: Uint8Array, at: number, info: StreamInfo): FrameHeader | null {
  if (at + 6 > b.length || b[at] !== 0xff || (b[at + 1]! & 0xfe) !== 0xf8) return null
  const variable = (b[at + 1]! & 1) === 1
  const blockCode = b[at + 2]! >> 4
  const rateCode = b[at + 2]! & 0x0f
  const channelCode = b[at + 3]! >> 4
  const sizeCode = (b[at + 3]! >> 1) & 7
  if (blockCode === 0 || rateCode === 15 || channelCode > 10 || (b[at + 3]! & 1) !== 0) return null
  const channels = channelCode < 8 ? channelCode + 1 : 2
  if (channels !== info.channels) return null
  const bits = BITS_BY_CODE[sizeCode]!
  if (bits < 0 || (bits !== 0 && bits !== info.bitsPerSample)) return null
  const number = readUtf8Number(b, at + 4)
  if (number == null) return null
  let pos = at + 4 + number.length
  let blockSize: number
  if (blockCode === 1) blockSize = 192
  else if (blockCode <= 5) blockSize = 576 << (blockCode - 2)
  else if (blockCode === 6) blockSize = (b[pos++] ?? -1) + 1
  else if (blockCode === 7) {
    blockSize = pos + 1 < b.length ? u16be(b, pos) + 1 : 0
    pos += 2
  } else blockSize = 256 << (blockCode - 8)
  if (rateCode === 12) pos += 1
  else if (rateCode === 13 || rateCode === 14) pos += 2
  if (pos >= b.length || blockSize <= 0) return null
  if (crc8(b, at, pos) !== b[pos]) return null
  return { headerLength: pos - at, numberLength: number.length, number: number.value, blockSize, variable }
}

function readStreamInfo(b: Uint8Array, at: number, name: string): { info: StreamInfo; audioStart: number } {
  let pos = at + 4
  let info: StreamInfo | undefined
  for (;;) {
    if (pos + 4 > b.length) throw new TruncatedAudioError(`${name}: the FLAC metadata is cut off`)
    const last = (b[pos]! & 0x80) !== 0
    const type = b[pos]! & 0x7f
    const length = u24be(b, pos + 1)
    const body = pos + 4
    if (body + length > b.length) throw new TruncatedAudioError(`${name}: FLAC metadata block ${type} is cut off`)
    if (type === 127) throw new CorruptAudioError(`${name}: invalid FLAC metadata block type 127`)
    if (info == null) {
      if (type !== 0 || length !== STREAMINFO_BYTES) {
        throw new CorruptAudioError(`${name}: the first FLAC metadata block is not STREAMINFO`)
      }
      info = {
        offset: body,
        sampleRate: (b[body + 10]! << 12) | (b[body + 11]! << 4) | (b[body + 12]! >> 4),
        channels: ((b[body + 12]! >> 1) & 7) + 1,
        bitsPerSample: (((b[body + 12]! & 1) << 4) | (b[body + 13]! >> 4)) + 1,
        totalSamples: (b[body + 13]! & 0x0f) * 2 ** 32 + u32be(b, body + 14),
      }
      if (info.sampleRate === 0) throw new CorruptAudioError(`${name}: STREAMINFO gives a sample rate of 0`)
    }
    pos = body + length
    if (last) return { info, audioStart: pos }
  }
}

/**
 * FLAC: STREAMINFO, then frames found by their sync code and checked by header CRC-8, consecutive numbering and
 * whole-frame CRC-16, so a file cut anywhere (even on a frame boundary, by STREAMINFO's sample count) is refused.
 * A clip is STREAMINFO alone (sample count set, MD5 and frame sizes unknown) and whole frames renumbered from 0.
 */
export function scanFlac(bytes: Uint8Array, name: string): ScannedAudio {
  // Some tools put an ID3v2 tag before the stream; it is not part of it.
  const streamStart = skipId3v2(bytes, name)
  if (!startsWithAscii(bytes, 'fLaC', streamStart)) throw new UnsupportedAudioError(`${name}: not a FLAC stream`)
  const { info, audioStart } = readStreamInfo(bytes, streamStart, name)
  // An ID3v1 tag some tools append is not part of the stream.
  const end =
    bytes.length >= 128 && startsWithAscii(bytes, 'TAG', bytes.length - 128) ? bytes.length - 128 : bytes.length
  if (audioStart >= end) throw new TruncatedAudioError(`${name}: no audio frames after the FLAC metadata`)

  const frames: Frame[] = []
  let header = readFrameHeader(bytes, audioStart, info)
  if (header == null) throw new CorruptAudioError(`${name}: no FLAC frame where the metadata ends (${audioStart})`)
  let offset = audioStart
  let sample = 0
  const variable = header.variable
  while (header != null) {
    const expected = variable ? sample + header.blockSize : frames.length + 1
    let next = -1
    let nextHeader: FrameHeader | null = null
    for (
      let at = bytes.indexOf(0xff, offset + MIN_FRAME_BYTES);
      at >= 0 && at < end;
      at = bytes.indexOf(0xff, at + 1)
    ) {
      const candidate = readFrameHeader(bytes, at, info)
      if (candidate != null && candidate.variable === variable && candidate.number === expected) {
        next = at
        nextHeader = candidate
        break
      }
    }
    const frameEnd = next < 0 ? end : next
    const length = frameEnd - offset
    if (length < MIN_FRAME_BYTES || crc16(bytes, offset, frameEnd - 2) !== u16be(bytes, frameEnd - 2)) {
      if (next < 0) throw new TruncatedAudioError(`${name}: the last FLAC frame (at ${offset}) is cut off`)
      throw new CorruptAudioError(`${name}: FLAC frame ${frames.length} (at ${offset}) fails its CRC-16`)
    }
    frames.push({
      offset,
      length,
      headerLength: header.headerLength,
      numberLength: header.numberLength,
      firstSample: sample,
      samples: header.blockSize,
    })
    sample += header.blockSize
    offset = frameEnd
    header = nextHeader
  }
  if (info.totalSamples !== 0 && sample < info.totalSamples) {
    throw new TruncatedAudioError(
      `${name}: the frames hold ${sample} samples, STREAMINFO announces ${info.totalSamples}: the file is cut off`,
    )
  }
  if (info.totalSamples !== 0 && sample > info.totalSamples) {
    throw new CorruptAudioError(
      `${name}: the frames hold ${sample} samples, more than STREAMINFO's ${info.totalSamples}`,
    )
  }

  return {
    format: 'flac',
    codec: 'flac',
    mime: 'audio/flac',
    sampleRate: info.sampleRate,
    channels: info.channels,
    totalSamples: sample,
    cut(startSample, endSample) {
      const chosen = frames.filter((f) => f.firstSample + f.samples > startSample && f.firstSample < endSample)
      if (chosen.length === 0)
        throw new PreviewCutError(`${name}: no FLAC frame in samples ${startSample}-${endSample}`)
      const samples = chosen.reduce((sum, f) => sum + f.samples, 0)
      const streamInfo = bytes.slice(info.offset, info.offset + STREAMINFO_BYTES)
      streamInfo.fill(0, 4, 10) // minimum and maximum frame size: unknown
      streamInfo[13] = (streamInfo[13]! & 0xf0) | Math.floor(samples / 2 ** 32)
      streamInfo[14] = (samples >>> 24) & 0xff
      streamInfo[15] = (samples >>> 16) & 0xff
      streamInfo[16] = (samples >>> 8) & 0xff
      streamInfo[17] = samples & 0xff
      streamInfo.fill(0, 18, 34) // MD5 of the whole stream: unknown for the clip
      const head = Uint8Array.of(0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, STREAMINFO_BYTES)
      let renumbered = 0
      const parts = chosen.map((f, i) => {
        const number = writeUtf8Number(variable ? renumbered : i)
        renumbered += f.samples
        return rewriteFrame(bytes, f, number)
      })
      return {
        bytes: concatBytes([head, streamInfo, ...parts]),
        codec: 'flac',
        mime: 'audio/flac',
        startSample: chosen[0]!.firstSample,
        samples,
      }
    },
  }
}

/** The frame with a new coded number, its header CRC-8 and frame CRC-16 recomputed. */
function rewriteFrame(bytes: Uint8Array, frame: Frame, number: Uint8Array): Uint8Array {
  const afterNumber = frame.offset + 4 + frame.numberLength
  const headerEnd = frame.offset + frame.headerLength
  const bodyEnd = frame.offset + frame.length - 2
  const out = new Uint8Array(frame.length - frame.numberLength + number.length)
  out.set(bytes.subarray(frame.offset, frame.offset + 4), 0)
  out.set(number, 4)
  out.set(bytes.subarray(afterNumber, headerEnd), 4 + number.length)
  const crcAt = 4 + number.length + (headerEnd - afterNumber)
  out[crcAt] = crc8(out, 0, crcAt)
  out.set(bytes.subarray(headerEnd + 1, bodyEnd), crcAt + 1)
  const crc = crc16(out, 0, out.length - 2)
  out[out.length - 2] = crc >> 8
  out[out.length - 1] = crc & 0xff
  return out
}
