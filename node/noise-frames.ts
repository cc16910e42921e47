import { LengthPrefixedDecoder } from '@libp2p/utils'
import { withoutStackTraces } from '../keys/node-crypto.ts'

const QUIET = Symbol.for('consort.noise-frames.quiet')

/**
 * `@libp2p/noise` cuts what a connection reads into frames with `@libp2p/utils`' `LengthPrefixedDecoder`, whose loop
 * asks its length decoder for the next frame's length until the decoder throws a `RangeError` for want of bytes. So
 * every chunk a socket delivers ends in a thrown error — nearly always on an empty buffer, the chunk having ended on a
 * frame's boundary — and each throw captures a stack trace, in the deep stack of a socket's data event. In a process
 * of 25 + 25 gossip nodes on TCP (the `offers` benchmark's 4 × 25 arrangement) that capture was 5.6 % of the main
 * thread (docs/profiles/offers.md); at a stack depth of 40 a chunk cost 15 µs with it and 3 µs without it.
 *
 * This runs each step of the decoder's loop with stack-trace capture off (`withoutStackTraces`). The frames are the
 * same; an error the decoder throws for a bad length (noise aborts the connection with it) has no stack. Of our
 * dependencies only noise uses this decoder, one copy of `@libp2p/utils` is installed, and the change is made once per
 * process, however many nodes it starts.
 */
export function decodeNoiseFramesQuietly(): void {
  const prototype = LengthPrefixedDecoder.prototype as LengthPrefixedDecoder & { [QUIET]?: true }
  if (prototype[QUIET] === true) return
  const decode = prototype.decode
  prototype.decode = function* quietDecode(this: LengthPrefixedDecoder, buf) {
    const frames = decode.call(this, buf)
    for (;;) {
      const step = withoutStackTraces(() => frames.next())
      if (step.done === true) return step.value
      yield step.value
    }
  }
  prototype[QUIET] = true
}
