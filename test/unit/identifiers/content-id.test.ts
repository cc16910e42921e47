import assert from 'node:assert/strict'
import { isError } from '../../../protocols/errors.ts'
import {
  canonicalContentId,
  InvalidContentIdError,
  isCanonicalContentId,
  tryCanonicalContentId,
} from '../../../protocols/identifiers/index.ts'
import { contentId } from '../../../protocols/records/fields.ts'

describe('identifiers/content-id: one canonical form, any valid form accepted', () => {
  it('turns every valid form of one release into one id: the GTIN-14', () => {
    for (const written of [
      'icpn:012345678905',
      'icpn:0012345678905',
      'icpn:00012345678905',
      'ICPN:012345678905',
      ' icpn:012345678905 ',
      'upc:012345678905',
      'ean:0012345678905',
      '012345678905',
      '0012345678905',
      '00012345678905',
    ]) {
      assert.equal(canonicalContentId(written), 'icpn:00012345678905', written)
    }
  })

  it('canonicalises ISRCs and GRids, bare or with a scheme in any case', () => {
    assert.equal(canonicalContentId('isrc:US-RC1-76-07839'), 'isrc:USRC17607839')
    assert.equal(canonicalContentId('ISRC:usrc17607839'), 'isrc:USRC17607839')
    assert.equal(canonicalContentId('usrc17607839'), 'isrc:USRC17607839')
    assert.equal(canonicalContentId('grid:a1-2425g-abc1234002-m'), 'grid:A12425GABC1234002M')
    assert.equal(canonicalContentId('A1-2425G-ABC1234002-M'), 'grid:A12425GABC1234002M')
  })

  it('refuses what is not a content id, naming the value and why', () => {
    for (const [input, why] of [
      ['icpn:012345678906', /check digit/],
      ['012345678906', /check digit/],
      ['icpn:12345', /12, 13 or 14 digits/],
      ['isrc:XX', /ISRC/],
      ['upca:012345678905', /unknown scheme "upca"/],
      ['', /expected isrc:/],
      ['hello world', /expected isrc:/],
    ] as const) {
      assert.throws(
        () => canonicalContentId(input),
        (err: Error) =>
          isError(err, InvalidContentIdError) && why.test(err.message) && err.message.includes('content id'),
        input,
      )
      assert.equal(tryCanonicalContentId(input), null)
    }
  })

  it('records carry the canonical form only: the schema refuses another form of a valid id', () => {
    assert.ok(isCanonicalContentId('icpn:00012345678905'))
    assert.ok(!isCanonicalContentId('icpn:012345678905'))
    assert.ok(!isCanonicalContentId('isrc:usrc17607839'))
    assert.equal(contentId.safeParse('icpn:00012345678905').success, true)
    const refused = contentId.safeParse('icpn:012345678905')
    assert.equal(refused.success, false)
    assert.match(refused.error!.issues[0]!.message, /canonical content id/)
  })
})
