import { initialUsageState, type UsageState } from './evaluate.ts'
import { type NetworkRuleDefaults, type ResolvedRules, resolveRules, type UsageRules } from './rules.ts'

/** What of a licence's body its rules depend on (kept structural: this module knows no record types). */
export interface LicenceTerms {
  rules: UsageRules
  notAfter: number | null
  /** Uses the purchase had already consumed when the licence was signed (a reissue). */
  used?: UsedCounts | undefined
  created: number
}

export interface UsedCounts {
  plays: number
  playSeconds: number
  exports: number
  burns: number
  firstPlayAt: number | null
}

/**
 * The rules a licence is used under: its own, the network's defaults for the rest, and its `notAfter`. Player and
 * clearinghouse read a licence through this one function, so that what a device may do and what is paid for it
 * are the same rules.
 */
export function licenceRules(licence: LicenceTerms, defaults: NetworkRuleDefaults): ResolvedRules {
  const rules = resolveRules(licence.rules, defaults)
  const notAfter = licence.notAfter
  if (notAfter == null) return rules
  return { ...rules, notAfter: rules.notAfter === null ? notAfter : Math.min(rules.notAfter, notAfter) }
}

/**
 * The rules a paying party bounds plays by: the licence's counts and windows (`plays`, `playSeconds`, `notAfter`,
 * the rental window). `offline` is the device's own reconnection rule (the clearinghouse is what it reconnects
 * to) and `devices` is checked when a device gets the licence, so neither bounds a play here.
 */
export function settlementRules(rules: ResolvedRules): ResolvedRules {
  return { ...rules, offline: null, devices: null }
}

/**
 * The usage state a licence starts from: nothing used for a first licence; for a reissue, the uses its purchase had
 * already consumed (`used`), so that a device whose store was lost gets back what it had, not a fresh licence.
 */
export function initialLicenceState(licence: LicenceTerms): UsageState {
  const fresh = initialUsageState(licence.created)
  const used = licence.used
  if (used == null) return fresh
  return {
    ...fresh,
    plays: used.plays,
    playSeconds: used.playSeconds,
    exports: used.exports,
    burns: used.burns,
    firstPlayAt: used.plays === 0 ? null : (used.firstPlayAt ?? licence.created),
  }
}

/** The larger of two states, counter by counter (never gives back a use either side counted). */
export function maxUsageState(a: UsageState, b: UsageState): UsageState {
  const plays = Math.max(a.plays, b.plays)
  const firsts = [a.firstPlayAt, b.firstPlayAt].filter((t): t is number => t !== null)
  return {
    plays,
    playSeconds: Math.max(a.playSeconds, b.playSeconds),
    firstPlayAt: plays === 0 ? null : firsts.length > 0 ? Math.min(...firsts) : null,
    exports: Math.max(a.exports, b.exports),
    burns: Math.max(a.burns, b.burns),
    transferred: a.transferred || b.transferred,
    lastSyncAt: Math.max(a.lastSyncAt, b.lastSyncAt),
    devices: Math.max(a.devices, b.devices),
  }
}
