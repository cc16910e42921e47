import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  CURRENCY_CODES,
  formatMinorUnits,
  isCurrency,
  MAX_AMOUNT_INTEGER_DIGITS,
  minorUnits,
  parseDecimalAmount,
} from '../../../protocols/identifiers/index.ts'

describe('identifiers: currencies and amounts', () => {
  it('knows active codes and their minor units', () => {
    assert.equal(minorUnits('EUR'), 2)
    assert.equal(minorUnits('USD'), 2)
    assert.equal(minorUnits('JPY'), 0)
    assert.equal(minorUnits('KRW'), 0)
    assert.equal(minorUnits('KWD'), 3)
    assert.equal(minorUnits('CLF'), 4)
    for (const c of ['GBP', 'CHF', 'GMD', 'MWK', 'XCG', 'ZWG', 'SLE']) assert.equal(isCurrency(c), true, c)
  })

  it('refuses withdrawn, non-currency and malformed codes', () => {
    for (const c of ['ANG', 'HRK', 'ZWL', 'DEM', 'XAU', 'XXX', 'XTS', 'eur', 'EURO', '', 'toString', '__proto__']) {
      assert.equal(isCurrency(c), false, c)
    }
    assert.throws(() => minorUnits('ABC'), { name: 'InvalidCurrencyError' })
    assert.throws(() => parseDecimalAmount('1.00', 'XAU'), { name: 'InvalidCurrencyError' })
  })

  it('parses decimal amounts into minor units', () => {
    assert.equal(parseDecimalAmount('0.99', 'EUR'), 99n)
    assert.equal(parseDecimalAmount('1', 'EUR'), 100n)
    assert.equal(parseDecimalAmount('1.5', 'EUR'), 150n)
    assert.equal(parseDecimalAmount('007.50', 'EUR'), 750n)
    assert.equal(parseDecimalAmount('0', 'EUR'), 0n)
    assert.equal(parseDecimalAmount('500', 'JPY'), 500n)
    assert.equal(parseDecimalAmount('1.234', 'KWD'), 1234n)
    assert.equal(parseDecimalAmount('999999999999999.99', 'USD'), 99999999999999999n)
  })

  it('refuses too many decimals, signs, exponents and junk', () => {
    const refused: Array<[string, string]> = [
      ['0.5', 'JPY'],
      ['0.999', 'EUR'],
      ['0.990', 'EUR'],
      ['-0.99', 'EUR'],
      ['+0.99', 'EUR'],
      ['1e2', 'EUR'],
      ['1E-2', 'EUR'],
      ['.5', 'EUR'],
      ['1.', 'EUR'],
      ['1,50', 'EUR'],
      ['1 000', 'EUR'],
      [' 1.00', 'EUR'],
      ['0x10', 'EUR'],
      ['Infinity', 'EUR'],
      ['NaN', 'EUR'],
      ['', 'EUR'],
      ['1.2.3', 'EUR'],
      ['-2018733618.998', 'GMD'],
      ['1'.repeat(MAX_AMOUNT_INTEGER_DIGITS + 1), 'EUR'],
    ]
    for (const [amount, currency] of refused) {
      assert.throws(
        () => parseDecimalAmount(amount, currency),
        (err: Error) => err.name === 'InvalidAmountError' && err.message.includes(JSON.stringify(amount)),
        `${amount} ${currency}`,
      )
    }
  })

  it('formats minor units with the currency exponent', () => {
    assert.equal(formatMinorUnits(99n, 'EUR'), '0.99')
    assert.equal(formatMinorUnits(5n, 'EUR'), '0.05')
    assert.equal(formatMinorUnits(100n, 'EUR'), '1.00')
    assert.equal(formatMinorUnits(0n, 'EUR'), '0.00')
    assert.equal(formatMinorUnits(500n, 'JPY'), '500')
    assert.equal(formatMinorUnits(1234n, 'KWD'), '1.234')
    assert.equal(formatMinorUnits(-150n, 'EUR'), '-1.50')
  })

  it('round-trips amounts: parse(format(x)) = x and format(parse(s)) = s for canonical s', () => {
    const currency = fc.constantFrom(...CURRENCY_CODES)
    const amount = fc.bigInt({ min: 0n, max: 10n ** 15n - 1n })
    fc.assert(
      fc.property(currency, amount, (c, major) => {
        const minor = major * 10n ** BigInt(minorUnits(c)) + (major % 10n ** BigInt(minorUnits(c)))
        const text = formatMinorUnits(minor, c)
        assert.equal(parseDecimalAmount(text, c), minor)
        assert.equal(formatMinorUnits(parseDecimalAmount(text, c), c), text)
      }),
    )
  })

  it('parses any decimal with at most the allowed places to the value it denotes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CURRENCY_CODES),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.nat(4),
        (c, units, placesWanted) => {
          const places = Math.min(placesWanted, minorUnits(c))
          const digits = units.toString().padStart(places + 1, '0')
          const text = places === 0 ? digits : `${digits.slice(0, -places)}.${digits.slice(-places)}`
          assert.equal(parseDecimalAmount(text, c), units * 10n ** BigInt(minorUnits(c) - places))
        },
      ),
    )
  })
})
