import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  DenyCodes,
  evaluate,
  initialUsageState,
  MS_PER_DAY,
  MS_PER_SECOND,
  type ResolvedRules,
  type UsageAction,
  type UsageState,
  usageStateSchema,
} from '../../../protocols/usage-rules/index.ts'
import { anyAction, anyRules, anyState, deepFreeze, ISSUED_AT, smallRules, step } from './arbitraries.ts'

/** Runs per property: enough to reach every limit and window many times over, quick enough for every commit. */
const RUNS = 500

const DENY_CODES = new Set<string>(Object.values(DenyCodes))

/** Every count within its limit (the safe-integer ceiling where unlimited). */
function assertWithinLimits(rules: ResolvedRules, s: UsageState): void {
  const within = (used: number, limit: number | null, what: string) =>
    assert.ok(used <= (limit ?? Number.MAX_SAFE_INTEGER), `${what}: ${used} > ${limit}`)
  within(s.plays, rules.plays, 'plays')
  within(s.playSeconds, rules.playSeconds, 'playSeconds')
  within(s.exports, rules.export, 'exports')
  within(s.burns, rules.burn, 'burns')
  within(s.devices, rules.devices, 'devices')
  assert.ok(!s.transferred || rules.transfer, 'transferred without the right to')
  assert.ok(usageStateSchema.safeParse(s).success, 'the state stays well-formed')
}

/** A use allowed at `now` lay inside every window, judged on the state before it. */
function assertInsideWindows(rules: ResolvedRules, before: UsageState, now: number): void {
  assert.ok(!before.transferred, 'a use after transfer')
  if (rules.notAfter !== null) assert.ok(now <= rules.notAfter, 'a use after notAfter')
  if (rules.rentalSeconds !== null && before.firstPlayAt !== null) {
    assert.ok(now - before.firstPlayAt <= rules.rentalSeconds * MS_PER_SECOND, 'a use after the rental window')
  }
  if (rules.offline !== null) assert.ok(now - before.lastSyncAt <= rules.offline * MS_PER_DAY, 'a use offline too long')
}

/** What an allowed action may change, and by how much. */
function assertOnlyItsEffect(before: UsageState, action: UsageAction, after: UsageState, now: number): void {
  const expected: UsageState = (() => {
    switch (action.kind) {
      case 'play':
        return { ...before, plays: before.plays + 1, firstPlayAt: before.firstPlayAt ?? now }
      case 'play-seconds':
        return { ...before, playSeconds: before.playSeconds + action.seconds }
      case 'preview':
        return before
      case 'export':
        return { ...before, exports: before.exports + 1 }
      case 'burn':
        return { ...before, burns: before.burns + 1 }
      case 'transfer':
        return { ...before, transferred: true }
      case 'add-device':
        return { ...before, devices: before.devices + action.devices }
      case 'sync':
        return { ...before, lastSyncAt: Math.max(before.lastSyncAt, now) }
    }
  })()
  assert.deepEqual(after, expected)
}

describe('usage-rules/evaluate properties', () => {
  it('no sequence of actions, at any pace, takes a state past a limit or uses it outside a window', () => {
    fc.assert(
      fc.property(smallRules, fc.array(step, { minLength: 10, maxLength: 60 }), (rules, steps) => {
        deepFreeze(rules)
        let state = deepFreeze(initialUsageState(ISSUED_AT))
        let now = ISSUED_AT
        for (const { advanceMs, action } of steps) {
          now += advanceMs
          deepFreeze(action)
          const snapshot = structuredClone(state)
          const decision = evaluate(rules, state, action, now)
          // Frozen inputs: a mutation would have thrown; and the state given is still what it was.
          assert.deepEqual(state, snapshot)
          if (decision.allow) {
            assert.notEqual(decision.state, state, 'a new state object')
            assertOnlyItsEffect(state, action, decision.state, now)
            assertWithinLimits(rules, decision.state)
            if (action.kind !== 'sync' && action.kind !== 'preview') assertInsideWindows(rules, state, now)
            if (action.kind === 'preview') assert.ok(action.seconds <= (rules.previewSeconds ?? Infinity))
            state = deepFreeze(decision.state)
          } else {
            // A denial carries no state: the holder goes on with the one it had, unchanged.
            assert.ok(!('state' in decision))
            assert.notEqual(decision.reason.code, DenyCodes.InvalidInput, decision.reason.message)
          }
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('a denied action leaves the state exactly as it was, and is denied again if retried at once', () => {
    fc.assert(
      fc.property(smallRules, fc.array(step, { minLength: 10, maxLength: 40 }), (rules, steps) => {
        let state = initialUsageState(ISSUED_AT)
        let now = ISSUED_AT
        for (const { advanceMs, action } of steps) {
          now += advanceMs
          const before = structuredClone(state)
          const decision = evaluate(rules, state, action, now)
          if (decision.allow) {
            state = decision.state
            continue
          }
          assert.deepEqual(state, before)
          const again = evaluate(rules, state, action, now)
          assert.deepEqual(again, decision, 'the same inputs give the same denial')
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('never throws, and never calls well-formed input malformed, over the whole range of valid input', () => {
    fc.assert(
      fc.property(
        anyRules,
        anyState,
        anyAction(Number.MAX_SAFE_INTEGER),
        fc.maxSafeNat(),
        (rules, state, action, now) => {
          const decision = evaluate(rules, state, action, now)
          if (decision.allow) {
            assert.ok(usageStateSchema.safeParse(decision.state).success, 'an allowed state is well-formed')
          } else {
            assert.ok(DENY_CODES.has(decision.reason.code))
            assert.notEqual(decision.reason.code, DenyCodes.InvalidInput, decision.reason.message)
            assert.equal(typeof decision.reason.message, 'string')
            assert.ok(decision.reason.message.length > 0)
          }
        },
      ),
      { numRuns: RUNS * 4 },
    )
  })

  it('never throws on anything at all: malformed input is denied as invalid-input', () => {
    const junk = fc.oneof(fc.anything(), fc.double(), fc.integer(), fc.constant(undefined), fc.constant(null))
    fc.assert(
      fc.property(
        fc.oneof(anyRules, junk),
        fc.oneof(anyState, junk),
        fc.oneof(anyAction(100), junk, fc.record({ kind: fc.string(), seconds: junk, devices: junk })),
        fc.oneof(fc.maxSafeNat(), junk),
        (rules, state, action, now) => {
          const decision = evaluate(rules as ResolvedRules, state as UsageState, action as UsageAction, now as number)
          assert.equal(typeof decision.allow, 'boolean')
          if (!decision.allow) assert.ok(DENY_CODES.has(decision.reason.code))
        },
      ),
      { numRuns: RUNS * 4 },
    )
  })
})
