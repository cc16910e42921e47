import { logger } from '@libp2p/logger'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import { retailerParticipant, walletParticipant } from '../../roles/clearinghouse/index.ts'
import type { Cluster, SimNode } from '../cluster.ts'
import { SimulationSetupError } from '../errors.ts'
import type { Timeline } from '../metrics.ts'
import { mapRows, seconds, type Table } from '../report/tables.ts'
import type { Check } from '../report/types.ts'
import { between, stream } from '../rng.ts'
import type { ContractTerms } from './ground-truth.ts'
import type { SharingSpec } from './market-spec.ts'
import { accountKeysOf, participantLabel } from './participants.ts'
import { inDegrees, shareGraph } from './share-graph.ts'
import { eur, statementLines } from './statements.ts'

const log = logger('consort:sim:sharing')

/** Referrers listed by name in a failed check. */
const MAX_LISTED = 8

/** Why a purchase through a share credits no one, by the rules of decision 0512 (the clearinghouse's names). */
export type NoCredit = 'no-clause' | 'kind-not-allowed' | 'self-referral' | 'replayed' | 'nothing-to-pay'

/** One share sent along an edge of the graph, and what became of it: a row of `shares.csv`. */
export interface ShareUse {
  sharer: SimNode
  recipient: SimNode
  isrc: string
  /** The share's record id, and its link (what the recipient's player opens). */
  share: string
  link: string
  /** 1 for a share of a purchase the plan made, n + 1 for a share of a purchase made through a hop-n share. */
  hop: number
  sentAt: number
  /** Whether the recipient buys through it (drawn from the seed), and how many times it plays what it bought. */
  buys: boolean
  plays: number
  /** The recipient buys a second time through this share once it bought through it (drawn from the seed). */
  reuse: boolean
  /** This use is the recipient's second purchase through the same share (it must credit nothing). */
  again: boolean
  outcome: 'declined' | 'bought' | 'failed' | 'pending'
  previewed: boolean | null
  purchaseId: string | null
  price: bigint | null
  /** The referrer's credit the ground truth expects for this purchase, and why none when it is 0. */
  credit: bigint
  noCredit: NoCredit | null
  /** The credit's payer (`retailer:…`, `distributor:…`) when there is one. */
  payer: string | null
  error: string | null
}

/** What the sharing workload asks of the purchases: buy through a share on the recipient, in its own queue. */
export interface ShareBuyer {
  buyThroughShare(use: ShareUse): Promise<void>
}

interface ReferrerRow {
  node: string
  participant: string
  sharesSent: number
  purchasesThrough: number
  credits: number
  expected: bigint
  statement: bigint | null
  lines: { expected: number; found: number | null }
}

export interface SharingMetrics {
  graph: {
    players: number
    recipientsPerPlayer: number
    edges: number
    inDegree: { min: number; max: number; mean: number }
  }
  shares: {
    created: number
    sent: number
    declined: number
    bought: number
    failed: number
    /** Second purchases through a share already used by the same recipient (each must credit nothing). */
    usedAgain: number
    previewsPlayed: number
  }
  purchases: {
    /** Every purchase of the market: planned and through shares. */
    total: number
    /** Purchases whose order carried a share (second uses of a share included). */
    throughShares: number
    /** throughShares / total: the share of purchases that came through a referral. */
    shareThroughReferrals: number
    /** Purchases that earned their referrer a credit, and their share of all purchases. */
    credited: number
    shareCredited: number
    /** Purchases by hop: 0 the plan's, n through a share of a hop n − 1 purchase. */
    byHop: Record<string, number>
  }
  credits: {
    count: number
    expectedMinor: bigint
    byReason: Record<string, number>
    byReferrer: ReferrerRow[]
    byPayer: Array<{ participant: string; label: string; expected: bigint; statement: bigint | null }>
  }
}

/**
 * Sharing in the market (decision 0811): a share graph among the players, drawn from the seed; every track a player
 * buys it shares with its out-neighbours (a `consort/share` signed by its account through the player's API,
 * recommending the offer it bought); each recipient draws whether it buys through it, and then opens the share (the
 * preview plays from the swarm), buys the offer the share leads to with the share in its order, and plays it. The
 * ground truth of each referral credit is written from decision 0512's rules; the clearinghouse's `referral`
 * statement lines and every balance are compared with it to the cent.
 */
export class SharingWorkload {
  readonly #spec: SharingSpec
  readonly #cluster: Cluster
  readonly #seed: number
  readonly #sampler: Timeline
  readonly #players: SimNode[]
  readonly #graph: number[][]
  readonly #uses: ShareUse[] = []
  readonly #inFlight = new Set<Promise<void>>()
  /** (referrer, buying account, share) that earned a credit: never again (decision 0512). */
  readonly #credited = new Set<string>()
  #buyer: ShareBuyer | null = null
  #created = 0
  readonly #limit: number

  constructor(spec: SharingSpec, cluster: Cluster, seed: number, sampler: Timeline, limit: number) {
    this.#spec = spec
    this.#cluster = cluster
    this.#seed = seed
    this.#sampler = sampler
    this.#limit = limit
    this.#players = cluster.nodes.filter((n) => n.honest && n.spec.roles.includes('player'))
    if (spec.recipients > this.#players.length - 1)
      throw new SimulationSetupError(
        `sharing: ${spec.recipients} recipient(s) per player need ${spec.recipients + 1} players, not ${this.#players.length}`,
      )
    this.#graph = shareGraph(this.#players.length, spec.recipients, stream(seed, 'sharing/graph'))
  }

  /** The purchases' side: who buys through a share. */
  use(buyer: ShareBuyer): void {
    this.#buyer = buyer
  }

  /** The recipients of a player in the share graph. */
  recipientsOf(sim: SimNode): SimNode[] {
    const i = this.#players.indexOf(sim)
    return i < 0 ? [] : (this.#graph[i] ?? []).map((j) => this.#players[j]!)
  }

  /** The referral clause of each deal, as the labels sign it into the release's contracts. */
  static dealClause(clause: SharingSpec['referral']['download']): object {
    return clause == null ? {} : { referral: { bps: clause.bps, from: clause.from, referrers: ['account'] } }
  }

  /**
   * A player bought a track (`hop` 0: a purchase of the plan; n: through a hop-n share): it shares it with its
   * recipients, each of whom draws whether and when it buys through the share. Runs in the sharer's queue.
   */
  async bought(input: {
    sim: SimNode
    isrc: string
    offer: string | null
    purchaseId: string
    hop: number
    playsPerPurchase: { min: number; max: number }
  }): Promise<void> {
    const { sim, isrc, purchaseId, hop } = input
    if (hop >= this.#spec.maxHops || !sim.online) return
    const recipients = this.recipientsOf(sim)
    if (recipients.length === 0) return
    const random = stream(this.#seed, `sharing/${purchaseId}`)
    const draws = recipients.map((recipient) => ({
      recipient,
      buys: random.float() < this.#spec.buyProbability,
      delay: between(random, this.#spec.delayMs.min, this.#spec.delayMs.max),
      plays: between(random, input.playsPerPurchase.min, input.playsPerPurchase.max),
      again: random.float() < this.#spec.reuseProbability,
    }))
    let view: { share: string; link: string }
    const player = sim.started.role('player')
    try {
      view = await player
        .share(`isrc:${isrc}`, input.offer == null ? {} : { offer: input.offer })
        .catch(async (err) => {
          // The offer bought may sell the release rather than the track: share the track without a recommendation.
          log('share of %s with offer %s on %s: %s', isrc, input.offer, sim.name, (err as Error).message)
          return await player.share(`isrc:${isrc}`)
        })
    } catch (err) {
      for (const d of draws)
        this.#uses.push(
          this.#use(sim, d.recipient, isrc, '', '', hop + 1, d, 'failed', `share: ${(err as Error).message}`),
        )
      return
    }
    this.#created++
    this.#sampler.add('market.sharesCreated')
    for (const d of draws) {
      const use = this.#use(sim, d.recipient, isrc, view.share, view.link, hop + 1, d, 'declined', null)
      this.#uses.push(use)
      if (!d.buys) continue
      if (this.#uses.filter((u) => u.outcome !== 'declined').length >= this.#limit) {
        use.outcome = 'failed'
        use.error = 'the run planned its maximum of purchases'
        continue
      }
      use.outcome = 'pending'
      const done = new Promise<void>((resolve) => setTimeout(resolve, d.delay))
        .then(() => this.#buyer?.buyThroughShare(use))
        .catch((err) => {
          use.outcome = 'failed'
          use.error = (err as Error).message
        })
        .finally(() => this.#inFlight.delete(done))
      this.#inFlight.add(done)
    }
  }

  #use(
    sharer: SimNode,
    recipient: SimNode,
    isrc: string,
    share: string,
    link: string,
    hop: number,
    d: { buys: boolean; plays: number; again: boolean },
    outcome: ShareUse['outcome'],
    error: string | null,
  ): ShareUse {
    return {
      sharer,
      recipient,
      isrc,
      share,
      link,
      hop,
      sentAt: performance.now(),
      buys: d.buys,
      plays: d.plays,
      reuse: d.again,
      again: false,
      outcome,
      previewed: null,
      purchaseId: null,
      price: null,
      credit: 0n,
      noCredit: null,
      payer: null,
      error,
    }
  }

  /** The same share used once more by its recipient, after it bought through it (its credit must be nothing). */
  again(use: ShareUse): ShareUse | null {
    if (!use.reuse || use.again || use.outcome !== 'bought') return null
    const second: ShareUse = { ...use, again: true, outcome: 'pending', purchaseId: null, price: null, credit: 0n }
    second.noCredit = null
    second.previewed = null
    second.sentAt = performance.now()
    this.#uses.push(second)
    return second
  }

  /** Shares still to be bought through (their delay running, or their purchase under way). */
  pending(): Promise<void>[] {
    return [...this.#inFlight]
  }

  /**
   * Whether a purchase through `use` earns its referrer a credit, by decision 0512's rules as far as the simulation
   * decides them (the share is genuine, unexpired and of the content bought, by construction): the contract's clause,
   * the referrer's kind, not the buyer itself, not a share that already credited this buyer.
   */
  referral(
    use: ShareUse,
    buyer: NodeKeys,
    terms: ContractTerms,
  ): { referrer: string; bps: number; from: 'retailer' | 'distributor' } | NoCredit {
    const clause = terms.referral
    if (clause == null) return 'no-clause'
    if (!clause.referrers.includes('account')) return 'kind-not-allowed'
    const referrer = accountKeysOf(use.sharer)
    if (toHex(referrer.signer.publicKey) === toHex(buyer.signer.publicKey)) return 'self-referral'
    if (this.#credited.has(this.#creditKey(use, buyer))) return 'replayed'
    return { referrer: walletParticipant(referrer.signer.publicKey), bps: clause.bps, from: clause.from }
  }

  /** The sale through `use` is in the ground truth, with the credit it earned (0: `reason`). */
  sold(
    use: ShareUse,
    sale: {
      purchaseId: string
      price: bigint
      buyer: NodeKeys
      credit: bigint
      reason: NoCredit | null
      payer: string
    },
  ): void {
    use.outcome = 'bought'
    use.purchaseId = sale.purchaseId
    use.price = sale.price
    use.credit = sale.credit
    use.noCredit = sale.credit > 0n ? null : (sale.reason ?? 'nothing-to-pay')
    use.payer = sale.credit > 0n ? sale.payer : null
    if (sale.credit > 0n) this.#credited.add(this.#creditKey(use, sale.buyer))
    this.#sampler.add('market.purchasesViaShare')
  }

  #creditKey(use: ShareUse, buyer: NodeKeys): string {
    return `${toHex(accountKeysOf(use.sharer).signer.publicKey)} ${toHex(buyer.signer.publicKey)} ${use.share}`
  }

  /** Each referrer's and payer's `referral` statement lines against the ground truth. */
  async report(
    house: SimNode | undefined,
    call: (path: string, query: Record<string, string>) => Promise<unknown>,
    allBought: number,
  ): Promise<{ metrics: SharingMetrics; checks: Check[] }> {
    const known = house?.online === true ? call : null
    const statementOf = async (participant: string) => await statementLines(known, participant, 'referral')
    const bought = this.#uses.filter((u) => u.outcome === 'bought')
    const credited = bought.filter((u) => u.credit > 0n)
    const byReferrer: ReferrerRow[] = []
    for (const sharer of this.#players) {
      const sent = this.#uses.filter((u) => u.sharer === sharer && !u.again)
      if (sent.length === 0) continue
      const mine = credited.filter((u) => u.sharer === sharer)
      const participant = walletParticipant(accountKeysOf(sharer).signer.publicKey)
      const statement = await statementOf(participant)
      byReferrer.push({
        node: sharer.name,
        participant,
        sharesSent: sent.length,
        purchasesThrough: bought.filter((u) => u.sharer === sharer).length,
        credits: mine.length,
        expected: mine.reduce((a, u) => a + u.credit, 0n),
        statement: statement?.sum ?? null,
        lines: { expected: mine.length, found: statement?.lines ?? null },
      })
    }
    const payers = new Map<string, bigint>()
    for (const u of credited) payers.set(u.payer!, (payers.get(u.payer!) ?? 0n) + u.credit)
    const byPayer: SharingMetrics['credits']['byPayer'] = []
    for (const [participant, expected] of [...payers].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const statement = await statementOf(participant)
      byPayer.push({
        participant,
        label: participantLabel(this.#cluster.nodes, participant),
        expected: -expected,
        statement: statement?.sum ?? null,
      })
    }
    const degrees = inDegrees(this.#graph)
    const total = allBought
    const byHop: Record<string, number> = { '0': allBought - bought.length }
    for (const u of bought) byHop[String(u.hop)] = (byHop[String(u.hop)] ?? 0) + 1
    const byReason: Record<string, number> = {}
    for (const u of bought) if (u.noCredit != null) byReason[u.noCredit] = (byReason[u.noCredit] ?? 0) + 1
    const metrics: SharingMetrics = {
      graph: {
        players: this.#players.length,
        recipientsPerPlayer: this.#spec.recipients,
        edges: this.#graph.reduce((a, g) => a + g.length, 0),
        inDegree: {
          min: Math.min(...degrees),
          max: Math.max(...degrees),
          mean: Math.round((degrees.reduce((a, b) => a + b, 0) / Math.max(1, degrees.length)) * 100) / 100,
        },
      },
      shares: {
        created: this.#created,
        sent: this.#uses.filter((u) => !u.again).length,
        declined: this.#uses.filter((u) => u.outcome === 'declined').length,
        bought: bought.filter((u) => !u.again).length,
        failed: this.#uses.filter((u) => u.outcome === 'failed' || u.outcome === 'pending').length,
        usedAgain: bought.filter((u) => u.again).length,
        previewsPlayed: this.#uses.filter((u) => u.previewed === true).length,
      },
      purchases: {
        total,
        throughShares: bought.length,
        shareThroughReferrals: total === 0 ? 0 : Math.round((bought.length / total) * 10_000) / 10_000,
        credited: credited.length,
        shareCredited: total === 0 ? 0 : Math.round((credited.length / total) * 10_000) / 10_000,
        byHop,
      },
      credits: {
        count: credited.length,
        expectedMinor: credited.reduce((a, u) => a + u.credit, 0n),
        byReason,
        byReferrer,
        byPayer,
      },
    }
    const wrong = byReferrer.filter((r) => r.statement !== r.expected || r.lines.found !== r.lines.expected)
    const wrongPayers = byPayer.filter((p) => p.statement !== p.expected)
    const failed = this.#uses.filter((u) => u.outcome === 'failed' || u.outcome === 'pending')
    const checks: Check[] = [
      {
        name: 'referral credits as ground truth',
        ok: credited.length > 0 && wrong.length === 0 && wrongPayers.length === 0 && failed.length === 0,
        detail:
          `${bought.length} of ${total} purchase(s) through a share (${(metrics.purchases.shareThroughReferrals * 100).toFixed(1)}%), ${credited.length} credited ${eur(metrics.credits.expectedMinor)} in all` +
          `${
            Object.keys(byReason).length > 0
              ? `, the others credit nothing (${Object.entries(byReason)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(', ')})`
              : ''
          }; ` +
          `${byReferrer.length - wrong.length} of ${byReferrer.length} referrer(s) and ${byPayer.length - wrongPayers.length} of ${byPayer.length} payer(s) with referral statement lines equal to the ground truth to the cent` +
          `${wrong
            .slice(0, MAX_LISTED)
            .map(
              (r) =>
                `; ${r.node}: expected ${r.expected} in ${r.lines.expected} line(s), statement ${r.statement} in ${r.lines.found}`,
            )
            .join(
              '',
            )}${wrongPayers.map((p) => `; ${p.label}: expected ${p.expected}, statement ${p.statement}`).join('')}` +
          `; ${failed.length} share(s) whose purchase failed or never ended${
            failed.length > 0
              ? `: ${failed
                  .slice(0, 3)
                  .map((u) => `${u.recipient.name} ${u.error ?? u.outcome}`)
                  .join(' | ')}`
              : ''
          }`,
      },
    ]
    if (this.#spec.reuseProbability > 0) {
      const again = bought.filter((u) => u.again)
      checks.push({
        name: 'a share used again credits nothing',
        ok: again.length > 0 && again.every((u) => u.noCredit === 'replayed') && wrong.length === 0,
        detail: `${again.length} second purchase(s) through a share the same recipient had bought through: ${again.filter((u) => u.noCredit === 'replayed').length} credit nothing in the ground truth, and the referrers' statement lines ${wrong.length === 0 ? 'agree (no second credit)' : 'differ'}`,
      })
    }
    return { metrics, checks }
  }

  summary(m: SharingMetrics): Array<[string, string]> {
    return [
      [
        'sharing',
        `share graph of ${m.graph.players} players × ${m.graph.recipientsPerPlayer} recipients (in-degree ${m.graph.inDegree.min}–${m.graph.inDegree.max}); ${m.shares.created} share(s) created, sent ${m.shares.sent} time(s): ${m.shares.bought} bought through (${m.shares.previewsPlayed} preview(s) played), ${m.shares.declined} declined, ${m.shares.failed} failed; ${m.shares.usedAgain} used again`,
      ],
      [
        'referrals',
        `${m.purchases.throughShares} of ${m.purchases.total} purchase(s) through a share (${(m.purchases.shareThroughReferrals * 100).toFixed(1)}%; by hop ${Object.entries(
          m.purchases.byHop,
        )
          .map(([h, n]) => `${h}: ${n}`)
          .join(', ')}); ${m.credits.count} credit(s), ${eur(m.credits.expectedMinor)}`,
      ],
    ]
  }

  /** `shares.csv`: one row per share sent to a recipient (and per second use of one). */
  table(origin: number): Table {
    return {
      name: 'shares',
      row: 'one share sent along an edge of the share graph (or used a second time by its recipient): what the recipient did, and the referral credit the ground truth expects',
      columns: [
        't_s',
        'sharer',
        'recipient',
        'track',
        'hop',
        'share',
        'again',
        'buys',
        'outcome',
        'previewed',
        'purchase',
        'price_minor',
        'credit_minor',
        'no_credit',
        'error',
      ],
      rows: () =>
        mapRows(this.#uses, (u) => [
          seconds(u.sentAt, origin),
          u.sharer.name,
          u.recipient.name,
          u.isrc,
          u.hop,
          u.share,
          u.again,
          u.buys,
          u.outcome,
          u.previewed,
          u.purchaseId,
          u.price,
          u.credit,
          u.noCredit,
          u.error,
        ]),
    }
  }
}

/** A retailer's participant id from the offer's key, as the purchases know it. */
export function payerOf(from: 'retailer' | 'distributor', retailerKey: string, terms: ContractTerms): string {
  return from === 'retailer' ? retailerParticipant(retailerKey) : terms.distributor
}
