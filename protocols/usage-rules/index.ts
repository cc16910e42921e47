/**
 * Usage rules: the closed vocabulary a licence's rights are written in, and the one pure function that player,
 * retailer, registration manager and reference service all use to apply it. See README.md for the precise
 * meaning of each rule.
 */
export { checkRulesWithinBounds, type Violation } from './bounds.ts'
export { describeResolvedRules, describeRules } from './describe.ts'
export {
  InvalidRuleBoundsError,
  InvalidRuleDefaultsError,
  InvalidUsageRulesError,
  InvalidUsageStateError,
  UsageRulesError,
} from './errors.ts'
export {
  type Decision,
  type DenyCode,
  DenyCodes,
  type DenyReason,
  evaluate,
  initialUsageState,
  MS_PER_DAY,
  MS_PER_SECOND,
  parseUsageState,
  type Remaining,
  remaining,
  USAGE_ACTION_KINDS,
  type UsageAction,
  type UsageActionKind,
  type UsageState,
  usageStateSchema,
} from './evaluate.ts'
export {
  initialLicenceState,
  type LicenceTerms,
  licenceRules,
  maxUsageState,
  settlementRules,
  type UsedCounts,
} from './licence.ts'
export {
  DEFAULT_NETWORK_RULES,
  type NetworkRuleDefaults,
  networkRuleDefaultsSchema,
  parseNetworkRuleDefaults,
  parseRuleBounds,
  parseUsageRules,
  quickUsageRules,
  type ResolvedRules,
  RULE_NAMES,
  type RuleBounds,
  type RuleName,
  resolvedRulesSchema,
  resolveRules,
  ruleBoundsSchema,
  type UsageRules,
  usageRulesSchema,
} from './rules.ts'
export { atLeastAsWide, type HeldTerms, type OfferedTerms, USE_TYPE_BREADTH } from './wider.ts'
