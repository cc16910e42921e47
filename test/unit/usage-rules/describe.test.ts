import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  DEFAULT_NETWORK_RULES,
  describeRules,
  InvalidUsageRulesError,
  MS_PER_DAY,
} from '../../../protocols/usage-rules/index.ts'
import { anyUsageRules, ISSUED_AT } from './arbitraries.ts'

describe('usage-rules/describe', () => {
  it('phrases a typical download licence for a storefront', () => {
    assert.deepEqual(describeRules({ plays: 10, devices: 3, burn: 2, export: 0, offline: 30 }, DEFAULT_NETWORK_RULES), [
      '10 plays',
      'play on up to 3 devices',
      'use offline up to 30 days',
      'no exports',
      'burn twice',
      'not transferable',
      '30-second preview',
    ])
  })

  it('phrases a rental', () => {
    assert.deepEqual(describeRules({ rentalSeconds: 48 * 3600, transfer: false }, DEFAULT_NETWORK_RULES), [
      'unlimited plays',
      'rent for 48 hours from first play',
      'play on up to 5 devices',
      'use offline without limit',
      'unlimited exports',
      'unlimited burns',
      'not transferable',
      '30-second preview',
    ])
  })

  it('states an unlimited licence as such', () => {
    assert.deepEqual(describeRules({ transfer: true }, {}), [
      'unlimited plays',
      'play on any number of devices',
      'use offline without limit',
      'unlimited exports',
      'unlimited burns',
      'transferable to another account',
    ])
  })

  it('phrases the singular, the zero and the long cases', () => {
    const phrases = describeRules(
      {
        plays: 1,
        playSeconds: 5400,
        rentalSeconds: 30 * 86_400,
        notAfter: ISSUED_AT + 60 * MS_PER_DAY,
        devices: 1,
        offline: 1,
        export: 1,
        burn: 0,
        previewSeconds: 90,
      },
      DEFAULT_NETWORK_RULES,
    )
    assert.deepEqual(phrases, [
      '1 play',
      'up to 90 minutes of listening',
      'rent for 30 days from first play',
      'use until 2026-12-31 00:00:00 UTC',
      'play on 1 device',
      'use offline up to 1 day',
      'export once',
      'no burns',
      'not transferable',
      '90-second preview',
    ])
    assert.deepEqual(describeRules({ plays: 0, offline: 0, devices: 0, previewSeconds: 0 }, {}).slice(0, 3), [
      'no plays',
      'play on no device',
      'use only right after reconnecting',
    ])
    assert.ok(describeRules({ previewSeconds: 0 }, {}).includes('no preview'))
    assert.ok(describeRules({ previewSeconds: 120 }, {}).includes('2-minute preview'))
  })

  it('phrases any valid rules without throwing, even an expiry a Date cannot hold', () => {
    assert.ok(describeRules({ notAfter: Number.MAX_SAFE_INTEGER }, {})[1]?.startsWith('use until 9007199254740991 ms'))
    fc.assert(
      fc.property(anyUsageRules, anyUsageRules, (rules, defaults) => {
        const phrases = describeRules(rules, defaults)
        assert.ok(phrases.length >= 6 && phrases.length <= 10)
        for (const p of phrases) assert.match(p, /^[\w :.-]+$/)
      }),
    )
  })

  it('refuses malformed rules with a typed error', () => {
    assert.throws(() => describeRules({ plays: -3 }, {}), InvalidUsageRulesError)
  })
})
