import { z } from 'zod'
import * as q from '../records/quick.ts'
import {
  InvalidRuleBoundsError,
  InvalidRuleDefaultsError,
  InvalidUsageRulesError,
  type UsageRulesError,
} from './errors.ts'

/**
 * The usage-rules vocabulary: what a licence (or the offer it was bought under) lets its holder do. The
 * vocabulary is closed: decoders refuse any other key. README.md in this folder states precisely what each rule
 * means and how `evaluate` applies it.
 */
export interface UsageRules {
  /** Most plays that may be started. */
  plays?: number
  /** Most seconds of playback, accumulated over all plays. */
  playSeconds?: number
  /** Last instant (ms since the epoch, inclusive) at which the licence may be used. */
  notAfter?: number
  /** Length of the rental window, which opens at the first play. */
  rentalSeconds?: number
  /** Longest preview an unlicensed listener may hear. */
  previewSeconds?: number
  /** Most devices of the account that may hold the licence. */
  devices?: number
  /** Most exports (copies to other formats or devices). */
  export?: number
  /** Most burns to physical media. */
  burn?: number
  /** Whether the licence may be transferred to another account. */
  transfer?: boolean
  /** Days the licence may be used without reconnecting (a `sync`). */
  offline?: number
}

/** The names of the rules, in the order they are described and checked. */
export const RULE_NAMES = [
  'plays',
  'playSeconds',
  'rentalSeconds',
  'notAfter',
  'devices',
  'offline',
  'export',
  'burn',
  'transfer',
  'previewSeconds',
] as const satisfies ReadonlyArray<keyof UsageRules>
export type RuleName = (typeof RULE_NAMES)[number]

/**
 * The network's rules for whatever a licence leaves unsaid: the same fields, where an absent field means
 * "unlimited" (or, for `transfer`, "not allowed").
 */
export type NetworkRuleDefaults = UsageRules

/**
 * Rules with nothing left to the defaults. `null` means unlimited: no cap on that count, no such window. There
 * is no unlimited `transfer`: it is allowed or not.
 */
export interface ResolvedRules {
  readonly plays: number | null
  readonly playSeconds: number | null
  readonly notAfter: number | null
  readonly rentalSeconds: number | null
  readonly previewSeconds: number | null
  readonly devices: number | null
  readonly export: number | null
  readonly burn: number | null
  readonly transfer: boolean
  readonly offline: number | null
}

/**
 * What a contract allows its offers to grant. The reference service certifies an offer only if its resolved
 * rules lie within these (see `checkRulesWithinBounds`). An absent bound does not constrain.
 */
export interface RuleBounds {
  maxPlays?: number
  maxPlaySeconds?: number
  minRentalSeconds?: number
  maxRentalSeconds?: number
  maxDevices?: number
  maxExport?: number
  maxBurn?: number
  /** `false`: offers must not allow transfer. */
  transferAllowed?: boolean
  maxOfflineDays?: number
  maxPreviewSeconds?: number
}

/**
 * The network's defaults unless its genesis record says otherwise:
 * - no `offline` limit: a download bought to keep must not stop playing because its holder stayed away from the
 *   network for a month (docs/decisions/0307). Where plays are paid one by one (streams), the deal bounds it
 *   (`maxOfflineDays`): usage reports settle monthly, and a licence that stayed offline longer would let plays go
 *   unpaid past a statement period.
 * - `previewSeconds: 30`: the preview clip the production role packages when the ERN names none is the first
 *   30 s (DESIGN.md, "Content").
 * - `devices: 5`: a household's phones, computer and car, the common allowance of download stores.
 * - `transfer: false`: a right to resell must be granted, never assumed.
 * Every other rule is unlimited unless the licence limits it.
 */
export const DEFAULT_NETWORK_RULES: Readonly<NetworkRuleDefaults> = Object.freeze({
  previewSeconds: 30,
  devices: 5,
  transfer: false,
})

/** Counts, seconds, days and instants are safe non-negative integers (a count beyond 2^53 - 1 cannot be exact). */
const QUANTITY_MESSAGE = 'must be a safe non-negative integer'
/** Exported for this module's other schemas. */
export const quantity = z.int({ error: QUANTITY_MESSAGE }).nonnegative({ error: QUANTITY_MESSAGE })
export const flag = z.boolean({ error: 'must be true or false' })

const rulesShape = {
  plays: quantity.optional(),
  playSeconds: quantity.optional(),
  notAfter: quantity.optional(),
  rentalSeconds: quantity.optional(),
  previewSeconds: quantity.optional(),
  devices: quantity.optional(),
  export: quantity.optional(),
  burn: quantity.optional(),
  transfer: flag.optional(),
  offline: quantity.optional(),
}

/** The keys of the rules, in the schema's order. */
const RULES_SHAPE_KEYS = Object.keys(rulesShape) as Array<keyof typeof rulesShape>

/** Strict: an unknown key is refused, so a rule this version does not know can never be silently ignored. */
export const usageRulesSchema = z.strictObject(rulesShape) satisfies z.ZodType<UsageRules>

export const networkRuleDefaultsSchema = z.strictObject(rulesShape) satisfies z.ZodType<NetworkRuleDefaults>

export const resolvedRulesSchema = z.strictObject({
  plays: quantity.nullable(),
  playSeconds: quantity.nullable(),
  notAfter: quantity.nullable(),
  rentalSeconds: quantity.nullable(),
  previewSeconds: quantity.nullable(),
  devices: quantity.nullable(),
  export: quantity.nullable(),
  burn: quantity.nullable(),
  transfer: flag,
  offline: quantity.nullable(),
}) satisfies z.ZodType<ResolvedRules>

export const ruleBoundsSchema = z
  .strictObject({
    maxPlays: quantity.optional(),
    maxPlaySeconds: quantity.optional(),
    minRentalSeconds: quantity.optional(),
    maxRentalSeconds: quantity.optional(),
    maxDevices: quantity.optional(),
    maxExport: quantity.optional(),
    maxBurn: quantity.optional(),
    transferAllowed: flag.optional(),
    maxOfflineDays: quantity.optional(),
    maxPreviewSeconds: quantity.optional(),
  })
  .refine(
    (b) =>
      b.minRentalSeconds === undefined || b.maxRentalSeconds === undefined || b.minRentalSeconds <= b.maxRentalSeconds,
    { path: ['minRentalSeconds'], message: 'is above maxRentalSeconds: no rental could satisfy both' },
  ) satisfies z.ZodType<RuleBounds>

/** Decode usage rules from untrusted input; throws `InvalidUsageRulesError` naming the field. */
export function parseUsageRules(input: unknown): UsageRules {
  return parseWith(usageRulesSchema, input, 'usage rules', InvalidUsageRulesError)
}

/** Decode the network's rule defaults; throws `InvalidRuleDefaultsError` naming the field. */
export function parseNetworkRuleDefaults(input: unknown): NetworkRuleDefaults {
  return parseWith(networkRuleDefaultsSchema, input, 'rule defaults', InvalidRuleDefaultsError)
}

/** Decode a contract's rule bounds; throws `InvalidRuleBoundsError` naming the field. */
export function parseRuleBounds(input: unknown): RuleBounds {
  return parseWith(ruleBoundsSchema, input, 'rule bounds', InvalidRuleBoundsError)
}

/**
 * Fill every rule the licence leaves out from the network's defaults; what neither sets is unlimited (`null`),
 * except `transfer`, which is then not allowed. Both inputs are validated: throws `InvalidUsageRulesError` or
 * `InvalidRuleDefaultsError` naming the field.
 */
export function resolveRules(rules: UsageRules, defaults: NetworkRuleDefaults): ResolvedRules {
  const r = parseUsageRules(rules)
  const d = parseNetworkRuleDefaults(defaults)
  return {
    plays: r.plays ?? d.plays ?? null,
    playSeconds: r.playSeconds ?? d.playSeconds ?? null,
    notAfter: r.notAfter ?? d.notAfter ?? null,
    rentalSeconds: r.rentalSeconds ?? d.rentalSeconds ?? null,
    previewSeconds: r.previewSeconds ?? d.previewSeconds ?? null,
    devices: r.devices ?? d.devices ?? null,
    export: r.export ?? d.export ?? null,
    burn: r.burn ?? d.burn ?? null,
    transfer: r.transfer ?? d.transfer ?? false,
    offline: r.offline ?? d.offline ?? null,
  }
}

/**
 * Run a schema and turn its first complaint into the module's typed error, naming the field and the value found
 * there. Exported for the other files of this module only.
 */
export function parseWith<T>(
  schema: z.ZodType<T>,
  input: unknown,
  what: string,
  ErrorClass: new (field: string, message: string) => UsageRulesError,
): T {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  if (issue === undefined) throw new ErrorClass('', `${what}: refused`)
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path, ...issue.keys].join('.')
    throw new ErrorClass(field, `${what}: unknown field "${field}"`)
  }
  const field = issue.path.map(String).join('.')
  if (field === '') throw new ErrorClass('', `${what}: expected an object (got ${show(input)})`)
  const value = issue.path.reduce<unknown>(
    (v, key) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined),
    input,
  )
  throw new ErrorClass(field, `${what}: field "${field}" ${issue.message} (got ${show(value)})`)
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

/** `usageRulesSchema` by hand for the record path (see `protocols/records/quick.ts`): the rules present, in order. */
export function quickUsageRules(v: unknown): UsageRules {
  const o = q.object(v, [], RULES_SHAPE_KEYS)
  const out: UsageRules = {}
  for (const key of RULES_SHAPE_KEYS) {
    if (!Object.hasOwn(o, key)) continue
    if (key === 'transfer') out.transfer = q.boolean(o.transfer)
    else out[key] = q.natural(o[key])
  }
  return out
}
