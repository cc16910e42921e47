import assert from 'node:assert/strict'
import {
  type Decision,
  type DenyCode,
  DenyCodes,
  evaluate,
  initialUsageState,
  MS_PER_DAY,
  type ResolvedRules,
  remaining,
  resolveRules,
  type UsageAction,
  type UsageRules,
  type UsageState,
} from '../../../protocols/usage-rules/index.ts'
import { deepFreeze, ISSUED_AT } from './arbitraries.ts'

const HOUR_MS = 3_600_000

/** Rules as a licence would say them, with no network defaults: what the licence leaves out is unlimited. */
function rulesOf(rules: UsageRules): ResolvedRules {
  return resolveRules(rules, {})
}

function allowed(decision: Decision): UsageState {
  if (!decision.allow) assert.fail(`expected allow, got ${decision.reason.code}: ${decision.reason.message}`)
  return decision.state
}

function denied(decision: Decision, code: DenyCode): string {
  if (decision.allow) assert.fail(`expected ${code}, got allow`)
  assert.equal(decision.reason.code, code, decision.reason.message)
  assert.ok(decision.reason.message.length > 0)
  return decision.reason.message
}

/** Apply actions in turn at `now`, expecting every one allowed; returns the final state. */
function run(rules: ResolvedRules, state: UsageState, now: number, ...actions: UsageAction[]): UsageState {
  let s = state
  for (const action of actions) s = allowed(evaluate(rules, s, action, now))
  return s
}

const play = { kind: 'play' } as const
const exportOnce = { kind: 'export' } as const
const burn = { kind: 'burn' } as const
const transfer = { kind: 'transfer' } as const
const sync = { kind: 'sync' } as const
const seconds = (n: number) => ({ kind: 'play-seconds', seconds: n }) as const
const preview = (n: number) => ({ kind: 'preview', seconds: n }) as const
const addDevices = (n: number) => ({ kind: 'add-device', devices: n }) as const

const fresh = initialUsageState(ISSUED_AT)
const t0 = ISSUED_AT + HOUR_MS

describe('usage-rules/evaluate', () => {
  it('starts a licence at zero, in sync as of its issue, held by no device yet', () => {
    assert.deepEqual(initialUsageState(ISSUED_AT), {
      plays: 0,
      playSeconds: 0,
      firstPlayAt: null,
      exports: 0,
      burns: 0,
      transferred: false,
      lastSyncAt: ISSUED_AT,
      devices: 0,
    })
  })

  describe('plays', () => {
    it('counts each play started and denies the one past the limit', () => {
      const rules = rulesOf({ plays: 2 })
      const one = allowed(evaluate(rules, fresh, play, t0))
      assert.equal(one.plays, 1)
      assert.equal(one.firstPlayAt, t0)
      const two = allowed(evaluate(rules, one, play, t0 + 1000))
      assert.equal(two.plays, 2)
      assert.equal(two.firstPlayAt, t0, 'the first play is remembered, not the latest')
      const message = denied(evaluate(rules, two, play, t0 + 2000), DenyCodes.PlaysExhausted)
      assert.match(message, /played twice/)
    })

    it('allows no play at all under plays: 0', () => {
      const message = denied(evaluate(rulesOf({ plays: 0 }), fresh, play, t0), DenyCodes.PlaysExhausted)
      assert.match(message, /does not allow/)
    })

    it('is unlimited when neither licence nor defaults say', () => {
      let s = fresh
      for (let i = 0; i < 1000; i++) s = allowed(evaluate(rulesOf({}), s, play, t0 + i))
      assert.equal(s.plays, 1000)
    })

    it('takes the network default when the licence is silent, and the licence over the default', () => {
      assert.equal(resolveRules({}, { plays: 1 }).plays, 1)
      const rules = resolveRules({ plays: 3 }, { plays: 1 })
      const s = run(rules, fresh, t0, play, play, play)
      denied(evaluate(rules, s, play, t0), DenyCodes.PlaysExhausted)
    })
  })

  describe('playSeconds', () => {
    const rules = rulesOf({ playSeconds: 600 })

    it('counts playing time only once a play has started', () => {
      denied(evaluate(rules, fresh, seconds(10), t0), DenyCodes.NoPlayStarted)
    })

    it('accumulates up to exactly the limit and refuses what would pass it', () => {
      const started = allowed(evaluate(rules, fresh, play, t0))
      const s = run(rules, started, t0 + 1000, seconds(300), seconds(299), seconds(1))
      assert.equal(s.playSeconds, 600)
      const message = denied(evaluate(rules, started, seconds(601), t0), DenyCodes.PlaySecondsExhausted)
      assert.match(message, /601 more seconds would pass the 10 minutes/)
      denied(evaluate(rules, s, seconds(1), t0), DenyCodes.PlaySecondsExhausted)
      assert.ok(evaluate(rules, s, seconds(0), t0).allow, 'zero seconds pass no limit')
    })

    it('refuses to start a play when the playing time is used up', () => {
      const s = run(rules, fresh, t0, play, seconds(600))
      denied(evaluate(rules, s, play, t0), DenyCodes.PlaySecondsExhausted)
    })
  })

  describe('notAfter', () => {
    const notAfter = ISSUED_AT + 10 * MS_PER_DAY
    const rules = rulesOf({ notAfter, transfer: true })

    it('allows use at exactly notAfter and refuses it one millisecond later', () => {
      allowed(evaluate(rules, fresh, play, notAfter))
      const message = denied(evaluate(rules, fresh, play, notAfter + 1), DenyCodes.Expired)
      assert.match(message, /expired at 2026-11-11 00:00:00 UTC/)
    })

    it('applies to every use action', () => {
      const started = allowed(evaluate(rules, fresh, play, t0))
      for (const action of [play, seconds(1), exportOnce, burn, transfer, addDevices(1)]) {
        allowed(evaluate(rules, started, action, notAfter))
        denied(evaluate(rules, started, action, notAfter + 1), DenyCodes.Expired)
      }
    })

    it('does not stop a sync (reports must get through) nor a preview', () => {
      const s = allowed(evaluate(rules, fresh, sync, notAfter + MS_PER_DAY))
      assert.equal(s.lastSyncAt, notAfter + MS_PER_DAY)
      allowed(evaluate(rules, fresh, preview(30), notAfter + MS_PER_DAY))
    })
  })

  describe('rentalSeconds', () => {
    const rentalSeconds = 48 * 3600
    const rentalMs = rentalSeconds * 1000
    const rules = rulesOf({ rentalSeconds })

    it('does not run before the first play', () => {
      const late = ISSUED_AT + 100 * MS_PER_DAY
      const s = allowed(evaluate(rules, fresh, play, late))
      assert.equal(s.firstPlayAt, late)
    })

    it('expires exactly at its boundary: allowed at first play + rental, refused one millisecond later', () => {
      const s = allowed(evaluate(rules, fresh, play, t0))
      for (const action of [play, seconds(5), exportOnce, burn, addDevices(1)]) {
        allowed(evaluate(rules, s, action, t0 + rentalMs))
        const message = denied(evaluate(rules, s, action, t0 + rentalMs + 1), DenyCodes.RentalExpired)
        assert.match(message, /rental of 48 hours that began with the first play ended at 2026-11-03 01:00:00 UTC/)
      }
    })

    it('is measured from the first play, not the latest', () => {
      const s = run(rules, fresh, t0, play)
      const later = allowed(evaluate(rules, s, play, t0 + rentalMs - 1))
      denied(evaluate(rules, later, play, t0 + rentalMs + 1), DenyCodes.RentalExpired)
    })

    it('with rentalSeconds: 0 allows only the instant of the first play', () => {
      const zero = rulesOf({ rentalSeconds: 0 })
      const s = run(zero, fresh, t0, play, seconds(0))
      denied(evaluate(zero, s, seconds(1), t0 + 1), DenyCodes.RentalExpired)
    })
  })

  describe('offline', () => {
    const rules = rulesOf({ offline: 30 })
    const window = 30 * MS_PER_DAY

    it('allows use until exactly offline days after the last sync, and not a millisecond more', () => {
      allowed(evaluate(rules, fresh, play, ISSUED_AT + window))
      const message = denied(evaluate(rules, fresh, play, ISSUED_AT + window + 1), DenyCodes.OfflineTooLong)
      assert.match(message, /offline for 30 days and last reconnected at 2026-11-01 00:00:00 UTC/)
    })

    it('opens the window again on sync', () => {
      const away = ISSUED_AT + window + 5 * MS_PER_DAY
      denied(evaluate(rules, fresh, play, away), DenyCodes.OfflineTooLong)
      const synced = allowed(evaluate(rules, fresh, sync, away))
      assert.equal(synced.lastSyncAt, away)
      allowed(evaluate(rules, synced, play, away + window))
      denied(evaluate(rules, synced, play, away + window + 1), DenyCodes.OfflineTooLong)
    })

    it('never moves lastSyncAt back on a sync read from an earlier clock', () => {
      const synced = allowed(evaluate(rules, fresh, sync, ISSUED_AT + MS_PER_DAY))
      const again = allowed(evaluate(rules, synced, sync, ISSUED_AT))
      assert.equal(again.lastSyncAt, ISSUED_AT + MS_PER_DAY)
    })

    it('with offline: 0 allows use only at the instant of a sync', () => {
      const online = rulesOf({ offline: 0 })
      const now = ISSUED_AT + MS_PER_DAY
      denied(evaluate(online, fresh, play, now), DenyCodes.OfflineTooLong)
      const synced = allowed(evaluate(online, fresh, sync, now))
      allowed(evaluate(online, synced, play, now))
      denied(evaluate(online, synced, play, now + 1), DenyCodes.OfflineTooLong)
    })

    it('is 30 days under the network defaults', () => {
      const { offline } = resolveRules({}, { offline: 30 })
      assert.equal(offline, 30)
    })
  })

  describe('export and burn', () => {
    it('allows as many exports as the rule says and refuses the next', () => {
      const rules = rulesOf({ export: 3 })
      const s = run(rules, fresh, t0, exportOnce, exportOnce, exportOnce)
      assert.equal(s.exports, 3)
      assert.match(denied(evaluate(rules, s, exportOnce, t0), DenyCodes.ExportExhausted), /exported 3 times/)
      denied(evaluate(rulesOf({ export: 0 }), fresh, exportOnce, t0), DenyCodes.ExportExhausted)
    })

    it('allows as many burns as the rule says and refuses the next', () => {
      const rules = rulesOf({ burn: 2 })
      const s = run(rules, fresh, t0, burn, burn)
      assert.equal(s.burns, 2)
      assert.match(denied(evaluate(rules, s, burn, t0), DenyCodes.BurnExhausted), /burned twice/)
      denied(evaluate(rulesOf({ burn: 0 }), fresh, burn, t0), DenyCodes.BurnExhausted)
    })

    it('counts exports and burns apart from plays', () => {
      const rules = rulesOf({ plays: 1, export: 1, burn: 1 })
      const s = run(rules, fresh, t0, play, exportOnce, burn)
      assert.deepEqual([s.plays, s.exports, s.burns], [1, 1, 1])
    })
  })

  describe('transfer', () => {
    it('is forbidden unless granted (and the network default is not to)', () => {
      assert.match(
        denied(evaluate(rulesOf({}), fresh, transfer, t0), DenyCodes.TransferForbidden),
        /may not be transferred/,
      )
      denied(evaluate(rulesOf({ transfer: false }), fresh, transfer, t0), DenyCodes.TransferForbidden)
    })

    it('once done, leaves this holder nothing but sync and preview', () => {
      const rules = rulesOf({ transfer: true })
      const s = allowed(evaluate(rules, fresh, transfer, t0))
      assert.equal(s.transferred, true)
      for (const action of [play, seconds(1), exportOnce, burn, transfer, addDevices(1)]) {
        denied(evaluate(rules, s, action, t0), DenyCodes.Transferred)
      }
      allowed(evaluate(rules, s, sync, t0))
      allowed(evaluate(rules, s, preview(1), t0))
    })
  })

  describe('devices', () => {
    it('adds devices up to the limit and refuses one more', () => {
      const rules = rulesOf({ devices: 3 })
      const s = run(rules, fresh, t0, addDevices(1), addDevices(2))
      assert.equal(s.devices, 3)
      const message = denied(evaluate(rules, s, addDevices(1), t0), DenyCodes.TooManyDevices)
      assert.match(message, /adding 1 device would make 4; the licence allows at most 3/)
      denied(evaluate(rules, fresh, addDevices(4), t0), DenyCodes.TooManyDevices)
    })

    it('allows 5 devices under the network defaults', () => {
      const rules = resolveRules({}, { devices: 5 })
      const s = run(rules, fresh, t0, addDevices(5))
      denied(evaluate(rules, s, addDevices(1), t0), DenyCodes.TooManyDevices)
    })
  })

  describe('preview', () => {
    const rules = rulesOf({ previewSeconds: 30, plays: 0, notAfter: ISSUED_AT })

    it('allows a preview up to previewSeconds and nothing longer; counts nothing', () => {
      const s = allowed(evaluate(rules, fresh, preview(30), t0))
      assert.deepEqual(s, fresh)
      assert.notEqual(s, fresh, 'a new state, never the input')
      const message = denied(evaluate(rules, fresh, preview(31), t0), DenyCodes.PreviewTooLong)
      assert.match(message, /31 seconds is longer than the 30 seconds allowed/)
    })

    it('ignores every other rule: the listener has no licence', () => {
      const offline = rulesOf({ previewSeconds: 30, offline: 0, notAfter: 0 })
      allowed(evaluate(offline, fresh, preview(30), ISSUED_AT + 365 * MS_PER_DAY))
    })
  })

  describe('order of checks', () => {
    it('reports transferred before expiry, expiry before rental, rental before offline, all before limits', () => {
      const rules = rulesOf({ plays: 1, notAfter: t0 + 10, rentalSeconds: 1, offline: 0, transfer: true })
      const played = allowed(evaluate(rules, allowed(evaluate(rules, fresh, sync, t0)), play, t0))
      const late = t0 + 2000
      denied(evaluate(rules, { ...played, transferred: true }, play, late), DenyCodes.Transferred)
      denied(evaluate(rules, played, play, late), DenyCodes.Expired)
      denied(evaluate({ ...rules, notAfter: null }, played, play, late), DenyCodes.RentalExpired)
      denied(evaluate({ ...rules, notAfter: null, rentalSeconds: null }, played, play, late), DenyCodes.OfflineTooLong)
      denied(
        evaluate({ ...rules, notAfter: null, rentalSeconds: null, offline: null }, played, play, late),
        DenyCodes.PlaysExhausted,
      )
    })
  })

  describe('purity', () => {
    it('never changes its inputs, allowed or denied', () => {
      const rules = deepFreeze(rulesOf({ plays: 1, devices: 1, export: 0, transfer: true }))
      const state = deepFreeze({ ...fresh })
      for (const action of [play, seconds(1), exportOnce, burn, transfer, addDevices(2), sync, preview(5)]) {
        evaluate(rules, state, deepFreeze({ ...action }), t0)
      }
      assert.deepEqual(state, fresh)
    })
  })

  describe('malformed input', () => {
    const rules = rulesOf({})
    const cases: Array<[string, () => Decision]> = [
      ['a negative time', () => evaluate(rules, fresh, play, -1)],
      ['a fractional time', () => evaluate(rules, fresh, play, 1.5)],
      ['a time past 2^53', () => evaluate(rules, fresh, play, 2 ** 53)],
      ['NaN seconds', () => evaluate(rules, fresh, seconds(Number.NaN), t0)],
      ['negative preview seconds', () => evaluate(rules, fresh, preview(-1), t0)],
      ['fractional devices', () => evaluate(rules, fresh, addDevices(0.5), t0)],
      ['an unknown action', () => evaluate(rules, fresh, { kind: 'rip' } as unknown as UsageAction, t0)],
      ['no action', () => evaluate(rules, fresh, null as unknown as UsageAction, t0)],
      ['a negative count in the state', () => evaluate(rules, { ...fresh, plays: -1 }, play, t0)],
      ['plays counted with no first play', () => evaluate(rules, { ...fresh, plays: 2 }, play, t0)],
      ['a first play with no play counted', () => evaluate(rules, { ...fresh, firstPlayAt: t0 }, play, t0)],
      ['a rule that is a string', () => evaluate({ ...rules, plays: '3' as unknown as number }, fresh, play, t0)],
      [
        'transfer that is not a boolean',
        () => evaluate({ ...rules, transfer: 1 as unknown as boolean }, fresh, play, t0),
      ],
      ['no rules', () => evaluate(undefined as unknown as ResolvedRules, fresh, play, t0)],
      ['no state', () => evaluate(rules, undefined as unknown as UsageState, play, t0)],
    ]
    for (const [what, decide] of cases) {
      it(`denies ${what} as invalid-input, without throwing`, () => {
        denied(decide(), DenyCodes.InvalidInput)
      })
    }

    it('names the field at fault', () => {
      assert.match(
        denied(evaluate(rules, { ...fresh, burns: -2 }, burn, t0), DenyCodes.InvalidInput),
        /state burns is -2/,
      )
      assert.match(
        denied(evaluate(rules, fresh, { kind: 'rip' } as never, t0), DenyCodes.InvalidInput),
        /unknown action "rip"/,
      )
    })
  })

  describe('remaining', () => {
    it('says what is left of each count and the last usable instant', () => {
      const rules = rulesOf({ plays: 5, playSeconds: 600, export: 1, devices: 2, rentalSeconds: 3600, offline: 30 })
      const s = run(rules, fresh, t0, play, seconds(100), exportOnce)
      assert.deepEqual(remaining(rules, s, t0), {
        plays: 4,
        playSeconds: 500,
        exports: 0,
        burns: null,
        devices: 2,
        usableUntil: t0 + HOUR_MS,
      })
      allowed(evaluate(rules, s, play, t0 + HOUR_MS))
      denied(evaluate(rules, s, play, t0 + HOUR_MS + 1), DenyCodes.RentalExpired)
    })

    it('counts an unstarted rental from now, and picks the earliest window', () => {
      const rules = rulesOf({ rentalSeconds: 40 * 86_400, offline: 30, notAfter: ISSUED_AT + 50 * MS_PER_DAY })
      assert.equal(remaining(rules, fresh, ISSUED_AT).usableUntil, ISSUED_AT + 30 * MS_PER_DAY)
      assert.equal(remaining(rulesOf({}), fresh, ISSUED_AT).usableUntil, null)
    })
  })
})
