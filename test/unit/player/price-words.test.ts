import assert from 'node:assert/strict'
import { numberInWords, priceForHumans, priceInWords } from '../../../roles/player/price-words.ts'

describe('player: a price in words (issue 11, finding 5)', () => {
  it('says numbers in English words', () => {
    assert.equal(numberInWords(0n), 'zero')
    assert.equal(numberInWords(99n), 'ninety-nine')
    assert.equal(numberInWords(1234n), 'one thousand two hundred thirty-four')
    assert.equal(numberInWords(2_000_005n), 'two million five')
  })

  it('says prices with their units, singular and plural, and any other currency by its code', () => {
    assert.equal(priceInWords(99n, 'EUR'), 'ninety-nine euro cents')
    assert.equal(priceInWords(1n, 'EUR'), 'one euro cent')
    assert.equal(priceInWords(105n, 'EUR'), 'one euro and five euro cents')
    assert.equal(priceInWords(1000n, 'GBP'), 'ten pounds sterling')
    assert.equal(priceInWords(500n, 'JPY'), 'five hundred yen')
    assert.equal(priceInWords(325n, 'PLN'), 'three PLN and 25/100')
    assert.equal(priceForHumans(99n, 'EUR'), '0.99 EUR (ninety-nine euro cents)')
  })
})
