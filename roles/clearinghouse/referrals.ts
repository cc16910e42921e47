/**
 * Referral credits (docs/decisions/0512-referral-credits.md). A buyer's signed order may carry the `consort/share`
 * it came through; the share's bytes are kept from the authorisation to the capture, and the capture decides — in
 * the same journalled chain as the sale's split — whether the share's referrer is credited, and how much. What is
 * checked, cheapest first; the first failure is the recorded reason and the sale goes through without a credit:
 *
 * 1. the contract the sale settles under has a `referral` clause (`no-clause`);
 * 2. the share decodes as a `consort/share` of this network (`invalid-share`), its signature verifies and it is
 *    signed by the referrer it names (`bad-signature`), and it had not expired at the clearinghouse's own time of the
 *    purchase — when it authorised it, never the buyer's clock (`expired`);
 * 3. the clause allows the referrer's kind (`kind-not-allowed`), and a retailer referrer holds a current retailer
 *    certificate (`untrusted-referrer`);
 * 4. the purchased offer sells the shared track or release, or the release of the shared track, or a track of the
 *    shared release, as the distributor's own release record lists them (`other-content`);
 * 5. the referrer is not the party that would pay the credit (`referrer-pays`), nor the buyer — its account, the
 *    ordering device, or a device registered to its account — nor the retailer that made the sale (`self-referral`);
 * 6. the share has never credited a purchase of this buyer's account before (`replayed`);
 * 7. the credit, ⌊price × bps / 10 000⌋ capped at the payer's share of this sale, is above zero (`nothing-to-pay`).
 *
 * A capture happens once per purchase id (a retry answers the captured purchase), so a purchase credits at most once.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { toHex } from '../../keys/hex.ts'
import { isError } from '../../protocols/errors.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { decodeShare, type SharedContent, ShareExpiredError, ShareSignatureError } from '../../protocols/share/index.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import { distributorParticipant, retailerParticipant, walletParticipant } from './participants.ts'
import { referralCredit, type SalePlan } from './pricing.ts'
import type { RecordBook } from './records.ts'
import { contentInfoRow, type PurchaseRow, StateKeys, type StoreOp } from './state.ts'
import { del, put, type StateStore } from './store.ts'

/** Why a share credited nothing. */
export const REFERRAL_REASONS = [
  'no-clause',
  'invalid-share',
  'bad-signature',
  'expired',
  'kind-not-allowed',
  'untrusted-referrer',
  'other-content',
  'self-referral',
  'referrer-pays',
  'replayed',
  'nothing-to-pay',
] as const
export type ReferralReason = (typeof REFERRAL_REASONS)[number]

export const ReferralKeys = {
  /** The share a purchase's order carried, kept from its authorisation until its capture decides. */
  share: (purchaseId: string) => `sp/${purchaseId}`,
  /** What the capture decided for a purchase's share: the credit, or why none. */
  verdict: (purchaseId: string) => `sv/${purchaseId}`,
  verdictPrefix: 'sv/',
  /** A share that credited a purchase of an account: never again for that account (the purchase id). */
  credited: (referrer: string, account: string, shareId: string) =>
    `sc/${referrer}/${account}/${createHash('sha256').update(shareId).digest('hex').slice(0, 40)}`,
} as const

const nat = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const sharedRow = z.object({ v: z.literal(1), share: z.instanceof(Uint8Array) }).strict()
const creditedRow = z.object({ v: z.literal(1), purchaseId: z.string() }).strict()

/** A referral's verdict, kept per purchase: `reason` null when credited. */
export const referralRow = z
  .object({
    v: z.literal(1),
    /** The share's CID and its `id` field (null when it did not decode). */
    record: z.string().nullable(),
    shareId: z.string().nullable(),
    /** The participant credited (or who would have been), when the share was the referrer's own. */
    referrer: z.string().nullable(),
    /** The participant that paid it. */
    payer: z.string().nullable(),
    amount: z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v)),
    reason: z.enum(REFERRAL_REASONS).nullable(),
    detail: z.string(),
    at: nat,
  })
  .strict()
export type ReferralRow = z.infer<typeof referralRow>

/** A credit the capture posts: `amount` from `payer` to `payee` (participant ids). */
export interface ReferralCredit {
  payer: string
  payee: string
  amount: bigint
}

/** What the capture of a purchase whose order carried a share does about it. */
export interface ReferralDecision {
  credit: ReferralCredit | null
  row: ReferralRow
  /** Rows to write when the capture is applied: the verdict, the share spent for the buyer, the kept share gone. */
  onSuccess: StoreOp[]
}

export interface ReferralDeps {
  store: StateStore
  records: RecordBook
  trust: CertificateTrust
  network: NetworkContext
}

class Refused {
  readonly reason: ReferralReason
  readonly detail: string
  constructor(reason: ReferralReason, detail: string) {
    this.reason = reason
    this.detail = detail
  }
}

export class Referrals {
  readonly #d: ReferralDeps

  constructor(deps: ReferralDeps) {
    this.#d = deps
  }

  /** At the authorisation: keep the share an order carries until its capture (nothing if it carries none). */
  keep(purchaseId: string, share: Uint8Array | undefined): StoreOp[] {
    return share === undefined ? [] : [put(ReferralKeys.share(purchaseId), { v: 1, share })]
  }

  /** When a purchase ends before its capture: the share it carried is dropped, nothing decided. */
  forget(purchaseId: string): StoreOp[] {
    return [del(ReferralKeys.share(purchaseId))]
  }

  async verdict(purchaseId: string): Promise<ReferralRow | undefined> {
    return this.#d.store.get(referralRow, ReferralKeys.verdict(purchaseId))
  }

  /**
   * At the capture (in its queue, so that no other capture runs between the check and the write): the decision for
   * a purchase's share, or `undefined` if its order carried none. `sale` is the sale's plan without the credit.
   */
  async decide(
    row: PurchaseRow,
    contract: SignedRecord<'consort/contract'>,
    sale: SalePlan,
    now: number,
  ): Promise<ReferralDecision | undefined> {
    const kept = await this.#d.store.get(sharedRow, ReferralKeys.share(row.purchaseId))
    if (kept === undefined) return undefined
    const row0: ReferralRow = {
      v: 1,
      record: null,
      shareId: null,
      referrer: null,
      payer: null,
      amount: 0n,
      reason: null,
      detail: '',
      at: now,
    }
    const done = (verdict: ReferralRow, extra: StoreOp[] = []): StoreOp[] => [
      put(ReferralKeys.verdict(row.purchaseId), verdict),
      del(ReferralKeys.share(row.purchaseId)),
      ...extra,
    ]
    const outcome = await this.#check(row, contract, sale, kept.share, row0)
    if (outcome instanceof Refused) {
      const verdict = { ...row0, reason: outcome.reason, detail: outcome.detail }
      return { credit: null, row: verdict, onSuccess: done(verdict) }
    }
    const { credit, spent } = outcome
    const verdict: ReferralRow = {
      ...row0,
      referrer: credit.payee,
      payer: credit.payer,
      amount: credit.amount,
      detail: `${credit.amount} ${row.currency} from ${credit.payer}`,
    }
    return { credit, row: verdict, onSuccess: done(verdict, [put(spent, { v: 1, purchaseId: row.purchaseId })]) }
  }

  /**
   * Whether an offer selling `sold` sells what a share names: the same track or release, or a release whose record
   * — signed by the contract's distributor, as the catalog brought it — lists the shared track, or a track of the
   * shared release.
   */
  async #sells(sold: readonly string[], content: SharedContent, distributor: string): Promise<boolean> {
    const { track, release } = content
    if ((track !== null && sold.includes(track)) || (release !== null && sold.includes(release))) return true
    const tracksOf = async (releaseId: string) =>
      (await this.#d.store.get(contentInfoRow, StateKeys.contentInfo(releaseId, distributor)))?.tracks ?? []
    for (const id of sold) {
      if (track !== null && !id.startsWith('isrc:') && (await tracksOf(id)).includes(track.slice('isrc:'.length))) {
        return true
      }
    }
    if (release === null) return false
    const tracks = await tracksOf(release)
    return sold.some((id) => id.startsWith('isrc:') && tracks.includes(id.slice('isrc:'.length)))
  }

  /** The checks in order (see the file's comment); fills in `into` what it learns of the share. */
  async #check(
    row: PurchaseRow,
    contract: SignedRecord<'consort/contract'>,
    sale: SalePlan,
    bytes: Uint8Array,
    into: ReferralRow,
  ): Promise<Refused | { credit: ReferralCredit; spent: string }> {
    const clause = contract.body.referral
    if (clause === undefined) return new Refused('no-clause', `contract ${contract.body.contractId} pays no referral`)
    let share: SignedRecord<'consort/share'>
    try {
      // The clearinghouse's own time of the purchase: when it authorised it.
      share = decodeShare(bytes, { network: this.#d.network.name, now: row.authorisedAt, caps: this.#d.network.caps })
    } catch (err) {
      const message = (err as Error).message
      if (isError(err, ShareSignatureError)) return new Refused('bad-signature', message)
      if (isError(err, ShareExpiredError)) return new Refused('expired', message)
      return new Refused('invalid-share', message)
    }
    const { referrer, content } = share.body
    into.record = share.id.toString()
    into.shareId = share.body.id
    const key = toHex(referrer.key)
    const payee = referrer.kind === 'account' ? walletParticipant(key) : retailerParticipant(key)
    into.referrer = payee
    if (!clause.referrers.includes(referrer.kind)) {
      return new Refused(
        'kind-not-allowed',
        `the contract credits ${clause.referrers.join(', ')}, not ${referrer.kind}`,
      )
    }
    const trusted = this.#d.trust.check(share)
    if (!trusted.ok) return new Refused('untrusted-referrer', `${trusted.code}: ${trusted.reason}`)
    const offer = await this.#d.records.get('consort/offer', row.offer)
    const sold = offer?.body.content ?? [row.content]
    if (!(await this.#sells(sold, content, toHex(contract.body.distributor)))) {
      const named = [content.track, content.release].filter((c) => c !== null).join(' and ')
      return new Refused('other-content', `the share names ${named}, the offer sells ${sold.join(', ')}`)
    }
    const device = this.#d.trust.deviceOf(referrer.key)
    if (
      key === row.account ||
      key === row.device ||
      (device !== undefined && toHex(device.body.account) === row.account)
    ) {
      return new Refused('self-referral', "the referrer is the buyer's own account or device")
    }
    const payerKey = clause.from === 'retailer' ? row.retailer : toHex(contract.body.distributor)
    const payer = clause.from === 'retailer' ? retailerParticipant(payerKey) : distributorParticipant(payerKey)
    into.payer = payer
    if (key === payerKey) return new Refused('referrer-pays', `the referrer is the ${clause.from} that would pay it`)
    // The store that made the sale is paid by its margin: referring its own sale (its storefront's share link, or a
    // share signed with its node key as an "account") would add the distributor's money to it for nothing.
    if (key === row.retailer) return new Refused('self-referral', 'the referrer is the retailer that made the sale')
    const spent = ReferralKeys.credited(key, row.account, share.body.id)
    const before = await this.#d.store.get(creditedRow, spent)
    if (before !== undefined && before.purchaseId !== row.purchaseId) {
      return new Refused('replayed', `the share credited purchase ${before.purchaseId} of this account already`)
    }
    const amount = referralCredit(sale, clause.bps, clause.from)
    if (amount <= 0n) return new Refused('nothing-to-pay', `the ${clause.from}'s share of this sale is nothing`)
    return { credit: { payer, payee, amount }, spent }
  }
}
