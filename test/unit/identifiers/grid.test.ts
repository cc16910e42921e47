import assert from 'node:assert/strict'
import fc from 'fast-check'
import { gridCheckCharacter, isGrid, normaliseGrid } from '../../../protocols/identifiers/index.ts'

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'

describe('identifiers: GRid', () => {
  it('accepts valid GRids', () => {
    // The GRid handbook's example, and the one in the ERN 4.3 single and classical fixtures.
    assert.equal(isGrid('A12425GABC1234002M'), true)
    assert.equal(isGrid('A10302B0003989564F'), true)
  })

  it('refuses wrong check characters, lengths, schemes and case', () => {
    for (const s of [
      'A12425GABC1234002N',
      'A10302B0003989564G',
      'A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0',
      'gcAOAYWyb_',
      'B12425GABC1234002M',
      'a12425gabc1234002m',
      'A1-2425G-ABC1234002-M',
      '',
    ]) {
      assert.equal(isGrid(s), false, s)
    }
  })

  it('normalises hyphens and lower case, and refuses a wrong check character', () => {
    assert.equal(normaliseGrid('A1-2425G-ABC1234002-M'), 'A12425GABC1234002M')
    assert.equal(normaliseGrid('a1-2425g-abc1234002-m'), 'A12425GABC1234002M')
    assert.throws(() => normaliseGrid('A1-2425G-ABC1234002-Q'), { name: 'InvalidGridError' })
    assert.throws(() => normaliseGrid('A1-2425G'), { name: 'InvalidGridError' })
  })

  it('accepts exactly one check character for any body', () => {
    const body = fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 15, maxLength: 15 }).map((b) => `A1${b}`)
    fc.assert(
      fc.property(body, (b) => {
        const accepted = [...ALPHABET].filter((c) => isGrid(b + c))
        assert.deepEqual(accepted, [gridCheckCharacter(b)])
      }),
    )
  })

  it('detects every single-character substitution', () => {
    // (The hybrid MOD 37,36 system misses about 0.2% of adjacent transpositions, so only substitutions are asserted.)
    const grid = fc
      .string({ unit: fc.constantFrom(...ALPHABET), minLength: 15, maxLength: 15 })
      .map((b) => `A1${b}${gridCheckCharacter(`A1${b}`)}`)
    fc.assert(
      fc.property(grid, fc.integer({ min: 2, max: 17 }), fc.integer({ min: 1, max: 35 }), (g, position, shift) => {
        const replaced = ALPHABET[(ALPHABET.indexOf(g[position]!) + shift) % 36]!
        assert.equal(isGrid(g.slice(0, position) + replaced + g.slice(position + 1)), false)
      }),
    )
  })
})
