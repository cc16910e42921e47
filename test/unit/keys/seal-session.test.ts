import assert from 'node:assert/strict'
import { createCipheriv } from 'node:crypto'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { MalformedSealError, SealOpenError, WeakSealingKeyError } from '../../../keys/errors.ts'
import {
  generateSealingKeyPair,
  open,
  SEAL_OVERHEAD_BYTES,
  SEAL_SESSION_CACHE_ENTRIES,
  SEAL_SESSION_OVERHEAD_BYTES,
  SEAL_SESSION_PROBATION_ENTRIES,
  SEAL_SESSION_VERSION,
  SEAL_VERSION,
  SealOpener,
  SealSession,
  SeededRandom,
  seal,
} from '../../../keys/index.ts'
import { usageSealContext } from '../../../protocols/usage/index.ts'
import { flipBit } from '../../helpers/record-samples.ts'

/**
 * Sealing sessions (decisions 0513, 0515): one ephemeral key for many boxes on the device's side, the agreement and the
 * session's key remembered per ephemeral key on the clearinghouse's side; a session's boxes are version 2 (one key per
 * session, each box's number in its nonce and its context in the associated data).
 */

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const ephemeralOf = (box: Uint8Array): string => Buffer.from(box.subarray(1, 33)).toString('hex')

function clock(start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

/** Device A and device B (both registered, say) report under contexts that name them, as usage reports do. */
const contextOf = (device: string, seq: number) => usageSealContext('net', utf8(device.padEnd(32, '.')), seq)

describe('keys/seal: sealing sessions', () => {
  const recipient = generateSealingKeyPair(new SeededRandom('seal-session-recipient'))

  it("seals version 2 boxes that any opener and open() open; one ephemeral key for the session, each box's number", () => {
    const t = clock()
    const session = new SealSession({ random: new SeededRandom('s1'), now: t.now })
    const boxes = Array.from({ length: 5 }, (_, seq) =>
      session.seal(recipient.publicKey, utf8(`events ${seq}`), contextOf('A', seq)),
    )
    for (const [seq, box] of boxes.entries()) {
      assert.equal(box.length, SEAL_SESSION_OVERHEAD_BYTES + utf8(`events ${seq}`).length)
      assert.equal(SEAL_SESSION_OVERHEAD_BYTES, SEAL_OVERHEAD_BYTES + 4)
      assert.equal(box[0], SEAL_SESSION_VERSION)
      assert.equal(Buffer.from(box).readUInt32BE(33), seq)
      assert.deepEqual(open(recipient, box, contextOf('A', seq)), utf8(`events ${seq}`))
    }
    assert.equal(new Set(boxes.map(ephemeralOf)).size, 1)
    assert.equal(session.keys, 1)
  })

  it('seals version 1 boxes on request (decision 0518): the box seal() writes, under the session key, beside version 2', () => {
    const t = clock()
    const session = new SealSession({ random: new SeededRandom('s-v1'), now: t.now })
    const other = generateSealingKeyPair(new SeededRandom('seal-session-other'))
    const v1 = session.seal(recipient.publicKey, utf8('events 0'), contextOf('A', 0), SEAL_VERSION)
    const v2 = session.seal(other.publicKey, utf8('events 0'), contextOf('A', 0))
    const v1Again = session.seal(recipient.publicKey, utf8('events 1'), contextOf('A', 1), SEAL_VERSION)
    assert.equal(v1[0], SEAL_VERSION)
    assert.equal(v1.length, SEAL_OVERHEAD_BYTES + utf8('events 0').length)
    assert.equal(v2[0], SEAL_SESSION_VERSION)
    assert.equal(new Set([v1, v2, v1Again].map(ephemeralOf)).size, 1, 'one ephemeral key for both versions')
    assert.equal(session.keys, 1)
    // What seal() writes with the same ephemeral key: the session's version-1 box is byte for byte that box.
    const sameKey = seal(recipient.publicKey, utf8('events 0'), contextOf('A', 0), new SeededRandom('s-v1'))
    assert.deepEqual(v1, sameKey)
    const onlyV1 = new SealOpener(recipient, { versions: [SEAL_VERSION] })
    assert.deepEqual(onlyV1.open(v1, contextOf('A', 0)), utf8('events 0'))
    assert.deepEqual(onlyV1.open(v1Again, contextOf('A', 1)), utf8('events 1'))
    assert.deepEqual(open(other, v2, contextOf('A', 0)), utf8('events 0'))
    assert.throws(() => session.seal(recipient.publicKey, utf8('x'), contextOf('A', 2), 3 as never), RangeError)
  })

  it('an opener restricted to version 1 refuses version 2 with the words of a release before decision 0515', () => {
    const session = new SealSession({ random: new SeededRandom('s-old'), now: clock().now })
    const box = session.seal(recipient.publicKey, utf8('events'), contextOf('A', 0))
    const old = new SealOpener(recipient, { versions: [SEAL_VERSION] })
    assert.throws(
      () => old.open(box, contextOf('A', 0)),
      (err: Error) =>
        err.name === MalformedSealError.name && err.message === 'sealed box version is 2, only 1 is known',
    )
    assert.equal(old.agreements, 0, 'refused before any agreement')
    assert.throws(() => new SealOpener(recipient, { versions: [] }), RangeError)
    assert.throws(() => new SealOpener(recipient, { versions: [3 as never] }), RangeError)
    assert.throws(
      () => new SealOpener(recipient).open(Uint8Array.of(3, ...new Uint8Array(60)), contextOf('A', 0)),
      /sealed box version is 3, only 1 and 2 are known/,
    )
  })

  it('derives the session key and nonce base once, each nonce from the box number (recomputed with @noble)', () => {
    // The session's private key is the first 32 bytes its Random draws: draw them again from the same seed.
    const ephemeralPrivate = new SeededRandom('s-known').bytes(32)
    const session = new SealSession({ random: new SeededRandom('s-known'), now: clock().now })
    const plaintext = utf8('the same plaintext')
    const a = session.seal(recipient.publicKey, plaintext, contextOf('A', 1))
    const b = session.seal(recipient.publicKey, plaintext, contextOf('A', 2))
    const E = x25519.getPublicKey(ephemeralPrivate)
    assert.deepEqual(a.subarray(1, 33), E)
    const shared = x25519.getSharedSecret(ephemeralPrivate, recipient.publicKey)
    // One-shot HKDF with the session's info: the key and the nonce base of every box of the session.
    const okm = hkdf(
      sha256,
      shared,
      new Uint8Array([...E, ...recipient.publicKey]),
      new Uint8Array([...utf8('consort/v1/seal-session'), 0]),
      44,
    )
    for (const [n, box] of [a, b].entries()) {
      const nonce = new Uint8Array(okm.subarray(32))
      nonce[11]! ^= n // the box number (0, 1) XORed into the nonce base's last 4 bytes, big-endian
      const header = new Uint8Array([2, ...E, 0, 0, 0, n])
      assert.deepEqual(box.subarray(0, 37), header)
      const cipher = createCipheriv('aes-256-gcm', okm.subarray(0, 32), nonce)
      cipher.setAAD(new Uint8Array([...header, ...utf8(contextOf('A', n + 1))]))
      const expected = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
      assert.deepEqual(new Uint8Array(expected), box.subarray(37))
    }
    assert.notDeepEqual(a.subarray(37), b.subarray(37), 'the same plaintext, another nonce and context')
  })

  it("refuses every single-bit flip of a session's box, its number moved, its context changed (exhaustive)", () => {
    const opener = new SealOpener(recipient)
    const session = new SealSession({ random: new SeededRandom('s-flips'), now: clock().now })
    const boxes = [0, 1, 2].map((seq) => session.seal(recipient.publicKey, utf8(`plays ${seq}`), contextOf('A', seq)))
    for (const [seq, box] of boxes.entries()) opener.open(box, contextOf('A', seq))
    assert.deepEqual(opener.remembered, { established: 1, probation: 0 })
    const box = boxes[2]!
    for (let bit = 0; bit < box.length * 8; bit++) {
      const expected = bit < 8 ? 'MalformedSealError' : 'SealOpenError'
      assert.throws(() => opener.open(flipBit(box, bit), contextOf('A', 2)), { name: expected }, `bit ${bit}`)
    }
    // Another box's number (the nonce of box 1 with box 2's ciphertext), another context, a box cut short.
    const renumbered = new Uint8Array(box)
    renumbered[36] = 1
    assert.throws(() => opener.open(renumbered, contextOf('A', 2)), SealOpenError)
    assert.throws(() => opener.open(box, contextOf('A', 1)), SealOpenError)
    assert.throws(() => opener.open(box, contextOf('B', 2)), SealOpenError)
    assert.throws(() => opener.open(box.subarray(0, SEAL_SESSION_OVERHEAD_BYTES - 1), contextOf('A', 2)), {
      name: 'MalformedSealError',
      message: /at least 53/,
    })
    // The session's version-2 key never opens a version-1 box under the same ephemeral key, nor the other way round.
    const asV1 = new Uint8Array([1, ...box.subarray(1, 33), ...box.subarray(37)])
    assert.throws(() => opener.open(asV1, contextOf('A', 2)), SealOpenError)
    assert.deepEqual(opener.open(box, contextOf('A', 2)), utf8('plays 2'), 'the untouched box still opens')
  })

  it('starts a new key after maxBoxes, after maxAgeMs, when the clock goes back, and for a context sealed before', () => {
    const t = clock()
    const session = new SealSession({ random: new SeededRandom('s2'), now: t.now, maxBoxes: 3, maxAgeMs: 60_000 })
    const keyOf = (seq: number) => ephemeralOf(session.seal(recipient.publicKey, utf8('x'), contextOf('A', seq)))
    const first = keyOf(0)
    assert.equal(keyOf(1), first)
    assert.equal(keyOf(2), first)
    const second = keyOf(3) // the fourth box: a new key
    assert.notEqual(second, first)
    t.advance(60_000)
    const third = keyOf(4) // the key's age reached maxAgeMs
    assert.notEqual(third, second)
    t.advance(-1)
    const fourth = keyOf(5) // the clock went back
    assert.notEqual(fourth, third)
    // The same context again (a report built again under the same sequence number) never reuses a key and nonce.
    const again = keyOf(5)
    assert.notEqual(again, fourth)
    assert.equal(session.keys, 5)
    // …but the same context to another recipient is another box.
    const other = generateSealingKeyPair(new SeededRandom('seal-session-other'))
    const box = session.seal(other.publicKey, utf8('x'), contextOf('A', 6))
    assert.equal(ephemeralOf(box), again)
    session.end()
    assert.notEqual(keyOf(7), again)
  })

  it('refuses what seal() refuses: a low-order recipient key, a bad context, an oversized plaintext', () => {
    const session = new SealSession({ now: clock().now })
    const lowOrder = Uint8Array.from(
      Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
    )
    assert.throws(() => session.seal(lowOrder, utf8('x'), 'c'), WeakSealingKeyError)
    assert.throws(() => session.seal(recipient.publicKey, utf8('x'), ''), { name: 'InvalidSealContextError' })
    assert.throws(() => session.seal(recipient.publicKey, new Uint8Array(16 * 1024 * 1024 + 1), 'c'), RangeError)
    assert.throws(() => session.seal(new Uint8Array(31), utf8('x'), 'c'), { name: 'InvalidByteLengthError' })
    assert.throws(() => new SealSession({ now: clock().now, maxBoxes: 0 }), RangeError)
  })

  it('an opener makes one agreement per session, and opens sessions and fresh-key boxes alike', () => {
    const opener = new SealOpener(recipient)
    const session = new SealSession({ random: new SeededRandom('s3'), now: clock().now })
    for (let seq = 0; seq < 20; seq++) {
      const box = session.seal(recipient.publicKey, utf8(`report ${seq}`), contextOf('A', seq))
      assert.deepEqual(opener.open(box, contextOf('A', seq)), utf8(`report ${seq}`))
    }
    assert.equal(opener.agreements, 1)
    assert.deepEqual(opener.remembered, { established: 1, probation: 0 })
    // Sealed the old way (a fresh key per box): still accepted, one agreement each.
    for (let seq = 20; seq < 23; seq++) {
      const box = seal(recipient.publicKey, utf8(`report ${seq}`), contextOf('A', seq))
      assert.deepEqual(opener.open(box, contextOf('A', seq)), utf8(`report ${seq}`))
    }
    assert.equal(opener.agreements, 4)
  })

  it("a remembered agreement never opens another device's box, nor a box with the session's key that its holder did not seal", () => {
    const opener = new SealOpener(recipient)
    const a = new SealSession({ random: new SeededRandom('device-a'), now: clock().now })
    const b = new SealSession({ random: new SeededRandom('device-b'), now: clock().now })
    const first = a.seal(recipient.publicKey, utf8('A plays 1'), contextOf('A', 0))
    const second = a.seal(recipient.publicKey, utf8('A plays 2'), contextOf('A', 1))
    opener.open(first, contextOf('A', 0))
    opener.open(second, contextOf('A', 1)) // A's session is established now
    assert.deepEqual(opener.remembered, { established: 1, probation: 0 })

    // A's box presented as B's report (B's context): refused.
    assert.throws(() => opener.open(second, contextOf('B', 1)), SealOpenError)
    // B copies A's public ephemeral key into a box of its own (B cannot know the agreement): refused.
    const forged = b.seal(recipient.publicKey, utf8('B claims A pays'), contextOf('B', 0))
    forged.set(first.subarray(1, 33), 1)
    assert.throws(() => opener.open(forged, contextOf('B', 0)), SealOpenError)
    assert.throws(() => opener.open(forged, contextOf('A', 2)), SealOpenError)
    // A's box altered anywhere after the key: refused, though the key is remembered.
    for (const at of [33, second.length - 1]) {
      const altered = new Uint8Array(second)
      altered[at]! ^= 1
      assert.throws(() => opener.open(altered, contextOf('A', 1)), SealOpenError)
    }
    // B's own session opens as B's, with its own agreement.
    const agreements = opener.agreements
    assert.deepEqual(
      opener.open(b.seal(recipient.publicKey, utf8('B'), contextOf('B', 1)), contextOf('B', 1)),
      utf8('B'),
    )
    assert.equal(opener.agreements, agreements + 1)
    // A box to another recipient with A's session key does not open here either.
    const other = generateSealingKeyPair(new SeededRandom('seal-session-other'))
    assert.throws(
      () => opener.open(a.seal(other.publicKey, utf8('x'), contextOf('A', 2)), contextOf('A', 2)),
      SealOpenError,
    )
  })

  it('stays bounded under a flood of fresh ephemeral keys, and the flood evicts no established session', () => {
    const opener = new SealOpener(recipient)
    const honest = new SealSession({ random: new SeededRandom('honest'), now: clock().now })
    let seq = 0
    for (; seq < 2; seq++)
      opener.open(honest.seal(recipient.publicKey, utf8('h'), contextOf('H', seq)), contextOf('H', seq))
    assert.deepEqual(opener.remembered, { established: 1, probation: 0 })
    const before = opener.agreements
    // Boxes that open, each under a fresh key (as a flooding device would seal them), then boxes that do not open.
    const flood = SEAL_SESSION_PROBATION_ENTRIES + 500
    const random = new SeededRandom('flood')
    for (let i = 0; i < flood; i++) {
      const context = contextOf('F', i)
      opener.open(seal(recipient.publicKey, utf8('f'), context, random), context)
    }
    for (let i = 0; i < 200; i++) {
      const junk = seal(recipient.publicKey, utf8('f'), contextOf('F', i), random)
      junk[junk.length - 1]! ^= 1
      assert.throws(() => opener.open(junk, contextOf('F', i)), SealOpenError)
    }
    assert.equal(opener.agreements, before + flood + 200)
    const { established, probation } = opener.remembered
    assert.equal(established, 1)
    assert.equal(probation, SEAL_SESSION_PROBATION_ENTRIES)
    assert.ok(SEAL_SESSION_CACHE_ENTRIES >= SEAL_SESSION_PROBATION_ENTRIES)
    // The honest session still opens without an agreement.
    const agreements = opener.agreements
    opener.open(honest.seal(recipient.publicKey, utf8('h'), contextOf('H', seq)), contextOf('H', seq))
    assert.equal(opener.agreements, agreements)
  })

  it('keeps at most SEAL_SESSION_CACHE_ENTRIES established sessions', function () {
    this.timeout(60_000)
    const opener = new SealOpener(recipient)
    const random = new SeededRandom('many-sessions')
    const sessions = SEAL_SESSION_CACHE_ENTRIES + 10
    for (let d = 0; d < sessions; d++) {
      const session = new SealSession({ random, now: clock().now })
      const device = `D${d}`
      for (let seq = 0; seq < 2; seq++) {
        opener.open(session.seal(recipient.publicKey, utf8('e'), contextOf(device, seq)), contextOf(device, seq))
      }
    }
    assert.deepEqual(opener.remembered, { established: SEAL_SESSION_CACHE_ENTRIES, probation: 0 })
    assert.equal(opener.agreements, sessions)
  })
})
