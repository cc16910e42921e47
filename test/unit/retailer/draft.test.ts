import assert from 'node:assert/strict'
import { isError } from '../../../protocols/errors.ts'
import { normaliseContentId, OfferInputError, parseOfferInput } from '../../../roles/retailer/index.ts'

describe('retailer: offer input', () => {
  it('turns decimal prices into bigint minor units of the currency', () => {
    assert.deepEqual(parseOfferInput({ price: '0.99', currency: 'eur' }).price, { amount: 99n, currency: 'EUR' })
    assert.deepEqual(parseOfferInput({ price: '500', currency: 'JPY' }).price, { amount: 500n, currency: 'JPY' })
    assert.deepEqual(parseOfferInput({ price: '1.5', currency: 'KWD' }).price, { amount: 1500n, currency: 'KWD' })
  })

  it('keeps the previous currency for a new price alone, and refuses a currency without a price', () => {
    assert.deepEqual(parseOfferInput({ price: '1.29' }, 'GBP').price, { amount: 129n, currency: 'GBP' })
    assert.throws(() => parseOfferInput({ price: '1.29' }), { name: 'OfferInputError', message: /currency/ })
    assert.throws(() => parseOfferInput({ currency: 'USD' }), { name: 'OfferInputError', message: /^price/ })
  })

  it('refuses malformed prices, naming the field', () => {
    for (const price of ['-1', '0.999', '1e3', '', ' 1', '1,00']) {
      assert.throws(
        () => parseOfferInput({ price, currency: 'EUR' }),
        (err: Error) => {
          assert.ok(isError(err, OfferInputError))
          assert.equal(err.field, 'price')
          return true
        },
      )
    }
    assert.throws(() => parseOfferInput({ price: '1', currency: 'XXX' }), { name: 'OfferInputError' })
  })

  it('accepts content ids with or without their scheme', () => {
    assert.equal(normaliseContentId('isrc:USRC17607839'), 'isrc:USRC17607839')
    assert.equal(normaliseContentId('US-RC1-76-07839'), 'isrc:USRC17607839')
    assert.equal(normaliseContentId('0724384960650'), 'icpn:00724384960650')
    assert.throws(() => normaliseContentId('0724384960651'), { name: 'OfferInputError' })
    assert.deepEqual(parseOfferInput({ content: ['USRC17607839', 'isrc:USRC17607839'] }).content, ['isrc:USRC17607839'])
  })

  it('reads dates as ISO 8601 or milliseconds, and null as an open end', () => {
    const parsed = parseOfferInput({ validFrom: '2026-12-01', validUntil: '2027-01-01T00:00:00Z' })
    assert.equal(parsed.validFrom, Date.UTC(2026, 11, 1))
    assert.equal(parsed.validUntil, Date.UTC(2027, 0, 1))
    assert.equal(parseOfferInput({ validUntil: null }).validUntil, null)
    assert.equal(parseOfferInput({ validFrom: 5 }).validFrom, 5)
    assert.throws(() => parseOfferInput({ validFrom: '1 December' }), {
      name: 'OfferInputError',
      message: /^validFrom/,
    })
  })

  it('checks territories, use types, usage rules and promotions', () => {
    assert.deepEqual(parseOfferInput({ territories: ['de', 'worldwide'] }).territories, ['DE', 'Worldwide'])
    assert.throws(() => parseOfferInput({ territories: ['XX'] }), { message: /^territories/ })
    assert.throws(() => parseOfferInput({ territories: ['DE', 'de'] }), { message: /repeats/ })
    assert.throws(() => parseOfferInput({ useType: 'Rental' }), { message: /^useType/ })
    assert.deepEqual(parseOfferInput({ rules: { devices: 3, transfer: false } }).rules, { devices: 3, transfer: false })
    assert.throws(() => parseOfferInput({ rules: { devices: -1 } }), { message: /^rules\.devices/ })
    assert.throws(() => parseOfferInput({ rules: { colour: 'red' } }), { message: /^rules/ })
    assert.deepEqual(parseOfferInput({ promotion: { kind: 'free', label: 'Gift' } }).promotion, {
      kind: 'free',
      label: 'Gift',
    })
    assert.equal(parseOfferInput({ promotion: null }).promotion, null)
    assert.throws(() => parseOfferInput({ promotion: { kind: 'bogof', label: 'x' } }), { message: /^promotion\.kind/ })
  })

  it('refuses unknown fields', () => {
    assert.throws(() => parseOfferInput({ prize: '1' }), { name: 'OfferInputError', message: /prize/ })
  })
})
