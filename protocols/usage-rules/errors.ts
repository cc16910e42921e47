/**
 * One class per kind of input the usage-rules module refuses. `evaluate` never throws (a malformed input is a
 * denial with code `invalid-input`); these are thrown by the parsers and by `resolveRules`, which sit at the
 * boundary where rules, defaults, bounds and stored state come in. Each names the field that is wrong (a dotted
 * path, e.g. `plays` or `minRentalSeconds`) and carries a stable `code`.
 */
export class UsageRulesError extends Error {
  static override name = 'UsageRulesError'
  override name = UsageRulesError.name

  readonly code: string = 'ERR_USAGE_RULES'
  readonly field: string

  constructor(field: string, message: string) {
    super(message)
    this.field = field
  }
}

/** A licence's or offer's usage rules are not of the vocabulary: unknown key, wrong type, out of range. */
export class InvalidUsageRulesError extends UsageRulesError {
  static override name = 'InvalidUsageRulesError'
  override name = InvalidUsageRulesError.name

  override readonly code = 'ERR_INVALID_USAGE_RULES'
}

/** The network's rule defaults are malformed. */
export class InvalidRuleDefaultsError extends UsageRulesError {
  static override name = 'InvalidRuleDefaultsError'
  override name = InvalidRuleDefaultsError.name

  override readonly code = 'ERR_INVALID_RULE_DEFAULTS'
}

/** A contract's rule bounds are malformed, or contradict themselves (a minimum above its maximum). */
export class InvalidRuleBoundsError extends UsageRulesError {
  static override name = 'InvalidRuleBoundsError'
  override name = InvalidRuleBoundsError.name

  override readonly code = 'ERR_INVALID_RULE_BOUNDS'
}

/** A stored usage state is malformed or inconsistent (plays counted but no first play recorded). */
export class InvalidUsageStateError extends UsageRulesError {
  static override name = 'InvalidUsageStateError'
  override name = InvalidUsageStateError.name

  override readonly code = 'ERR_INVALID_USAGE_STATE'
}
