import { InvalidParametersError } from '@libp2p/interface'
import { z } from 'zod'
import { fromHex, toHex } from '../../keys/hex.ts'
import type { Random } from '../../keys/random.ts'
import { tryCanonicalContentId } from '../../protocols/identifiers/index.ts'
import { id as contractIdField } from '../../protocols/records/fields.ts'
import type { ContractBody } from '../../protocols/records/types/contract.ts'
import { MAX_CONTRACT_CONTENT } from '../../protocols/records/types/contract.ts'
import type { ImportIssue } from './errors.ts'
import type { ContractTerms } from './publisher.ts'
import { dateMs, dealFromTerms, termsFields, termsShape, zodIssues } from './terms.ts'

/**
 * Contracts made by hand (`consort contract create|update|revoke`): the request bodies of the control routes, and
 * how an update's fields land on the contract in force. Terms are written as in JSON release descriptions.
 */

const content = z.array(z.string().min(1).max(64)).min(1).max(MAX_CONTRACT_CONTENT)

export const contractCreateSchema = z.strictObject({
  contractId: contractIdField.optional(),
  content,
  ...termsShape,
})
export type ContractCreate = z.input<typeof contractCreateSchema>

export const contractUpdateSchema = z.strictObject({
  content: content.optional(),
  ...Object.fromEntries(Object.entries(termsFields).map(([k, v]) => [k, v.optional()])),
}) as unknown as z.ZodType<Partial<z.output<z.ZodObject<typeof termsFields>>> & { content?: string[] }>
export type ContractUpdate = z.input<typeof contractUpdateSchema>

export const contractRevokeSchema = z.strictObject({
  reason: z.string().min(1).max(512).default('revoked by the distributor'),
})

function refuse(issues: ImportIssue[]): never {
  throw new InvalidParametersError(
    issues.map((i) => `${i.path}${i.value === '' ? '' : ` (${i.value})`}: ${i.message}`).join('; '),
  )
}

function parse<T>(schema: z.ZodType<T>, input: unknown, prefix: string): T {
  const result = schema.safeParse(input)
  if (!result.success) refuse(zodIssues(result.error, prefix, input))
  return result.data
}

/** Content ids in their canonical form, whatever form they were given in (a bare ISRC is a track). */
const contentIds = (list: readonly string[]) => list.map((c) => tryCanonicalContentId(c) ?? c)

export interface NewContract {
  contractId: string
  content: string[]
  terms: ContractTerms
}

/** A `contract create` request: its id (given or fresh), content and terms. */
export function contractFromCreate(
  input: unknown,
  defaults: { now: number; labelKey: Uint8Array; party: string; random: Random },
): NewContract {
  const spec = parse(contractCreateSchema, input, 'contract')
  const issues: ImportIssue[] = []
  const terms = dealFromTerms(
    spec,
    'contract',
    { validFrom: defaults.now, splits: [{ party: defaults.party, key: defaults.labelKey, bps: 10_000 }] },
    issues,
  )
  if (issues.length > 0) refuse(issues)
  return {
    contractId: spec.contractId ?? `c-${toHex(defaults.random.bytes(8))}`,
    content: contentIds(spec.content),
    terms,
  }
}

/** A `contract update` request laid over the contract in force: what it names changes, the rest stays. */
export function contractFromUpdate(current: ContractBody, input: unknown): { content: string[]; terms: ContractTerms } {
  const update = parse(contractUpdateSchema, input, 'contract')
  const issues: ImportIssue[] = []
  const terms: ContractTerms = {
    commercialModel: update.commercialModel ?? current.commercialModel,
    useTypes: update.useTypes ?? current.useTypes,
    territories: update.territories ?? current.territories,
    excludedTerritories: update.excludedTerritories ?? current.excludedTerritories,
    validFrom: update.validFrom == null ? current.validFrom : dateMs(update.validFrom, 'contract.validFrom', issues),
    validUntil:
      update.validUntil === undefined
        ? current.validUntil
        : update.validUntil === null
          ? null
          : dateMs(update.validUntil, 'contract.validUntil', issues),
    wholesale: current.wholesale,
    revenueShareBps: update.revenueShareBps === undefined ? current.revenueShareBps : update.revenueShareBps,
    promotions: current.promotions,
    ruleBounds: update.ruleBounds ?? current.ruleBounds,
    splits: current.splits,
    retailer:
      update.retailer === undefined ? current.retailer : update.retailer === null ? null : fromHex(update.retailer),
    ...(current.delivery !== undefined ? { delivery: current.delivery } : {}),
    ...(current.referral !== undefined ? { referral: current.referral } : {}),
  }
  // Prices, promotions, splits and the delivery fee are converted the same way as at creation (a referral clause has
  // nothing to convert).
  if (update.delivery === null) delete terms.delivery
  if (update.referral === null) delete terms.referral
  if (update.referral != null) terms.referral = { ...update.referral, referrers: [...update.referral.referrers] }
  if (update.wholesale != null || update.promotions != null || update.splits != null || update.delivery != null) {
    const converted = dealFromTerms(
      {
        ...update,
        commercialModel: terms.commercialModel,
        useTypes: terms.useTypes,
        territories: terms.territories,
        excludedTerritories: terms.excludedTerritories,
        wholesale: update.wholesale ?? [],
      },
      'contract',
      { validFrom: terms.validFrom, splits: current.splits },
      issues,
    )
    if (update.wholesale != null) terms.wholesale = converted.wholesale
    if (update.promotions != null) terms.promotions = converted.promotions
    if (update.splits != null) terms.splits = converted.splits
    if (update.delivery != null && converted.delivery !== undefined) terms.delivery = converted.delivery
  }
  if (issues.length > 0) refuse(issues)
  return { content: update.content == null ? current.content : contentIds(update.content), terms }
}
