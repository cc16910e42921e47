import { z } from 'zod'
import { toHex } from '../../../keys/hex.ts'
import { networkRuleDefaultsSchema } from '../../usage-rules/index.ts'
import { count, publicKey, sealingKey, sequence, text, unique } from '../fields.ts'
import { commonFields } from './common.ts'

/**
 * `consort/network`: the genesis record a network is defined by. It names the services everyone trusts
 * (registration managers, reference services, clearinghouses), where to bootstrap, and the limits every node
 * enforces. A higher `seq` signed by the same genesis key supersedes.
 */
const anchor = z.object({ name: text(128), key: publicKey }).strict()
const sealingAnchor = z.object({ name: text(128), key: publicKey, sealingKey }).strict()

export const networkCaps = z
  .object({
    /** Largest record of the small types (offers, certs, receipts…), in bytes. */
    recordBytes: count.min(1024).max(1 << 20),
    /** Largest record of the types that grow with content (manifests, contracts, licences, usage, statements). */
    largeRecordBytes: count.min(1024).max(4 << 20),
    /** Largest gossip message. */
    messageBytes: count.min(1024).max(4 << 20),
    /** How far into the future a record's `created` may lie (clocks drift). */
    clockSkewMs: count.max(24 * 3600_000),
  })
  .strict()
export type NetworkCaps = z.infer<typeof networkCaps>

export const networkPolicy = z
  .object({
    /** Devices one consumer account may register. */
    deviceLimit: count.min(1).max(100),
    /** Players are approved by policy (a devnet approves them at once); other roles wait for an operator. */
    autoApprovePlayers: z.boolean(),
    /** The network's clearing fee, in basis points of each sale. */
    clearingFeeBps: count.max(10_000),
    /** How long a certification stays valid before the retailer must renew it. */
    certificationTtlMs: count.min(60_000),
    /** Usage rules that apply where an offer says nothing. */
    ruleDefaults: networkRuleDefaultsSchema,
    /**
     * Whether players seeding what they hold are paid for delivery like delivery nodes (decision 0511). Added after
     * the first layout: absent means no.
     */
    deliveryPaysListeners: z.boolean().optional(),
  })
  .strict()
export type NetworkPolicy = z.infer<typeof networkPolicy>

export const networkBody = z
  .object({
    ...commonFields,
    seq: sequence,
    registrars: z.array(sealingAnchor).min(1).max(16),
    references: z.array(anchor).max(16),
    clearinghouses: z.array(sealingAnchor).max(16),
    bootstrap: z.array(z.string().min(1).max(512)).max(64),
    caps: networkCaps,
    policy: networkPolicy,
  })
  .strict()
  .superRefine((body, ctx) => {
    for (const list of ['registrars', 'references', 'clearinghouses'] as const) {
      const keys = body[list].map((a) => toHex(a.key))
      if (!unique(keys)) ctx.addIssue({ code: 'custom', path: [list], message: 'a key is listed twice' })
    }
  })
export type NetworkBody = z.infer<typeof networkBody>
