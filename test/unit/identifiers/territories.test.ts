import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  COUNTRY_CODES,
  expandTerritories,
  isTerritory,
  territoryCovers,
  territorySetWithin,
} from '../../../protocols/identifiers/index.ts'

describe('identifiers: territories', () => {
  it('knows the 249 ISO 3166-1 alpha-2 codes and Worldwide', () => {
    assert.equal(COUNTRY_CODES.length, 249)
    assert.equal(new Set(COUNTRY_CODES).size, 249)
    for (const t of ['AD', 'JP', 'GB', 'US', 'ZW', 'AX', 'BQ', 'SS', 'Worldwide']) assert.equal(isTerritory(t), true, t)
  })

  it('refuses user-assigned, reserved, numeric, deprecated and mis-cased codes', () => {
    for (const t of ['XK', 'UK', 'EU', 'YU', 'AN', '156', '434', 'jp', 'worldwide', 'WW', '', 'USA']) {
      assert.equal(isTerritory(t), false, t)
    }
  })

  it('covers included countries minus excluded ones', () => {
    assert.equal(territoryCovers(['Worldwide'], [], 'JP'), true)
    assert.equal(territoryCovers(['Worldwide'], ['JP'], 'JP'), false)
    assert.equal(territoryCovers(['Worldwide'], ['JP'], 'FR'), true)
    assert.equal(territoryCovers(['FR', 'DE'], [], 'DE'), true)
    assert.equal(territoryCovers(['FR', 'DE'], [], 'IT'), false)
    assert.equal(territoryCovers(['FR', 'DE'], ['DE'], 'DE'), false)
    // Only exclusions: everywhere else (DDEX allows a deal to name only excluded territories).
    assert.equal(territoryCovers([], ['IE'], 'IE'), false)
    assert.equal(territoryCovers([], ['IE'], 'GB'), true)
    assert.equal(territoryCovers([], [], 'GB'), false)
  })

  it('covers Worldwide only when every country is covered', () => {
    assert.equal(territoryCovers(['Worldwide'], [], 'Worldwide'), true)
    assert.equal(territoryCovers([...COUNTRY_CODES], [], 'Worldwide'), true)
    assert.equal(territoryCovers(['Worldwide'], ['JP'], 'Worldwide'), false)
    assert.equal(territoryCovers(['Worldwide'], ['Worldwide'], 'FR'), false)
  })

  it('refuses unknown codes in any position', () => {
    assert.throws(() => territoryCovers(['Worldwide'], [], 'XK'), { name: 'InvalidTerritoryError' })
    assert.throws(() => territoryCovers(['XK'], [], 'FR'), { name: 'InvalidTerritoryError' })
    assert.throws(() => territoryCovers([], ['156'], 'FR'), { name: 'InvalidTerritoryError' })
  })

  it('decides whether one territory set lies within another', () => {
    const world = { included: ['Worldwide'], excluded: [] }
    const europe = { included: ['FR', 'DE', 'IT'], excluded: [] }
    assert.equal(territorySetWithin(europe, world), true)
    assert.equal(territorySetWithin(world, europe), false)
    assert.equal(
      territorySetWithin({ included: ['FR'], excluded: [] }, { included: ['Worldwide'], excluded: ['DE'] }),
      true,
    )
    assert.equal(
      territorySetWithin({ included: ['DE'], excluded: [] }, { included: ['Worldwide'], excluded: ['DE'] }),
      false,
    )
    assert.equal(
      territorySetWithin(
        { included: ['Worldwide'], excluded: ['DE', 'FR'] },
        { included: ['Worldwide'], excluded: ['DE'] },
      ),
      true,
    )
    assert.equal(territorySetWithin({ included: [], excluded: [] }, { included: [], excluded: [] }), true)
  })

  it('agrees with the expanded sets for random territory sets', () => {
    const code = fc.constantFrom(...COUNTRY_CODES, 'Worldwide')
    const set = fc.record({ included: fc.array(code, { maxLength: 6 }), excluded: fc.array(code, { maxLength: 6 }) })
    fc.assert(
      fc.property(set, set, fc.constantFrom(...COUNTRY_CODES), (inner, outer, country) => {
        const innerCovers = territoryCovers(inner.included, inner.excluded, country)
        assert.equal(innerCovers, expandTerritories(inner.included, inner.excluded).has(country))
        if (territorySetWithin(inner, outer) && innerCovers) {
          assert.equal(territoryCovers(outer.included, outer.excluded, country), true)
        }
        assert.equal(territorySetWithin(inner, inner), true)
      }),
    )
  })
})
