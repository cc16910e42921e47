import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { decodeNoiseFramesQuietly } from '../../../node/noise-frames.ts'

type Buffered = Parameters<
  NonNullable<NonNullable<ConstructorParameters<typeof LengthPrefixedDecoder>[0]>['lengthDecoder']>
>[0]

/** noise's own length prefix: two bytes, big-endian, a RangeError for want of bytes. */
function uint16Length(data: Buffered): number {
  if (data.length < 2) throw new RangeError('Could not decode int16BE')
  return data instanceof Uint8Array ? (data[0]! << 8) + data[1]! : data.getUint16(0)
}

function noiseDecoder(seen?: number[]): LengthPrefixedDecoder {
  return new LengthPrefixedDecoder({
    lengthDecoder: (data) => {
      seen?.push(Error.stackTraceLimit)
      return uint16Length(data)
    },
    encodingLength: () => 2,
  })
}

function framed(frames: Uint8Array[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => [Buffer.from([f.length >> 8, f.length & 0xff]), f]))
}

describe('node/noise-frames: noise’s frame decoder without a stack trace per chunk', () => {
  before(() => decodeNoiseFramesQuietly())

  it('asks for each length with stack-trace capture off, and turns it back on between frames', () => {
    const limit = Error.stackTraceLimit
    const seen: number[] = []
    const decoder = noiseDecoder(seen)
    const frames = [...decoder.decode(framed([randomBytes(10), randomBytes(20)]))]
    assert.equal(frames.length, 2)
    // two lengths read, then one attempt on the empty buffer that throws (the end of the chunk)
    assert.deepEqual(seen, [0, 0, 0])
    assert.equal(Error.stackTraceLimit, limit)
  })

  it('gives the same frames however the bytes are cut, a length prefix split across chunks included', () => {
    const frames = [0, 1, 2, 1_199, 1_200, 65_535].map((size) => randomBytes(size))
    const stream = framed(frames.filter((f) => f.length > 0))
    for (const cut of [1, 2, 3, 7, 1_000, 70_000]) {
      const decoder = noiseDecoder()
      const out: Buffer[] = []
      for (let at = 0; at < stream.length; at += cut) {
        for (const frame of decoder.decode(stream.subarray(at, at + cut))) out.push(Buffer.from(frame.subarray()))
      }
      assert.deepEqual(
        out,
        frames.filter((f) => f.length > 0),
        `chunks of ${cut}`,
      )
    }
  })

  it('still throws for a length over the limit, and leaves stack traces on afterwards', () => {
    const limit = Error.stackTraceLimit
    const decoder = new LengthPrefixedDecoder({
      lengthDecoder: uint16Length,
      encodingLength: () => 2,
      maxDataLength: 100,
    })
    assert.throws(() => [...decoder.decode(framed([randomBytes(200)]))], /Invalid message length/)
    assert.equal(Error.stackTraceLimit, limit)
  })

  it('is made once, however many nodes a process starts', () => {
    const decode = LengthPrefixedDecoder.prototype.decode
    decodeNoiseFramesQuietly()
    assert.equal(LengthPrefixedDecoder.prototype.decode, decode)
  })
})
