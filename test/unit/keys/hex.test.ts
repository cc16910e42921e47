import assert from 'node:assert/strict'
import { fromHex, toHex } from '../../../keys/index.ts'

describe('keys: toHex and fromHex, the one hex helper', () => {
  it('spells bytes in lower-case hex, reading a view at an offset without copying its neighbours', () => {
    const buffer = new Uint8Array([0xff, 0x00, 0x0a, 0xbc, 0x01])
    assert.equal(toHex(buffer), 'ff000abc01')
    assert.equal(toHex(buffer.subarray(1, 4)), '000abc')
    assert.equal(toHex(new Uint8Array(0)), '')
  })

  it('reads either case back to the same bytes, as a plain Uint8Array', () => {
    const bytes = fromHex('00FFaB')
    assert.deepEqual(bytes, new Uint8Array([0x00, 0xff, 0xab]))
    assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype)
    assert.equal(toHex(fromHex('0123456789abcdef')), '0123456789abcdef')
  })

  it('refuses an odd length or a non-hex digit, naming the field (Node would stop silently)', () => {
    for (const bad of ['abc', 'zz', '0x00', '00 ']) {
      assert.throws(() => fromHex(bad, 'body.key'), { name: 'InvalidHexError', message: /^body\.key must be/ })
    }
  })
})
