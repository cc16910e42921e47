import assert from 'node:assert/strict'
import fc from 'fast-check'
import { isIsrc, normaliseIsrc } from '../../../protocols/identifiers/index.ts'

describe('identifiers: ISRC', () => {
  it('accepts canonical ISRCs', () => {
    for (const s of ['USRC17607839', 'JPTO09404900', 'GBAYC1700598', 'DE0000311111', 'QZES71800001']) {
      assert.equal(isIsrc(s), true, s)
    }
  })

  it('refuses malformed ones', () => {
    for (const s of [
      '',
      'dFJ',
      'v7Y.2zzixx1IS6e',
      'USRC1760783',
      'USRC176078390',
      'usrc17607839',
      'US-RC1-76-07839',
      '1SRC17607839',
      'USRC1760783X',
      'USRC17607839 ',
    ]) {
      assert.equal(isIsrc(s), false, s)
    }
  })

  it('normalises the hyphenated form and lower case', () => {
    assert.equal(normaliseIsrc('US-RC1-76-07839'), 'USRC17607839')
    assert.equal(normaliseIsrc('us-rc1-76-07839'), 'USRC17607839')
    assert.equal(normaliseIsrc(' USRC17607839 '), 'USRC17607839')
  })

  it('refuses hyphens in the wrong places and junk, naming the value', () => {
    for (const s of ['USR-C1-76-07839', 'US-RC1-7607839', 'US RC1 76 07839', 'U$RC17607839']) {
      assert.throws(
        () => normaliseIsrc(s),
        (err: Error & { code?: string }) => err.name === 'InvalidIsrcError' && err.message.includes(JSON.stringify(s)),
      )
    }
  })

  it('round-trips any well-formed ISRC through its hyphenated form', () => {
    const upperAlnum = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')
    const letter = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ')
    const digit = fc.constantFrom(...'0123456789')
    const isrc = fc
      .tuple(
        fc.array(letter, { minLength: 2, maxLength: 2 }),
        fc.array(upperAlnum, { minLength: 3, maxLength: 3 }),
        fc.array(digit, { minLength: 7, maxLength: 7 }),
      )
      .map(([c, r, d]) => c.join('') + r.join('') + d.join(''))
    fc.assert(
      fc.property(isrc, (s) => {
        assert.equal(isIsrc(s), true)
        const hyphenated = `${s.slice(0, 2)}-${s.slice(2, 5)}-${s.slice(5, 7)}-${s.slice(7)}`
        assert.equal(normaliseIsrc(hyphenated), s)
        assert.equal(normaliseIsrc(s.toLowerCase()), s)
      }),
    )
  })
})
