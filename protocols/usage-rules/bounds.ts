import { count } from './format.ts'
import {
  type NetworkRuleDefaults,
  parseRuleBounds,
  type ResolvedRules,
  type RuleBounds,
  type RuleName,
  resolveRules,
  type UsageRules,
} from './rules.ts'

/** One clause of an offer's rules that its contract's bounds do not allow. */
export interface Violation {
  /** The rule that breaks a bound (`devices`). */
  readonly clause: RuleName
  /** The contract's bound it breaks (`maxDevices`). */
  readonly bound: keyof RuleBounds
  /** In plain words: `offer allows 10 devices, contract at most 3`. */
  readonly message: string
}

type NumericRule = Exclude<RuleName, 'transfer' | 'notAfter'>

/** A numeric bound on one rule, and how to say the rule's resolved value in words (`null`: unlimited). */
interface Clause {
  readonly clause: NumericRule
  readonly bound: Exclude<keyof RuleBounds, 'transferAllowed'>
  readonly kind: 'max' | 'min'
  /** The offer's side: `allows 10 devices`. */
  readonly says: (value: number | null) => string
  /** The contract's number in the rule's unit: `3`, `172800 seconds`. */
  readonly unit: (limit: number) => string
}

const plain = (n: number) => `${n}`
const seconds = (n: number) => count(n, 'second')

/** Checked in this order (then `transferAllowed`), which is the order of the violations returned. */
const CLAUSES: readonly Clause[] = [
  {
    clause: 'plays',
    bound: 'maxPlays',
    kind: 'max',
    says: (v) => (v === null ? 'allows unlimited plays' : `allows ${count(v, 'play')}`),
    unit: plain,
  },
  {
    clause: 'playSeconds',
    bound: 'maxPlaySeconds',
    kind: 'max',
    says: (v) => (v === null ? 'allows unlimited playing time' : `allows ${seconds(v)} of playing time`),
    unit: seconds,
  },
  {
    clause: 'rentalSeconds',
    bound: 'minRentalSeconds',
    kind: 'min',
    says: (v) => (v === null ? 'has no rental window' : `rents for ${seconds(v)}`),
    unit: seconds,
  },
  {
    clause: 'rentalSeconds',
    bound: 'maxRentalSeconds',
    kind: 'max',
    says: (v) => (v === null ? 'has no rental window (use without end)' : `rents for ${seconds(v)}`),
    unit: seconds,
  },
  {
    clause: 'devices',
    bound: 'maxDevices',
    kind: 'max',
    says: (v) => (v === null ? 'allows unlimited devices' : `allows ${count(v, 'device')}`),
    unit: plain,
  },
  {
    clause: 'offline',
    bound: 'maxOfflineDays',
    kind: 'max',
    says: (v) => (v === null ? 'allows offline use without limit' : `allows ${count(v, 'day')} offline`),
    unit: (n) => count(n, 'day'),
  },
  {
    clause: 'export',
    bound: 'maxExport',
    kind: 'max',
    says: (v) => (v === null ? 'allows unlimited exports' : `allows ${count(v, 'export')}`),
    unit: plain,
  },
  {
    clause: 'burn',
    bound: 'maxBurn',
    kind: 'max',
    says: (v) => (v === null ? 'allows unlimited burns' : `allows ${count(v, 'burn')}`),
    unit: plain,
  },
  {
    clause: 'previewSeconds',
    bound: 'maxPreviewSeconds',
    kind: 'max',
    says: (v) => (v === null ? 'allows an unlimited preview' : `allows a preview of ${seconds(v)}`),
    unit: seconds,
  },
]

/**
 * Whether an offer's rules lie within its contract's bounds: one violation per bound broken, none when the offer
 * may be certified. Each rule is first resolved through the network's defaults (an offer that leaves `devices`
 * to a default of 5 breaks `maxDevices: 3`); an unlimited rule breaks any maximum, and satisfies any minimum.
 * `notAfter` has no bound here: the contract's own validity is checked with the offer's window, not its rules.
 *
 * Throws `InvalidUsageRulesError`, `InvalidRuleDefaultsError` or `InvalidRuleBoundsError` on malformed input.
 */
export function checkRulesWithinBounds(
  rules: UsageRules,
  bounds: RuleBounds,
  defaults: NetworkRuleDefaults,
): Violation[] {
  const b = parseRuleBounds(bounds)
  const resolved: ResolvedRules = resolveRules(rules, defaults)
  const violations: Violation[] = []
  for (const c of CLAUSES) {
    const limit = b[c.bound]
    if (limit === undefined) continue
    const value = resolved[c.clause]
    const broken = c.kind === 'max' ? value === null || value > limit : value !== null && value < limit
    if (broken) {
      violations.push({
        clause: c.clause,
        bound: c.bound,
        message: `offer ${c.says(value)}, contract ${c.kind === 'max' ? 'at most' : 'at least'} ${c.unit(limit)}`,
      })
    }
  }
  if (b.transferAllowed === false && resolved.transfer) {
    violations.push({
      clause: 'transfer',
      bound: 'transferAllowed',
      message: 'offer allows transfer, contract forbids it',
    })
  }
  return violations
}
