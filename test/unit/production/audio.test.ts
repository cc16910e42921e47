import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseBuffer } from 'music-metadata'
import {
  cutClip,
  detectAudioFormat,
  MAX_SYNTH_MS,
  probeAudio,
  scanAudio,
  synthesizeWav,
} from '../../../roles/production/audio/index.ts'
import { fixturePath } from '../../fixtures.ts'
import { makeAdts, makeM4a, makeMp3, makeOggOpus } from './audio-samples.ts'

const flac = new Uint8Array(readFileSync(fixturePath('audio', 'sample-84k.flac')))

/** Parse a clip with music-metadata as a player's library would: it must be audio of its own. */
async function playable(bytes: Uint8Array, mime: string) {
  const metadata = await parseBuffer(bytes, { mimeType: mime, size: bytes.length }, { duration: true })
  assert.ok(metadata.format.duration != null && metadata.format.duration > 0, 'the clip has a duration')
  return metadata.format
}

const SAMPLES: Array<{ name: string; bytes: Uint8Array; format: string; codec: string; durationMs: number }> = [
  { name: 'FLAC (the real fixture)', bytes: flac, format: 'flac', codec: 'flac', durationMs: 1000 },
  { name: 'WAV (synthesized)', bytes: synthesizeWav(5_000), format: 'wav', codec: 'wav', durationMs: 5000 },
  {
    name: 'MP3 with ID3 tags and an Info frame',
    bytes: makeMp3(400, { id3: true, infoFrame: true }),
    format: 'mp3',
    codec: 'mp3',
    durationMs: 10449,
  },
  { name: 'AAC in ADTS', bytes: makeAdts(300), format: 'adts', codec: 'aac', durationMs: 6966 },
  { name: 'AAC in M4A', bytes: makeM4a(300), format: 'mp4', codec: 'aac', durationMs: 6966 },
  { name: 'Ogg Opus', bytes: makeOggOpus(10), format: 'ogg', codec: 'opus', durationMs: 10000 },
]

describe('production audio: detection, checks, clips', () => {
  for (const sample of SAMPLES) {
    describe(sample.name, () => {
      it('is detected by content and probed with music-metadata', async () => {
        assert.equal(detectAudioFormat(sample.bytes), sample.format)
        const probe = await probeAudio(sample.bytes, sample.name)
        assert.equal(probe.format, sample.format)
        assert.equal(probe.codec, sample.codec)
        assert.equal(probe.durationMs, sample.durationMs)
        assert.equal(probe.byteSize, sample.bytes.length)
      })

      it('is refused when cut off, with an error that says so', () => {
        // Off frame boundaries: a raw MP3 or ADTS stream cut exactly between two frames looks like a shorter
        // recording; the import catches that by the duration the delivery states (see the next tests for FLAC).
        for (const length of [sample.bytes.length - 1, Math.floor(sample.bytes.length * 0.6) + 3, 40]) {
          assert.throws(
            () => scanAudio(sample.bytes.subarray(0, length), 'cut.bin'),
            (err: Error) =>
              ['TruncatedAudioError', 'CorruptAudioError', 'UnsupportedAudioError'].includes(err.name) &&
              err.message.startsWith('cut.bin: '),
            `${length} of ${sample.bytes.length} bytes`,
          )
        }
      })

      it('gives a clip that plays on its own and covers the asked range', async () => {
        const scanned = scanAudio(sample.bytes)
        const start = Math.floor(sample.durationMs * 0.3)
        const length = Math.floor(sample.durationMs * 0.4)
        const clip = cutClip(scanned, start, length)
        assert.ok(clip.startMs <= start, 'starts at or before the asked start')
        assert.ok(clip.startMs + clip.durationMs >= start + length - 1, 'ends at or after the asked end')
        assert.ok(clip.durationMs < sample.durationMs * 0.6, 'holds little more than asked')
        const format = await playable(clip.bytes, clip.mime)
        assert.ok(
          Math.abs(format.duration! * 1000 - clip.durationMs) < 50,
          `clip plays ${format.duration} s, says ${clip.durationMs} ms`,
        )
        // The clip is itself a whole, valid file of its format.
        const again = scanAudio(clip.bytes, 'clip')
        assert.equal(again.codec, clip.codec)
      })
    })
  }

  it('refuses a FLAC file cut exactly at a frame boundary, by STREAMINFO’s sample count', () => {
    const scanned = scanAudio(flac)
    // Clips are renumbered from frame 0, so a shorter clip is a byte prefix of a longer one (but its STREAMINFO).
    const longer = cutClip(scanned, 0, 1000)
    const shorter = cutClip(scanned, 0, 400)
    assert.ok(shorter.samples < longer.samples)
    assert.deepEqual(longer.bytes.subarray(42, shorter.bytes.length), shorter.bytes.subarray(42))
    const cutOnBoundary = longer.bytes.subarray(0, shorter.bytes.length)
    assert.throws(() => scanAudio(cutOnBoundary), {
      name: 'TruncatedAudioError',
      message: new RegExp(`the frames hold ${shorter.samples} samples, STREAMINFO announces ${longer.samples}`),
    })
  })

  it('refuses a FLAC frame whose bytes were altered (CRC-16)', () => {
    const altered = flac.slice()
    altered[40_000] = altered[40_000]! ^ 0x55
    assert.throws(() => scanAudio(altered), { name: 'CorruptAudioError' })
  })

  it('refuses an MP3 whose Info frame announces more frames than it holds', () => {
    const full = makeMp3(100, { infoFrame: true })
    const cut = full.subarray(0, 417 * 60)
    assert.throws(() => scanAudio(cut), /announces 100 frames, the file holds 59/)
  })

  it('refuses what is not audio, and says which formats it reads', () => {
    assert.throws(() => scanAudio(new TextEncoder().encode('%PDF-1.7 not audio at all'), 'doc.pdf'), {
      name: 'UnsupportedAudioError',
      message: /doc\.pdf: not FLAC, WAV, MP3, AAC \(ADTS or MP4\/M4A\) or Ogg Vorbis\/Opus audio/,
    })
    assert.throws(() => scanAudio(new Uint8Array(0), 'empty.wav'), /empty\.wav: the file is empty/)
  })

  it('detects by content, not by name: a FLAC stream behind an ID3v2 tag is FLAC', async () => {
    const tag = Uint8Array.of(0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4)
    const tagged = new Uint8Array(tag.length + flac.length)
    tagged.set(tag)
    tagged.set(flac, tag.length)
    assert.equal(detectAudioFormat(tagged), 'flac')
    assert.equal((await probeAudio(tagged)).durationMs, 1000)
  })

  it('synthesizes real WAV audio of the stated duration, and refuses impossible durations', async () => {
    const wav = synthesizeWav(2_500, { frequencyHz: 330 })
    const format = await playable(wav, 'audio/wav')
    assert.equal(format.duration, 2.5)
    assert.equal(format.sampleRate, 8000)
    // A tone, not silence: the samples swing.
    const pcm = new Int16Array(wav.buffer, wav.byteOffset + 44, (wav.length - 44) / 2)
    assert.ok(Math.max(...pcm.subarray(1000, 2000)) > 5000)
    assert.throws(() => synthesizeWav(0), { name: 'SynthesisError' })
    assert.throws(() => synthesizeWav(MAX_SYNTH_MS + 1), { name: 'SynthesisError' })
  })

  it('refuses a clip outside the recording', () => {
    assert.throws(() => cutClip(scanAudio(flac), 5_000, 1_000), { name: 'PreviewCutError' })
  })
})
