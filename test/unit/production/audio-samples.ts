import { crc32Ogg } from '../../../roles/production/audio/crc.ts'

/**
 * Small, structurally valid audio files of the formats no fixture covers, built byte by byte: silent MP3 frames,
 * ADTS and MP4 AAC frames, Ogg Opus pages. They are what a parser sees of a real file (headers, frame and page
 * structure, sample tables, checksums); the payloads are silence or filler.
 */

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0))
const u16 = (v: number) => Uint8Array.of(v >> 8, v & 0xff)
const u32 = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff)
const u32le = (v: number) => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24)

/** MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono: `frames` silent frames, optionally an Info frame and ID3 tags. */
export function makeMp3(frames: number, options: { infoFrame?: boolean; id3?: boolean } = {}): Uint8Array {
  const frame = (fill = 0) => {
    const f = new Uint8Array(417).fill(fill)
    f.set([0xff, 0xfb, 0x90, 0xc4], 0)
    f.fill(0, 4, 4 + 17) // side info: main_data_begin 0, no bits: silence
    return f
  }
  const parts: Uint8Array[] = []
  if (options.id3 === true) {
    const body = concat([ascii('TIT2'), u32(6), u16(0), Uint8Array.of(0), ascii('Hello')])
    parts.push(concat([ascii('ID3'), Uint8Array.of(3, 0, 0, 0, 0, 0, body.length), body]))
  }
  if (options.infoFrame === true) {
    const info = frame()
    info.set(ascii('Info'), 4 + 17)
    info.set(u32(3), 4 + 17 + 4) // flags: frames and bytes fields present
    info.set(u32(frames), 4 + 17 + 8)
    info.set(u32(frames * 417), 4 + 17 + 12)
    parts.push(info)
  }
  for (let i = 0; i < frames; i++) parts.push(frame())
  if (options.id3 === true) {
    const v1 = new Uint8Array(128)
    v1.set(ascii('TAGHello'), 0)
    parts.push(v1)
  }
  return concat(parts)
}

/** One filler raw AAC frame of `bytes` bytes. */
const aacFrame = (bytes: number) => new Uint8Array(bytes).fill(0x21)

/** ADTS AAC-LC, 44.1 kHz, stereo: `frames` frames of 1024 samples. */
export function makeAdts(frames: number): Uint8Array {
  const parts: Uint8Array[] = []
  for (let i = 0; i < frames; i++) {
    const length = 7 + 200
    parts.push(
      Uint8Array.of(
        0xff,
        0xf1,
        (1 << 6) | (4 << 2),
        (2 << 6) | (length >> 11),
        (length >> 3) & 0xff,
        ((length & 7) << 5) | 0x1f,
        0xfc,
      ),
      aacFrame(200),
    )
  }
  return concat(parts)
}

const box = (type: string, ...children: Uint8Array[]) => {
  const body = concat(children)
  return concat([u32(8 + body.length), ascii(type), body])
}
const full = (type: string, version: number, flags: number, ...children: Uint8Array[]) =>
  box(type, Uint8Array.of(version, flags >> 16, (flags >> 8) & 0xff, flags & 0xff), ...children)

/** AAC-LC in an M4A file (ftyp, moov with one sound track, mdat), 44.1 kHz stereo, `frames` frames of 1024. */
export function makeM4a(frames: number): Uint8Array {
  const rate = 44100
  const sizes = Array.from({ length: frames }, (_, i) => 180 + (i % 7))
  const mdatBody = concat(sizes.map((n) => aacFrame(n)))
  const duration = frames * 1024
  const esds = full(
    'esds',
    0,
    0,
    Uint8Array.of(0x03, 25, 0, 0, 0),
    Uint8Array.of(0x04, 17, 0x40, 0x15, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0),
    Uint8Array.of(0x05, 2, 0x12, 0x10),
    Uint8Array.of(0x06, 1, 2),
  )
  const mp4a = box(
    'mp4a',
    new Uint8Array(6),
    u16(1),
    new Uint8Array(8),
    u16(2),
    u16(16),
    new Uint8Array(4),
    u32(rate * 65536),
    esds,
  )
  const stbl = (chunkOffset: number) =>
    box(
      'stbl',
      full('stsd', 0, 0, u32(1), mp4a),
      full('stts', 0, 0, u32(1), u32(frames), u32(1024)),
      full('stsc', 0, 0, u32(1), u32(1), u32(frames), u32(1)),
      full('stsz', 0, 0, u32(0), u32(frames), ...sizes.map(u32)),
      full('stco', 0, 0, u32(1), u32(chunkOffset)),
    )
  const moov = (chunkOffset: number) =>
    box(
      'moov',
      full(
        'mvhd',
        0,
        0,
        new Uint8Array(8),
        u32(rate),
        u32(duration),
        u32(0x10000),
        u16(0x100),
        new Uint8Array(10),
        new Uint8Array(36),
        new Uint8Array(24),
        u32(2),
      ),
      box(
        'trak',
        full(
          'tkhd',
          0,
          7,
          new Uint8Array(8),
          u32(1),
          new Uint8Array(4),
          u32(duration),
          new Uint8Array(8),
          new Uint8Array(4),
          u16(0x100),
          new Uint8Array(2),
          new Uint8Array(36),
          new Uint8Array(8),
        ),
        box(
          'mdia',
          full('mdhd', 0, 0, new Uint8Array(8), u32(rate), u32(duration), u16(0x55c4), u16(0)),
          full('hdlr', 0, 0, u32(0), ascii('soun'), new Uint8Array(12), ascii('SoundHandler\0')),
          box(
            'minf',
            full('smhd', 0, 0, new Uint8Array(4)),
            box('dinf', full('dref', 0, 0, u32(1), full('url ', 0, 1))),
            stbl(chunkOffset),
          ),
        ),
      ),
    )
  const ftyp = box('ftyp', ascii('M4A '), u32(0), ascii('M4A isomiso2'))
  const probe = moov(0)
  const offset = ftyp.length + probe.length + 8
  return concat([ftyp, moov(offset), box('mdat', mdatBody)])
}

function oggPage(flags: number, granule: number, sequence: number, packets: Uint8Array[], open = false): Uint8Array {
  const lacing: number[] = []
  packets.forEach((p, i) => {
    let n = p.length
    while (n >= 255) {
      lacing.push(255)
      n -= 255
    }
    if (!(open && i === packets.length - 1)) lacing.push(n)
  })
  const header = new Uint8Array(27 + lacing.length)
  header.set(ascii('OggS'), 0)
  header[5] = flags
  const low = granule % 2 ** 32
  const high = Math.floor(granule / 2 ** 32)
  header.set(u32le(low), 6)
  header.set(u32le(high), 10)
  header.set(u32le(0x1234), 14)
  header.set(u32le(sequence), 18)
  header[26] = lacing.length
  header.set(lacing, 27)
  const page = concat([header, ...packets])
  page.set(u32le(crc32Ogg(page)), 22)
  return page
}

/** Ogg Opus, stereo, pre-skip 312: `seconds` pages of fifty 20 ms (one-byte, silent) packets each. */
export function makeOggOpus(seconds: number): Uint8Array {
  const preSkip = 312
  const head = concat([
    ascii('OpusHead'),
    Uint8Array.of(1, 2),
    Uint8Array.of(preSkip & 0xff, preSkip >> 8),
    u32le(48000),
    Uint8Array.of(0, 0, 0),
  ])
  const vendor = 'consort-test'
  const tags = concat([ascii('OpusTags'), u32le(vendor.length), ascii(vendor), u32le(0)])
  const pages = [oggPage(0x02, 0, 0, [head]), oggPage(0, 0, 1, [tags])]
  for (let s = 0; s < seconds; s++) {
    const packets = Array.from({ length: 50 }, () => Uint8Array.of(0xfc))
    pages.push(oggPage(s === seconds - 1 ? 0x04 : 0, preSkip + (s + 1) * 48000, s + 2, packets))
  }
  return concat(pages)
}
