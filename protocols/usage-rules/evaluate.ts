import { z } from 'zod'
import { InvalidUsageStateError } from './errors.ts'
import { count, duration, instant, times } from './format.ts'
import { flag, parseWith, quantity, type ResolvedRules } from './rules.ts'

/** Milliseconds in a second and in a day: rental windows are in seconds, the offline allowance in days. */
export const MS_PER_SECOND = 1000
export const MS_PER_DAY = 86_400_000

/**
 * What has been done with one licence so far. Plain data: a player keeps it in its usage log, a registration
 * manager keeps its own for the account. `evaluate` never changes one; it returns a new one.
 */
export interface UsageState {
  /** Plays started. */
  readonly plays: number
  /** Seconds of playback accumulated. */
  readonly playSeconds: number
  /** When the first play started (opens the rental window); `null` until then. */
  readonly firstPlayAt: number | null
  readonly exports: number
  readonly burns: number
  /** Set once the licence has been transferred to another account: nothing more may be done with it here. */
  readonly transferred: boolean
  /** When the licence last reconnected (its usage reports were acknowledged): opens the offline window. */
  readonly lastSyncAt: number
  /** Devices of the account that hold the licence, the first one included. */
  readonly devices: number
}

/**
 * The state of a licence just issued at `issuedAt` (ms since the epoch): nothing used, and in sync with the
 * network as of its issue. No device holds it yet: the registration manager records each device, the first one
 * included, with an `add-device` action.
 */
export function initialUsageState(issuedAt: number): UsageState {
  return {
    plays: 0,
    playSeconds: 0,
    firstPlayAt: null,
    exports: 0,
    burns: 0,
    transferred: false,
    lastSyncAt: issuedAt,
    devices: 0,
  }
}

/** Something a holder wants to do with a licence; `evaluate` allows it or says why not. */
export type UsageAction =
  /** Start a play: counts against `plays` and opens the rental window if it is the first. */
  | { readonly kind: 'play' }
  /** Add seconds of playback of a started play (whole seconds: a player rounds partial seconds up). */
  | { readonly kind: 'play-seconds'; readonly seconds: number }
  /** Play a preview to a listener without a licence: only `previewSeconds` applies, and nothing is counted. */
  | { readonly kind: 'preview'; readonly seconds: number }
  | { readonly kind: 'export' }
  | { readonly kind: 'burn' }
  | { readonly kind: 'transfer' }
  /** Let `devices` more devices of the account hold the licence. */
  | { readonly kind: 'add-device'; readonly devices: number }
  /** The licence reconnected (reports acknowledged): the offline window starts again. */
  | { readonly kind: 'sync' }

export type UsageActionKind = UsageAction['kind']

export const USAGE_ACTION_KINDS = [
  'play',
  'play-seconds',
  'preview',
  'export',
  'burn',
  'transfer',
  'add-device',
  'sync',
] as const satisfies ReadonlyArray<UsageActionKind>

/** Why an action was denied. Stable codes that players show and protocols carry. */
export const DenyCodes = {
  /** Every play the licence allows has been started. */
  PlaysExhausted: 'plays-exhausted',
  /** The accumulated playback time is used up, or the seconds asked for would pass it. */
  PlaySecondsExhausted: 'play-seconds-exhausted',
  /** Past `notAfter`. */
  Expired: 'expired',
  /** Past the rental window opened by the first play. */
  RentalExpired: 'rental-expired',
  /** More than `offline` days since the licence last reconnected. */
  OfflineTooLong: 'offline-too-long',
  ExportExhausted: 'export-exhausted',
  BurnExhausted: 'burn-exhausted',
  /** The licence does not allow transfer. */
  TransferForbidden: 'transfer-forbidden',
  /** The licence has been transferred away: this holder may do nothing more with it. */
  Transferred: 'transferred',
  /** Adding the devices would pass `devices`. */
  TooManyDevices: 'too-many-devices',
  /** The preview asked for is longer than `previewSeconds`. */
  PreviewTooLong: 'preview-too-long',
  /** Playback time was reported before any play was started. */
  NoPlayStarted: 'no-play-started',
  /** The rules, state, action or time given are not well-formed (see the message). */
  InvalidInput: 'invalid-input',
} as const
export type DenyCode = (typeof DenyCodes)[keyof typeof DenyCodes]

export interface DenyReason {
  readonly code: DenyCode
  /** In plain words, for the person holding the licence. */
  readonly message: string
}

export type Decision =
  | { readonly allow: true; readonly state: UsageState }
  | { readonly allow: false; readonly reason: DenyReason }

/**
 * Decide whether `action`, done at `now` (ms since the epoch), is within `rules` given what `state` records; if it
 * is, return the state after it. Pure and total: no I/O, no clock, never throws, never changes its inputs, and
 * a denial changes nothing (there is no state to carry on with but the old one). Malformed inputs are denied
 * with `invalid-input`.
 *
 * Order of checks: inputs; then `sync` (always allowed) and `preview` (only `previewSeconds`); then, for every
 * other action: transferred, `notAfter`, rental window, offline window; then the action's own limit.
 */
export function evaluate(rules: ResolvedRules, state: UsageState, action: UsageAction, now: number): Decision {
  const invalid = findInvalidInput(rules, state, action, now)
  if (invalid !== undefined) return deny(DenyCodes.InvalidInput, invalid)

  switch (action.kind) {
    case 'sync':
      // The later of the two: a clock read out of order must not move the window back.
      return allow({ ...state, lastSyncAt: Math.max(state.lastSyncAt, now) })
    case 'preview':
      if (action.seconds > cap(rules.previewSeconds)) {
        return deny(
          DenyCodes.PreviewTooLong,
          `a preview of ${count(action.seconds, 'second')} is longer than the ${count(rules.previewSeconds ?? 0, 'second')} allowed`,
        )
      }
      return allow({ ...state })
  }

  const closed = checkWindows(rules, state, now)
  if (closed !== undefined) return closed

  switch (action.kind) {
    case 'play':
      if (state.plays >= cap(rules.plays)) {
        return deny(DenyCodes.PlaysExhausted, exhausted('played', rules.plays ?? state.plays))
      }
      if (state.playSeconds >= cap(rules.playSeconds)) {
        return deny(
          DenyCodes.PlaySecondsExhausted,
          `all ${duration(rules.playSeconds ?? state.playSeconds)} of playing time allowed have been used`,
        )
      }
      return allow({ ...state, plays: state.plays + 1, firstPlayAt: state.firstPlayAt ?? now })
    case 'play-seconds': {
      if (state.firstPlayAt === null) {
        return deny(DenyCodes.NoPlayStarted, 'playing time can only be counted once a play has started')
      }
      const total = state.playSeconds + action.seconds
      if (total > cap(rules.playSeconds)) {
        return deny(
          DenyCodes.PlaySecondsExhausted,
          `${count(action.seconds, 'more second')} would pass the ${duration(rules.playSeconds ?? state.playSeconds)} ` +
            `of playing time allowed (${count(state.playSeconds, 'second')} used)`,
        )
      }
      return allow({ ...state, playSeconds: total })
    }
    case 'export':
      if (state.exports >= cap(rules.export)) {
        return deny(DenyCodes.ExportExhausted, exhausted('exported', rules.export ?? state.exports))
      }
      return allow({ ...state, exports: state.exports + 1 })
    case 'burn':
      if (state.burns >= cap(rules.burn)) {
        return deny(DenyCodes.BurnExhausted, exhausted('burned', rules.burn ?? state.burns))
      }
      return allow({ ...state, burns: state.burns + 1 })
    case 'transfer':
      if (!rules.transfer) {
        return deny(DenyCodes.TransferForbidden, 'this licence may not be transferred to another account')
      }
      return allow({ ...state, transferred: true })
    case 'add-device': {
      const total = state.devices + action.devices
      if (total > cap(rules.devices)) {
        return deny(
          DenyCodes.TooManyDevices,
          `adding ${count(action.devices, 'device')} would make ${total}; the licence allows at most ${rules.devices ?? state.devices}`,
        )
      }
      return allow({ ...state, devices: total })
    }
    default:
      return unknownKind(action)
  }
}

/** What is left of each limit, and the last instant at which the licence may be used. */
export interface Remaining {
  /** Plays that may still be started; `null`: unlimited. */
  readonly plays: number | null
  readonly playSeconds: number | null
  readonly exports: number | null
  readonly burns: number | null
  readonly devices: number | null
  /**
   * The last millisecond (inclusive) at which a use is allowed, by the earliest of `notAfter`, the rental window
   * (opened `now` if no play has started yet) and the offline window; `null` when no window applies. A player
   * stops playback there. It does not consider `transferred`: a transferred licence allows nothing.
   */
  readonly usableUntil: number | null
}

/**
 * What `rules` still allow given `state`, as of `now`. Pure; for well-formed inputs (anything `evaluate` would
 * not refuse as `invalid-input`).
 */
export function remaining(rules: ResolvedRules, state: UsageState, now: number): Remaining {
  const left = (limit: number | null, used: number) => (limit === null ? null : Math.max(0, limit - used))
  const ends: number[] = []
  if (rules.notAfter !== null) ends.push(rules.notAfter)
  if (rules.rentalSeconds !== null) ends.push((state.firstPlayAt ?? now) + rules.rentalSeconds * MS_PER_SECOND)
  if (rules.offline !== null) ends.push(state.lastSyncAt + rules.offline * MS_PER_DAY)
  return {
    plays: left(rules.plays, state.plays),
    playSeconds: left(rules.playSeconds, state.playSeconds),
    exports: left(rules.export, state.exports),
    burns: left(rules.burn, state.burns),
    devices: left(rules.devices, state.devices),
    usableUntil: ends.length === 0 ? null : Math.min(Number.MAX_SAFE_INTEGER, ...ends),
  }
}

/** A stored usage state, strict; `firstPlayAt` is null exactly when no play has started. */
export const usageStateSchema = z
  .strictObject({
    plays: quantity,
    playSeconds: quantity,
    firstPlayAt: quantity.nullable(),
    exports: quantity,
    burns: quantity,
    transferred: flag,
    lastSyncAt: quantity,
    devices: quantity,
  })
  .refine((s) => (s.plays === 0) === (s.firstPlayAt === null), {
    path: ['firstPlayAt'],
    message: 'must be null exactly when no play has started',
  }) satisfies z.ZodType<UsageState>

/** Decode a stored usage state; throws `InvalidUsageStateError` naming the field. */
export function parseUsageState(input: unknown): UsageState {
  return parseWith(usageStateSchema, input, 'usage state', InvalidUsageStateError)
}

/**
 * Every window is closed at its end: a use at exactly its last millisecond is allowed, one millisecond later is
 * not. Products that pass 2^53 round up, never down, so a very long window cannot close early.
 */
function checkWindows(rules: ResolvedRules, state: UsageState, now: number): Decision | undefined {
  if (state.transferred) {
    return deny(DenyCodes.Transferred, 'this licence has been transferred to another account')
  }
  if (rules.notAfter !== null && now > rules.notAfter) {
    return deny(DenyCodes.Expired, `the licence expired at ${instant(rules.notAfter)}`)
  }
  if (rules.rentalSeconds !== null && state.firstPlayAt !== null) {
    if (now - state.firstPlayAt > rules.rentalSeconds * MS_PER_SECOND) {
      return deny(
        DenyCodes.RentalExpired,
        `the rental of ${duration(rules.rentalSeconds)} that began with the first play ended at ` +
          instant(state.firstPlayAt + rules.rentalSeconds * MS_PER_SECOND),
      )
    }
  }
  if (rules.offline !== null && now - state.lastSyncAt > rules.offline * MS_PER_DAY) {
    return deny(
      DenyCodes.OfflineTooLong,
      `the licence may be used offline for ${count(rules.offline, 'day')} and last reconnected at ` +
        `${instant(state.lastSyncAt)}: reconnect to go on`,
    )
  }
  return undefined
}

/**
 * The unlimited cap: `null` is unlimited, but a counter cannot pass 2^53 - 1 and stay exact, so that is the
 * ceiling of every count.
 */
function cap(limit: number | null): number {
  return limit ?? Number.MAX_SAFE_INTEGER
}

/** `this licence does not allow it to be burned`, `it has been burned twice, all the licence allows`. */
function exhausted(verb: string, limit: number): string {
  if (limit === 0) return `this licence does not allow it to be ${verb}`
  return `it has been ${verb} ${times(limit)}, all the licence allows`
}

function allow(state: UsageState): Decision {
  return { allow: true, state }
}

function deny(code: DenyCode, message: string): Decision {
  return { allow: false, reason: { code, message } }
}

function unknownKind(action: never): Decision {
  return deny(DenyCodes.InvalidInput, `unknown action ${describeValue((action as { kind?: unknown }).kind)}`)
}

const isQuantity = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isLimit = (v: unknown): boolean => v === null || isQuantity(v)

const RULE_LIMITS = [
  'plays',
  'playSeconds',
  'notAfter',
  'rentalSeconds',
  'previewSeconds',
  'devices',
  'export',
  'burn',
  'offline',
] as const satisfies ReadonlyArray<keyof ResolvedRules>
const STATE_COUNTS = [
  'plays',
  'playSeconds',
  'exports',
  'burns',
  'lastSyncAt',
  'devices',
] as const satisfies ReadonlyArray<keyof UsageState>

/**
 * The message for the first thing wrong with the inputs, or `undefined`. Defensive: the types already say all
 * this, but the state comes from storage and the action from a player, and `evaluate` must stay total.
 */
function findInvalidInput(
  rules: ResolvedRules,
  state: UsageState,
  action: UsageAction,
  now: number,
): string | undefined {
  if (!isQuantity(now)) return `the time ${describeValue(now)} is not a safe non-negative integer of ms`
  if (typeof rules !== 'object' || rules === null) return 'no rules given'
  for (const name of RULE_LIMITS) {
    if (!isLimit(rules[name]))
      return `rule ${name} is ${describeValue(rules[name])}, not a safe non-negative integer or null`
  }
  if (typeof rules.transfer !== 'boolean') return `rule transfer is ${describeValue(rules.transfer)}, not true or false`
  if (typeof state !== 'object' || state === null) return 'no usage state given'
  for (const name of STATE_COUNTS) {
    if (!isQuantity(state[name]))
      return `state ${name} is ${describeValue(state[name])}, not a safe non-negative integer`
  }
  if (!isLimit(state.firstPlayAt)) return `state firstPlayAt is ${describeValue(state.firstPlayAt)}, not a time or null`
  if ((state.plays === 0) !== (state.firstPlayAt === null)) {
    return `state firstPlayAt is ${describeValue(state.firstPlayAt)} with ${count(state.plays, 'play')} started`
  }
  if (typeof state.transferred !== 'boolean') return `state transferred is ${describeValue(state.transferred)}`
  if (typeof action !== 'object' || action === null) return 'no action given'
  switch (action.kind) {
    case 'play-seconds':
    case 'preview':
      if (!isQuantity(action.seconds))
        return `${action.kind} seconds ${describeValue(action.seconds)} is not a whole number`
      return undefined
    case 'add-device':
      if (!isQuantity(action.devices))
        return `add-device devices ${describeValue(action.devices)} is not a whole number`
      return undefined
    case 'play':
    case 'export':
    case 'burn':
    case 'transfer':
    case 'sync':
      return undefined
    default:
      return `unknown action ${describeValue((action as { kind?: unknown }).kind)}`
  }
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40))
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object'
  return String(v)
}
