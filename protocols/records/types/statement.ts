import { z } from 'zod'
import { count, currency, digest32, id, signedAmount, text, timestamp } from '../fields.ts'
import { commonFields } from './common.ts'

/** Lines per statement record; a larger statement is issued in parts, each with its own Merkle root. */
export const MAX_STATEMENT_LINES = 2000

export const statementLine = z
  .object({
    /**
     * `delivery` (decision 0511) and `referral` (decision 0512) were added after the first layout: older statements
     * never carry them.
     */
    kind: z.enum(['sale', 'play', 'split', 'fee', 'refund', 'adjustment', 'delivery', 'referral']),
    /** The purchase id or usage event id the line settles. */
    ref: id,
    content: text(128).nullable(),
    units: count,
    /** Positive: credited to the participant; negative: debited. */
    amount: signedAmount,
    counterparty: text(128).nullable(),
    at: timestamp,
  })
  .strict()
export type StatementLine = z.infer<typeof statementLine>

/**
 * `consort/statement`: what a clearinghouse paid or charged one participant in one period and currency.
 * `merkleRoot` commits to the lines so that each line can be proved to the participant it pays.
 */
export const statementBody = z
  .object({
    ...commonFields,
    period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM'),
    participant: text(128),
    currency,
    part: count,
    parts: count.min(1),
    lines: z.array(statementLine).max(MAX_STATEMENT_LINES),
    totals: z.object({ credits: signedAmount, debits: signedAmount, net: signedAmount }).strict(),
    merkleRoot: digest32,
  })
  .strict()
  .refine((b) => b.part < b.parts, { path: ['part'], message: 'must be less than parts' })
export type StatementBody = z.infer<typeof statementBody>
