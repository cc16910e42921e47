import assert from 'node:assert/strict'
import fc from 'fast-check'
import { icpnCheckDigit, icpnKey, isIcpn } from '../../../protocols/identifiers/index.ts'

describe('identifiers: ICPN (UPC-A, EAN-13, GTIN-14)', () => {
  it('accepts real codes', () => {
    // UPC-A from the ERN 4.3 single, EAN-13 of a well-known book, GTIN-14 forms from the ERN 4.3 album.
    for (const s of [
      '190295810726',
      '036000291452',
      '4006381333931',
      '9780306406157',
      '00094631432057',
      '04988006110809',
    ]) {
      assert.equal(isIcpn(s), true, s)
    }
  })

  it('computes check digits of known codes', () => {
    assert.equal(icpnCheckDigit('03600029145'), 2)
    assert.equal(icpnCheckDigit('400638133393'), 1)
    assert.equal(icpnCheckDigit('0009463143205'), 7)
  })

  it('refuses wrong check digits, lengths and junk', () => {
    for (const s of [
      '190295810727',
      '4006381333932',
      '00094631432058',
      'r',
      '',
      '12345678',
      '12345678901234567',
      '19029581072X',
      ' 190295810726',
      '19029581-0726',
    ]) {
      assert.equal(isIcpn(s), false, s)
    }
    assert.throws(() => icpnCheckDigit('123'), { name: 'InvalidIcpnError' })
    assert.throws(() => icpnCheckDigit('1234567890a'), { name: 'InvalidIcpnError' })
  })

  it('compares UPC, EAN and GTIN forms of one product equal', () => {
    assert.equal(icpnKey('094631432057'), '00094631432057')
    assert.equal(icpnKey('0094631432057'), '00094631432057')
    assert.equal(icpnKey('00094631432057'), '00094631432057')
    assert.throws(() => icpnKey('094631432058'), { name: 'InvalidIcpnError' })
  })

  it('accepts a body plus its check digit and refuses every other last digit', () => {
    const body = fc
      .integer({ min: 11, max: 13 })
      .chain((n) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n }))
    fc.assert(
      fc.property(body, fc.integer({ min: 1, max: 9 }), (b, shift) => {
        const check = icpnCheckDigit(b)
        assert.ok(check >= 0 && check <= 9)
        assert.equal(isIcpn(b + check), true)
        assert.equal(isIcpn(b + ((check + shift) % 10)), false)
      }),
    )
  })

  it('detects every single-digit substitution', () => {
    const code = fc
      .string({ unit: fc.constantFrom(...'0123456789'), minLength: 12, maxLength: 12 })
      .map((b) => b + icpnCheckDigit(b))
    fc.assert(
      fc.property(code, fc.nat(12), fc.integer({ min: 1, max: 9 }), (c, position, shift) => {
        const changed = (Number(c[position]) + shift) % 10
        const altered = c.slice(0, position) + changed + c.slice(position + 1)
        assert.equal(isIcpn(altered), false)
      }),
    )
  })
})
