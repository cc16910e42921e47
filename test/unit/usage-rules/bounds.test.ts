import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  checkRulesWithinBounds,
  DEFAULT_NETWORK_RULES,
  InvalidRuleBoundsError,
  InvalidUsageRulesError,
  type RuleBounds,
  resolveRules,
} from '../../../protocols/usage-rules/index.ts'
import { anyUsageRules } from './arbitraries.ts'

const ALL_BOUNDS = [
  'maxPlays',
  'maxPlaySeconds',
  'minRentalSeconds',
  'maxRentalSeconds',
  'maxDevices',
  'maxOfflineDays',
  'maxExport',
  'maxBurn',
  'maxPreviewSeconds',
  'transferAllowed',
] as const satisfies ReadonlyArray<keyof RuleBounds>

/** The rule each bound constrains. */
const CLAUSE_OF: Record<keyof RuleBounds, string> = {
  maxPlays: 'plays',
  maxPlaySeconds: 'playSeconds',
  minRentalSeconds: 'rentalSeconds',
  maxRentalSeconds: 'rentalSeconds',
  maxDevices: 'devices',
  maxOfflineDays: 'offline',
  maxExport: 'export',
  maxBurn: 'burn',
  maxPreviewSeconds: 'previewSeconds',
  transferAllowed: 'transfer',
}

describe('usage-rules/bounds', () => {
  it('names the clause and says it in plain words', () => {
    assert.deepEqual(checkRulesWithinBounds({ devices: 10 }, { maxDevices: 3 }, DEFAULT_NETWORK_RULES), [
      { clause: 'devices', bound: 'maxDevices', message: 'offer allows 10 devices, contract at most 3' },
    ])
  })

  it('resolves an absent rule through the defaults before comparing', () => {
    const violations = checkRulesWithinBounds({}, { maxDevices: 3 }, DEFAULT_NETWORK_RULES)
    assert.deepEqual(violations, [
      { clause: 'devices', bound: 'maxDevices', message: 'offer allows 5 devices, contract at most 3' },
    ])
    assert.deepEqual(checkRulesWithinBounds({ devices: 3 }, { maxDevices: 3 }, DEFAULT_NETWORK_RULES), [])
  })

  it('passes rules exactly at their bounds', () => {
    const rules = { plays: 10, playSeconds: 3600, rentalSeconds: 86_400, devices: 3, export: 1, burn: 2, offline: 7 }
    const bounds = {
      maxPlays: 10,
      maxPlaySeconds: 3600,
      minRentalSeconds: 86_400,
      maxRentalSeconds: 86_400,
      maxDevices: 3,
      maxExport: 1,
      maxBurn: 2,
      maxOfflineDays: 7,
      maxPreviewSeconds: 30,
      transferAllowed: false,
    }
    assert.deepEqual(checkRulesWithinBounds(rules, bounds, DEFAULT_NETWORK_RULES), [])
  })

  it('treats unlimited as breaking every maximum and meeting every minimum', () => {
    const violations = checkRulesWithinBounds({}, { maxPlays: 10, minRentalSeconds: 60 }, {})
    assert.deepEqual(violations, [
      { clause: 'plays', bound: 'maxPlays', message: 'offer allows unlimited plays, contract at most 10' },
    ])
    assert.deepEqual(
      checkRulesWithinBounds({}, { maxRentalSeconds: 172_800 }, {}).map((v) => v.message),
      ['offer has no rental window (use without end), contract at most 172800 seconds'],
    )
  })

  it('refuses a rental shorter than the minimum', () => {
    assert.deepEqual(checkRulesWithinBounds({ rentalSeconds: 3600 }, { minRentalSeconds: 86_400 }, {}), [
      {
        clause: 'rentalSeconds',
        bound: 'minRentalSeconds',
        message: 'offer rents for 3600 seconds, contract at least 86400 seconds',
      },
    ])
  })

  it('refuses transfer where the contract forbids it, and only there', () => {
    assert.deepEqual(checkRulesWithinBounds({ transfer: true }, { transferAllowed: false }, {}), [
      { clause: 'transfer', bound: 'transferAllowed', message: 'offer allows transfer, contract forbids it' },
    ])
    assert.deepEqual(checkRulesWithinBounds({ transfer: true }, { transferAllowed: true }, {}), [])
    assert.deepEqual(checkRulesWithinBounds({ transfer: true }, {}, {}), [])
    assert.deepEqual(checkRulesWithinBounds({}, { transferAllowed: false }, { transfer: true }).length, 1)
  })

  it('names every failing clause when all fail at once', () => {
    const rules = {
      plays: 11,
      playSeconds: 3601,
      rentalSeconds: 10,
      devices: 4,
      export: 2,
      burn: 3,
      transfer: true,
      offline: 31,
      previewSeconds: 31,
    }
    const bounds = {
      maxPlays: 10,
      maxPlaySeconds: 3600,
      minRentalSeconds: 60,
      maxDevices: 3,
      maxExport: 1,
      maxBurn: 2,
      transferAllowed: false,
      maxOfflineDays: 30,
      maxPreviewSeconds: 30,
    }
    const violations = checkRulesWithinBounds(rules, bounds, {})
    assert.deepEqual(
      violations.map((v) => v.clause),
      ['plays', 'playSeconds', 'rentalSeconds', 'devices', 'offline', 'export', 'burn', 'previewSeconds', 'transfer'],
    )
    assert.deepEqual(
      violations.map((v) => v.message),
      [
        'offer allows 11 plays, contract at most 10',
        'offer allows 3601 seconds of playing time, contract at most 3600 seconds',
        'offer rents for 10 seconds, contract at least 60 seconds',
        'offer allows 4 devices, contract at most 3',
        'offer allows 31 days offline, contract at most 30 days',
        'offer allows 2 exports, contract at most 1',
        'offer allows 3 burns, contract at most 2',
        'offer allows a preview of 31 seconds, contract at most 30 seconds',
        'offer allows transfer, contract forbids it',
      ],
    )
  })

  it('refuses malformed rules or bounds with typed errors', () => {
    assert.throws(() => checkRulesWithinBounds({ plays: -1 }, {}, {}), InvalidUsageRulesError)
    assert.throws(() => checkRulesWithinBounds({}, { maxPlays: 1.5 }, {}), InvalidRuleBoundsError)
    assert.throws(
      () => checkRulesWithinBounds({}, { minRentalSeconds: 2, maxRentalSeconds: 1 }, {}),
      InvalidRuleBoundsError,
    )
  })

  it('reports exactly the bounds that are broken, for any rules, defaults and choice of bounds to break', () => {
    fc.assert(
      fc.property(
        anyUsageRules,
        anyUsageRules,
        fc.subarray([...ALL_BOUNDS]),
        fc.nat({ max: 1_000_000 }),
        (rules, defaults, toBreak, any) => {
          const r = resolveRules(rules, defaults)
          const bounds: RuleBounds = {}
          const broken = new Set<string>()
          // A maximum is met at the value itself and broken one below it; unlimited breaks any maximum.
          const max = (bound: keyof RuleBounds, value: number | null) => {
            if (!toBreak.includes(bound as never)) {
              if (value !== null) Object.assign(bounds, { [bound]: value })
            } else if (value === null) {
              Object.assign(bounds, { [bound]: any })
              broken.add(bound)
            } else if (value > 0) {
              Object.assign(bounds, { [bound]: value - 1 })
              broken.add(bound)
            }
          }
          max('maxPlays', r.plays)
          max('maxPlaySeconds', r.playSeconds)
          max('maxDevices', r.devices)
          max('maxOfflineDays', r.offline)
          max('maxExport', r.export)
          max('maxBurn', r.burn)
          max('maxPreviewSeconds', r.previewSeconds)
          max('maxRentalSeconds', r.rentalSeconds)
          // A minimum is met at 0 and broken one above the value; unlimited meets any minimum. Breaking it
          // must not contradict a maximum kept at the value, nor can both rental bounds break at once.
          if (toBreak.includes('minRentalSeconds') && r.rentalSeconds !== null && !broken.has('maxRentalSeconds')) {
            bounds.minRentalSeconds = r.rentalSeconds + 1
            if (bounds.maxRentalSeconds !== undefined) bounds.maxRentalSeconds = r.rentalSeconds + 1
            broken.add('minRentalSeconds')
          } else {
            bounds.minRentalSeconds = r.rentalSeconds === null ? Math.min(any, bounds.maxRentalSeconds ?? any) : 0
          }
          if (toBreak.includes('transferAllowed') && r.transfer) {
            bounds.transferAllowed = false
            broken.add('transferAllowed')
          } else {
            bounds.transferAllowed = r.transfer || any % 2 === 0
          }

          const violations = checkRulesWithinBounds(rules, bounds, defaults)
          assert.deepEqual(new Set(violations.map((v) => v.bound)), broken)
          for (const v of violations) {
            assert.ok(v.message.startsWith('offer '), v.message)
            assert.equal(v.clause, CLAUSE_OF[v.bound])
          }
        },
      ),
      { numRuns: 1000 },
    )
  })
})
