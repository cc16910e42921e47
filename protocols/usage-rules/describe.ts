import { count, duration, instant, times } from './format.ts'
import { type NetworkRuleDefaults, type ResolvedRules, resolveRules, type UsageRules } from './rules.ts'

/**
 * The rules, resolved through the network's defaults, as short plain-English phrases for a storefront, in a
 * fixed order: plays, playing time, rental, expiry, devices, offline use, exports, burns, transfer, preview.
 * Plays, devices, offline use, exports, burns and transfer are always stated (an unlimited one as such, so a
 * buyer sees what they get); playing time, rental and expiry only when limited; the preview unless unlimited.
 *
 * `["10 plays", "rent for 48 hours from first play", "play on up to 3 devices", "use offline up to 30 days",
 * "no exports", "burn twice", "not transferable", "30-second preview"]`
 *
 * Throws `InvalidUsageRulesError` or `InvalidRuleDefaultsError` on malformed input.
 */
export function describeRules(rules: UsageRules, defaults: NetworkRuleDefaults): string[] {
  return describeResolvedRules(resolveRules(rules, defaults))
}

/** As `describeRules`, for rules already resolved. Never throws for well-formed rules. */
export function describeResolvedRules(r: ResolvedRules): string[] {
  const phrases: string[] = []
  phrases.push(r.plays === null ? 'unlimited plays' : r.plays === 0 ? 'no plays' : count(r.plays, 'play'))
  if (r.playSeconds !== null) phrases.push(`up to ${duration(r.playSeconds)} of listening`)
  if (r.rentalSeconds !== null) phrases.push(`rent for ${duration(r.rentalSeconds)} from first play`)
  if (r.notAfter !== null) phrases.push(`use until ${instant(r.notAfter)}`)
  phrases.push(
    r.devices === null
      ? 'play on any number of devices'
      : r.devices === 0
        ? 'play on no device'
        : r.devices === 1
          ? 'play on 1 device'
          : `play on up to ${r.devices} devices`,
  )
  phrases.push(
    r.offline === null
      ? 'use offline without limit'
      : r.offline === 0
        ? 'use only right after reconnecting'
        : `use offline up to ${count(r.offline, 'day')}`,
  )
  phrases.push(r.export === null ? 'unlimited exports' : r.export === 0 ? 'no exports' : `export ${times(r.export)}`)
  phrases.push(r.burn === null ? 'unlimited burns' : r.burn === 0 ? 'no burns' : `burn ${times(r.burn)}`)
  phrases.push(r.transfer ? 'transferable to another account' : 'not transferable')
  if (r.previewSeconds !== null) {
    phrases.push(r.previewSeconds === 0 ? 'no preview' : `${previewLength(r.previewSeconds)} preview`)
  }
  return phrases
}

/** `30-second`, `2-minute`, `90-second`: a compound adjective, so singular units. */
function previewLength(seconds: number): string {
  const [amount = '', unit = ''] = duration(seconds).split(' ')
  return `${amount}-${unit.replace(/s$/, '')}`
}
