import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  DEFAULT_NETWORK_RULES,
  InvalidRuleBoundsError,
  InvalidRuleDefaultsError,
  InvalidUsageRulesError,
  InvalidUsageStateError,
  initialUsageState,
  parseNetworkRuleDefaults,
  parseRuleBounds,
  parseUsageRules,
  parseUsageState,
  RULE_NAMES,
  resolvedRulesSchema,
  resolveRules,
  usageRulesSchema,
} from '../../../protocols/usage-rules/index.ts'
import { anyUsageRules, ISSUED_AT } from './arbitraries.ts'

/** Assert that `fn` throws an error of `ErrorClass` that names `field`. */
function throwsNaming(fn: () => unknown, ErrorClass: new (...args: never[]) => Error, field: string, value?: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ErrorClass, `expected ${ErrorClass.name}, got ${String(e)}`)
    assert.equal(e.name, ErrorClass.name)
    assert.equal((e as unknown as { field: string }).field, field)
    assert.match(e.message, new RegExp(`"${field}"`))
    if (value !== undefined) assert.match(e.message, value)
    return true
  })
}

describe('usage-rules/rules', () => {
  describe('usageRulesSchema', () => {
    it('accepts every rule of the vocabulary, and none at all', () => {
      const all = {
        plays: 10,
        playSeconds: 3600,
        notAfter: ISSUED_AT,
        rentalSeconds: 172_800,
        previewSeconds: 30,
        devices: 3,
        export: 1,
        burn: 2,
        transfer: true,
        offline: 30,
      }
      assert.deepEqual(parseUsageRules(all), all)
      assert.deepEqual(parseUsageRules({}), {})
      assert.deepEqual(Object.keys(all).sort(), [...RULE_NAMES].sort())
    })

    it('refuses a key outside the vocabulary, naming it', () => {
      throwsNaming(() => parseUsageRules({ plays: 1, copies: 2 }), InvalidUsageRulesError, 'copies')
    })

    const bad: Array<[string, unknown, RegExp]> = [
      ['negative', -1, /got -1/],
      ['fractional', 1.5, /got 1.5/],
      ['past 2^53 - 1', 2 ** 53, /got 9007199254740992/],
      ['a string', '3', /got "3"/],
      ['NaN', Number.NaN, /got NaN/],
      ['Infinity', Number.POSITIVE_INFINITY, /got Infinity/],
      ['a bigint', 3n, /got 3n/],
      ['null', null, /got null/],
    ]
    for (const [what, value, shown] of bad) {
      it(`refuses a count that is ${what}, naming the field and the value`, () => {
        throwsNaming(() => parseUsageRules({ devices: value }), InvalidUsageRulesError, 'devices', shown)
      })
    }

    it('accepts the largest safe integer', () => {
      assert.equal(parseUsageRules({ plays: Number.MAX_SAFE_INTEGER }).plays, Number.MAX_SAFE_INTEGER)
    })

    it('refuses a transfer that is not a boolean', () => {
      throwsNaming(() => parseUsageRules({ transfer: 'yes' }), InvalidUsageRulesError, 'transfer', /true or false/)
    })

    it('refuses what is not an object', () => {
      for (const input of [null, 5, 'plays', [1]]) {
        assert.throws(() => parseUsageRules(input), InvalidUsageRulesError)
      }
    })

    it('exports the schema for records to embed', () => {
      assert.equal(usageRulesSchema.safeParse({ plays: 1 }).success, true)
      assert.equal(usageRulesSchema.safeParse({ plays: 1, extra: 1 }).success, false)
    })
  })

  describe('resolveRules', () => {
    it('takes the licence first, then the defaults, and leaves the rest unlimited', () => {
      assert.deepEqual(resolveRules({ plays: 10, devices: 2 }, DEFAULT_NETWORK_RULES), {
        plays: 10,
        playSeconds: null,
        notAfter: null,
        rentalSeconds: null,
        previewSeconds: 30,
        devices: 2,
        export: null,
        burn: null,
        transfer: false,
        offline: null,
      })
    })

    it('does not allow transfer when neither licence nor defaults say', () => {
      assert.equal(resolveRules({}, {}).transfer, false)
      assert.equal(resolveRules({}, { transfer: true }).transfer, true)
      assert.equal(resolveRules({ transfer: false }, { transfer: true }).transfer, false)
    })

    it('keeps a 0 in the licence (0 is a limit, not "absent")', () => {
      const r = resolveRules({ plays: 0, offline: 0, devices: 0 }, DEFAULT_NETWORK_RULES)
      assert.deepEqual([r.plays, r.offline, r.devices], [0, 0, 0])
    })

    it('gives well-formed resolved rules for any rules and defaults', () => {
      fc.assert(
        fc.property(anyUsageRules, anyUsageRules, (rules, defaults) => {
          const r = resolveRules(rules, defaults)
          assert.ok(resolvedRulesSchema.safeParse(r).success)
          for (const name of RULE_NAMES) {
            const expected = rules[name] ?? defaults[name] ?? (name === 'transfer' ? false : null)
            assert.equal(r[name], expected, name)
          }
        }),
      )
    })

    it('refuses malformed rules or defaults with typed errors', () => {
      throwsNaming(() => resolveRules({ plays: -1 }, {}), InvalidUsageRulesError, 'plays')
      throwsNaming(() => resolveRules({}, { offline: 1.5 }), InvalidRuleDefaultsError, 'offline')
      throwsNaming(() => parseNetworkRuleDefaults({ region: 'EU' }), InvalidRuleDefaultsError, 'region')
    })

    it('has the documented network defaults, frozen', () => {
      assert.deepEqual(DEFAULT_NETWORK_RULES, { previewSeconds: 30, devices: 5, transfer: false })
      assert.ok(Object.isFrozen(DEFAULT_NETWORK_RULES))
    })
  })

  describe('ruleBoundsSchema', () => {
    it('accepts every bound, and none', () => {
      const all = {
        maxPlays: 10,
        maxPlaySeconds: 36_000,
        minRentalSeconds: 3600,
        maxRentalSeconds: 172_800,
        maxDevices: 3,
        maxExport: 1,
        maxBurn: 2,
        transferAllowed: false,
        maxOfflineDays: 30,
        maxPreviewSeconds: 30,
      }
      assert.deepEqual(parseRuleBounds(all), all)
      assert.deepEqual(parseRuleBounds({}), {})
    })

    it('refuses an unknown bound and a negative one, naming them', () => {
      throwsNaming(() => parseRuleBounds({ maxCopies: 1 }), InvalidRuleBoundsError, 'maxCopies')
      throwsNaming(() => parseRuleBounds({ maxBurn: -1 }), InvalidRuleBoundsError, 'maxBurn', /got -1/)
    })

    it('refuses a minimum rental above the maximum', () => {
      throwsNaming(
        () => parseRuleBounds({ minRentalSeconds: 100, maxRentalSeconds: 99 }),
        InvalidRuleBoundsError,
        'minRentalSeconds',
        /above maxRentalSeconds/,
      )
      assert.deepEqual(parseRuleBounds({ minRentalSeconds: 100, maxRentalSeconds: 100 }), {
        minRentalSeconds: 100,
        maxRentalSeconds: 100,
      })
    })
  })

  describe('parseUsageState', () => {
    it('accepts a fresh state and one in use', () => {
      const fresh = initialUsageState(ISSUED_AT)
      assert.deepEqual(parseUsageState(fresh), fresh)
      const used = { ...fresh, plays: 2, firstPlayAt: ISSUED_AT + 5, devices: 1 }
      assert.deepEqual(parseUsageState(used), used)
    })

    it('refuses an inconsistent or malformed state, naming the field', () => {
      const fresh = initialUsageState(ISSUED_AT)
      throwsNaming(() => parseUsageState({ ...fresh, plays: 1 }), InvalidUsageStateError, 'firstPlayAt')
      throwsNaming(() => parseUsageState({ ...fresh, firstPlayAt: 1 }), InvalidUsageStateError, 'firstPlayAt')
      throwsNaming(() => parseUsageState({ ...fresh, exports: -1 }), InvalidUsageStateError, 'exports')
      throwsNaming(() => parseUsageState({ ...fresh, extra: true }), InvalidUsageStateError, 'extra')
    })
  })
})
