import { ascii, concatBytes, startsWithAscii, u16le, u32le, writeAscii, writeU32le } from './bytes.ts'
import { CorruptAudioError, TruncatedAudioError, UnsupportedAudioError } from './errors.ts'
import type { ScannedAudio } from './types.ts'

/** WAVE format tags whose samples are plain blocks that can be cut anywhere on a block boundary. */
const PCM = 0x0001
const IEEE_FLOAT = 0x0003
const EXTENSIBLE = 0xfffe

/**
 * RIFF/WAVE with PCM or IEEE float samples. The data chunk must be complete; a clip is a fresh RIFF header, the
 * original `fmt ` chunk and the sample range, so any other chunk (LIST/INFO tags, cue points) stays out of it.
 */
export function scanWav(bytes: Uint8Array, name: string): ScannedAudio {
  if (!startsWithAscii(bytes, 'RIFF') || !startsWithAscii(bytes, 'WAVE', 8)) {
    throw new UnsupportedAudioError(`${name}: not a RIFF/WAVE file`)
  }
  let fmt: Uint8Array | undefined
  let dataStart = -1
  let dataLength = 0
  let pos = 12
  while (pos + 8 <= bytes.length) {
    const id = ascii(bytes, pos, 4)
    const size = u32le(bytes, pos + 4)
    const body = pos + 8
    if (id === 'data') {
      if (body + size > bytes.length) {
        throw new TruncatedAudioError(
          `${name}: the data chunk declares ${size} bytes but only ${bytes.length - body} follow: the file is cut off`,
        )
      }
      dataStart = body
      dataLength = size
    } else if (body + size > bytes.length) {
      throw new TruncatedAudioError(`${name}: the ${JSON.stringify(id)} chunk is cut off`)
    } else if (id === 'fmt ') {
      fmt = bytes.subarray(body, body + size)
    }
    pos = body + size + (size % 2)
  }
  // The RIFF size may count a final pad byte that some writers leave out: one byte short is tolerated.
  if (u32le(bytes, 4) + 8 > bytes.length + 1) {
    throw new TruncatedAudioError(
      `${name}: the RIFF header declares ${u32le(bytes, 4) + 8} bytes, the file has ${bytes.length}: it is cut off`,
    )
  }
  if (fmt == null || fmt.length < 16) throw new CorruptAudioError(`${name}: no valid fmt chunk`)
  if (dataStart < 0) throw new TruncatedAudioError(`${name}: no data chunk: the file is cut off or empty`)
  let tag = u16le(fmt, 0)
  if (tag === EXTENSIBLE && fmt.length >= 26) tag = u16le(fmt, 24)
  if (tag !== PCM && tag !== IEEE_FLOAT) {
    throw new UnsupportedAudioError(`${name}: WAVE format 0x${tag.toString(16)} is not supported (only PCM and float)`)
  }
  const channels = u16le(fmt, 2)
  const sampleRate = u32le(fmt, 4)
  const blockAlign = u16le(fmt, 12)
  const bits = u16le(fmt, 14)
  if (channels === 0 || sampleRate === 0 || blockAlign === 0 || blockAlign !== channels * Math.ceil(bits / 8)) {
    throw new CorruptAudioError(
      `${name}: impossible fmt values (channels ${channels}, rate ${sampleRate}, block ${blockAlign}, bits ${bits})`,
    )
  }
  if (dataLength === 0) throw new CorruptAudioError(`${name}: the data chunk holds no samples`)
  if (dataLength % blockAlign !== 0) {
    throw new TruncatedAudioError(`${name}: the data chunk ends inside a sample frame: the file is cut off`)
  }
  const totalSamples = dataLength / blockAlign
  const format = fmt
  return {
    format: 'wav',
    codec: 'wav',
    mime: 'audio/wav',
    sampleRate,
    channels,
    totalSamples,
    cut(startSample, endSample) {
      const from = Math.max(0, Math.min(totalSamples, Math.floor(startSample)))
      const to = Math.max(from, Math.min(totalSamples, Math.ceil(endSample)))
      const pcm = bytes.subarray(dataStart + from * blockAlign, dataStart + to * blockAlign)
      return {
        bytes: wavFile(format, pcm),
        codec: 'wav',
        mime: 'audio/wav',
        startSample: from,
        samples: to - from,
      }
    },
  }
}

/** A RIFF/WAVE file of one `fmt ` chunk (as given) and one data chunk. */
export function wavFile(fmt: Uint8Array, pcm: Uint8Array): Uint8Array {
  const fmtPadded = fmt.length + (fmt.length % 2)
  const header = new Uint8Array(12 + 8 + fmtPadded + 8)
  writeAscii(header, 0, 'RIFF')
  writeU32le(header, 4, header.length - 8 + pcm.length + (pcm.length % 2))
  writeAscii(header, 8, 'WAVE')
  writeAscii(header, 12, 'fmt ')
  writeU32le(header, 16, fmt.length)
  header.set(fmt, 20)
  writeAscii(header, 20 + fmtPadded, 'data')
  writeU32le(header, 24 + fmtPadded, pcm.length)
  return concatBytes(pcm.length % 2 === 1 ? [header, pcm, new Uint8Array(1)] : [header, pcm])
}

/** The 16-byte `fmt ` chunk of integer PCM. */
export function pcmFormatChunk(channels: number, sampleRate: number, bitsPerSample: number): Uint8Array {
  const fmt = new Uint8Array(16)
  const blockAlign = channels * Math.ceil(bitsPerSample / 8)
  fmt[0] = PCM
  fmt[2] = channels
  writeU32le(fmt, 4, sampleRate)
  writeU32le(fmt, 8, sampleRate * blockAlign)
  fmt[12] = blockAlign
  fmt[14] = bitsPerSample
  return fmt
}
