import fc from 'fast-check'
import {
  MS_PER_DAY,
  MS_PER_SECOND,
  type ResolvedRules,
  type UsageAction,
  type UsageRules,
  type UsageState,
} from '../../../protocols/usage-rules/index.ts'

/** 2026-11-01T00:00:00Z: the licences in these tests are issued then. */
export const ISSUED_AT = Date.UTC(2026, 10, 1)

const limit = (max: number) => fc.option(fc.nat({ max }), { nil: null })

/**
 * Rules small enough that random sequences reach every limit and every window: a few plays, minutes of playing
 * time, rentals of minutes to a day, an offline allowance of 0–3 days.
 */
export const smallRules: fc.Arbitrary<ResolvedRules> = fc.record({
  plays: limit(6),
  playSeconds: limit(1200),
  notAfter: fc.option(
    fc.nat({ max: 10 * MS_PER_DAY }).map((ms) => ISSUED_AT + ms),
    { nil: null },
  ),
  rentalSeconds: limit(2 * 86_400),
  previewSeconds: limit(60),
  devices: limit(6),
  export: limit(4),
  burn: limit(4),
  transfer: fc.boolean(),
  offline: limit(3),
})

/** Any well-formed resolved rules, over the whole range the schema allows. */
export const anyRules: fc.Arbitrary<ResolvedRules> = fc.record({
  plays: fc.option(fc.maxSafeNat(), { nil: null }),
  playSeconds: fc.option(fc.maxSafeNat(), { nil: null }),
  notAfter: fc.option(fc.maxSafeNat(), { nil: null }),
  rentalSeconds: fc.option(fc.maxSafeNat(), { nil: null }),
  previewSeconds: fc.option(fc.maxSafeNat(), { nil: null }),
  devices: fc.option(fc.maxSafeNat(), { nil: null }),
  export: fc.option(fc.maxSafeNat(), { nil: null }),
  burn: fc.option(fc.maxSafeNat(), { nil: null }),
  transfer: fc.boolean(),
  offline: fc.option(fc.maxSafeNat(), { nil: null }),
})

/** Any well-formed usage state (`firstPlayAt` null exactly when no play has started). */
export const anyState: fc.Arbitrary<UsageState> = fc
  .record({
    plays: fc.maxSafeNat(),
    playSeconds: fc.maxSafeNat(),
    firstPlayAt: fc.maxSafeNat(),
    exports: fc.maxSafeNat(),
    burns: fc.maxSafeNat(),
    transferred: fc.boolean(),
    lastSyncAt: fc.maxSafeNat(),
    devices: fc.maxSafeNat(),
  })
  .map((s) => ({ ...s, firstPlayAt: s.plays === 0 ? null : s.firstPlayAt }))

/** Any well-formed action; `maxAmount` bounds seconds and devices. */
export const anyAction = (maxAmount: number): fc.Arbitrary<UsageAction> =>
  fc.oneof(
    fc.constant({ kind: 'play' } as const),
    fc.nat({ max: maxAmount }).map((seconds) => ({ kind: 'play-seconds', seconds }) as const),
    fc.nat({ max: maxAmount }).map((seconds) => ({ kind: 'preview', seconds }) as const),
    fc.constant({ kind: 'export' } as const),
    fc.constant({ kind: 'burn' } as const),
    fc.constant({ kind: 'transfer' } as const),
    fc.nat({ max: maxAmount }).map((devices) => ({ kind: 'add-device', devices }) as const),
    fc.constant({ kind: 'sync' } as const),
  )

/**
 * Clock advances: mostly none or seconds (so that counts, not windows, are what runs out), sometimes hours or
 * days (so that every window closes too).
 */
const advance = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.nat({ max: 10 * MS_PER_SECOND }), weight: 4 },
  { arbitrary: fc.nat({ max: 6 * 3_600_000 }), weight: 2 },
  { arbitrary: fc.nat({ max: 4 * MS_PER_DAY }), weight: 1 },
)
/** Actions, weighted towards playing; a transfer ends a sequence's interest, so it is rare. */
const action: fc.Arbitrary<UsageAction> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'play' } as const), weight: 4 },
  { arbitrary: fc.nat({ max: 240 }).map((seconds) => ({ kind: 'play-seconds', seconds }) as const), weight: 6 },
  { arbitrary: fc.nat({ max: 90 }).map((seconds) => ({ kind: 'preview', seconds }) as const), weight: 1 },
  { arbitrary: fc.constant({ kind: 'export' } as const), weight: 2 },
  { arbitrary: fc.constant({ kind: 'burn' } as const), weight: 2 },
  { arbitrary: fc.constant({ kind: 'transfer' } as const), weight: 1 },
  { arbitrary: fc.nat({ max: 3 }).map((devices) => ({ kind: 'add-device', devices }) as const), weight: 2 },
  { arbitrary: fc.constant({ kind: 'sync' } as const), weight: 2 },
)
/** One step of a random history: let the clock run, then try an action. */
export const step = fc.record({ advanceMs: advance, action })

/** Unresolved rules as an offer or licence carries them: any subset of the vocabulary. */
export const anyUsageRules: fc.Arbitrary<UsageRules> = fc.record(
  {
    plays: fc.nat({ max: 1_000_000 }),
    playSeconds: fc.nat({ max: 1_000_000 }),
    notAfter: fc.nat({ max: 2 ** 45 }),
    rentalSeconds: fc.nat({ max: 1_000_000 }),
    previewSeconds: fc.nat({ max: 1_000_000 }),
    devices: fc.nat({ max: 1_000_000 }),
    export: fc.nat({ max: 1_000_000 }),
    burn: fc.nat({ max: 1_000_000 }),
    transfer: fc.boolean(),
    offline: fc.nat({ max: 1_000_000 }),
  },
  { requiredKeys: [] },
)

/** Deep-freeze plain data, so that a mutation by the code under test throws (ESM is strict mode). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
