import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { signAccountRequest } from '../../protocols/clearing/account.ts'
import { CLEARING_OPS, CLEARING_PROTOCOL, fundResponse } from '../../protocols/clearing/index.ts'
import type { Clock } from '../../protocols/clock.ts'
import { isError } from '../../protocols/errors.ts'
import { parseMessage } from '../../protocols/messages.ts'
import { peerIdOfKey } from '../../protocols/peers.ts'
import { PurchasePendingError } from '../../protocols/purchase/errors.ts'
import { rpcCall } from '../../protocols/rpc/client.ts'
import type { IngestStats } from '../../roles/clearinghouse/index.ts'
import {
  accountIdOf,
  distributorParticipant,
  externalParticipant,
  feeParticipant,
  retailerParticipant,
  rightsholderParticipant,
  TEST_GATEWAY_NAME,
  walletParticipant,
} from '../../roles/clearinghouse/index.ts'
import type { ListedOffer, PlayerRole } from '../../roles/player/index.ts'
import type { Cluster, SimNode, SimNodeSpec } from '../cluster.ts'
import { SimulationSetupError } from '../errors.ts'
import { Distribution, type DistributionSummary, type Timeline } from '../metrics.ts'
import type { Plan } from '../plan.ts'
import { mapRows, millis, seconds, type Table } from '../report/tables.ts'
import type { Check } from '../report/types.ts'
import { pick, poissonTimes, stream } from '../rng.ts'
import type { MarketSpec, Scenario } from '../scenario.ts'
import { type ContractTerms, GroundTruth } from './ground-truth.ts'
import { PacedSink, SYNTH_BYTES_PER_SECOND } from './paced-sink.ts'
import { type DeliverySale, PaidDelivery, type PaidDeliveryMetrics } from './paid-delivery.ts'
import { accountKeysOf, participantLabel } from './participants.ts'
import { payerOf, type ShareBuyer, type ShareUse, type SharingMetrics, SharingWorkload } from './sharing.ts'
import { StepProgress } from './step-progress.ts'

const log = logger('consort:sim:purchases')

/** The kinds of offer a planned purchase alternates between (the two deals of every release). */
const USE_TYPES = ['OnDemandStream', 'PermanentDownload'] as const
/** Purchases one run plans at most (each keeps its ground-truth entry). */
export const MAX_PURCHASES = 5000
/** What each listener's wallet is funded with at set-up (minor units, EUR): far more than a run spends. */
export const WALLET_FUNDING_MINOR = 1_000_00n
/** A listener pauses this long between two plays (plays last their audio's duration: they never overlap). */
export const PLAY_GAP_MS = 1000
/**
 * Longest wait (virtual time) at the drain for listeners still buying and playing: time costs nothing in a
 * simulation, so the bound is only there to end a run whose purchases hang; what is still running is reported.
 */
export const PURCHASE_DRAIN_MAX_MS = 600_000
/** Tries of one purchase (or one play) before it counts as failed; a user tries again when the market is away. */
export const PURCHASE_ATTEMPTS = 4
export const PLAY_ATTEMPTS = 4
/** Wait between two tries. */
export const RETRY_AFTER_MS = 10_000
/** A purchase the retailer did not answer is resumed this many times during the drain. */
export const PURCHASE_RESUMES = 2
/** Flushes of a player's usage outbox during the drain until nothing is left to deliver. */
export const FLUSH_ROUNDS = 5
/** The clearinghouse counts as idle once its counters stayed the same for this long. */
export const INGEST_QUIET_MS = 1500
/** Longest wait for the clearinghouse to become idle after the last flush. */
export const INGEST_WAIT_MS = 30_000
/** Ledger transfers read per page when the books are compared with the ground truth. */
const TRANSFER_PAGE = 500
/** Differences listed in a failed check's message. */
const MAX_LISTED_DIFFERENCES = 8

/** One participant's posted balance: what the workload says against what the clearinghouse's ledger holds. */
export interface LedgerRow {
  account: string
  /** The participant in words: the node it belongs to (`retailer-0`, `wallet of player-3`) or its own name. */
  label: string
  expected: bigint
  actual: bigint
}

export interface PurchaseMetrics {
  planned: number
  /** Planned purchases bought (the listeners'). */
  bought: number
  /** Sales hostile buyers really paid for (issue 11's adversaries), in the ground truth beside the planned ones. */
  boughtByAttackers: number
  failed: number
  skipped: number
  /** Purchases still pending after the drain (the retailer never answered): their outcome is unknown. */
  unresolved: number
  /** Planned purchases whose buy-and-play had not finished when the run was measured. */
  unfinished: number
  plays: { licensed: number; failed: number; paid: number; unpaid: number }
  purchaseLatencyMs: DistributionSummary
  timeToFirstAudioMs: DistributionSummary
  reports: { flushed: number; pendingAfterDrain: number }
  /** Purchases and plays tried again after a failure (during a fault); each retry reuses its purchase id. */
  retries: number
  clearinghouse: Record<string, number>
  /**
   * Plays the clearinghouse still holds at the end (`GET /held`: a record it never found, or suspicious); its
   * `playsHeld` counter also counts plays held for a while and settled once their record arrived.
   */
  stillHeld: { missing: number; suspicious: number } | null
  audit: { ok: boolean; ledgerViolations: number; clearingViolations: number } | null
  ledger: { currency: string; rows: LedgerRow[]; unexpectedAccounts: string[] }
  /** Paid delivery (decision 0811): what the deliverers were owed and booked; null without a delivery fee. */
  paidDelivery: PaidDeliveryMetrics | null
  /** Sharing and referral credits (decision 0811); null when no one shares. */
  sharing: SharingMetrics | null
}

interface PurchaseTruth {
  purchaseId: string
  wallet: string
  retailer: string
  price: bigint
  terms: ContractTerms
}

/** One planned purchase, for `purchases.csv`. */
interface PurchaseRow {
  player: SimNode
  isrc: string
  useType: string | null
  offer: string | null
  retailerKey: string | null
  priceMinor: bigint | null
  purchaseId: string | null
  startedAt: number
  latencyMs: number | null
  /** Tries it took (a purchase that failed during a fault is tried again a little later). */
  attempts: number
  outcome: 'bought' | 'failed' | 'pending' | 'resumed' | 'no-offer' | 'player-left'
  error: string | null
}

/** One play, for `plays.csv`. */
interface PlayRow {
  player: SimNode
  isrc: string
  purchaseId: string | null
  startedAt: number
  firstAudioMs: number | null
  seconds: number | null
  /** `retried`: this try failed and the listener tried again later. */
  outcome: 'licensed' | 'failed' | 'retried'
  /** How the play is paid: per play under a stream contract, or not at all under a download licence. */
  paid: 'per-play' | 'download' | null
  error: string | null
}

interface OfferInfo {
  retailerKey: string
  contract: string
}

/**
 * Listeners with the real player role buy certified offers and play what they bought (through the player's API, as
 * its control routes do), their usage reports reach the clearinghouse, and at the end the clearinghouse's books are
 * compared with the workload's ground truth, participant by participant, to the cent.
 */
export class PurchaseWorkload implements ShareBuyer {
  readonly #scenario: Scenario
  readonly #spec: MarketSpec
  readonly #cluster: Cluster
  readonly #seed: number
  readonly #clock: Clock
  readonly #sampler: Timeline
  readonly #truth: GroundTruth
  /** Paid delivery's ground truth, when the scenario's contracts name a delivery fee. */
  readonly delivery: PaidDelivery | null
  /** The share graph and the purchases through it, when the scenario's players share. */
  readonly sharing: SharingWorkload | null
  #shareBuys = 0
  readonly #latency = new Distribution()
  readonly #firstAudio = new Distribution()
  readonly #chains = new Map<number, Promise<void>>()
  readonly #lastPlayEnd = new Map<number, number>()
  readonly #purchases = new Map<string, PurchaseTruth>()
  readonly #pending: Array<{
    player: SimNode
    offer: string
    purchaseId: string
    row: PurchaseRow
    via: ShareUse | null
  }> = []
  readonly #offers = new Map<string, OfferInfo>()
  readonly #terms = new Map<string, ContractTerms>()
  #tracks: readonly string[] = []
  #planned = 0
  #attackerSales = 0
  #retries = 0
  /**
   * The clearinghouse's earlier incarnations (a kill and restart): what `/stats` said as each began to stop, and its
   * ingest's live counters, which go on moving while the engine closes (a group it finishes writing then).
   */
  readonly #earlierStats: Array<{ said: Record<string, number>; ingest: Readonly<IngestStats> }> = []
  #finished = 0
  #failed = 0
  #skipped = 0
  #licensedPlays = 0
  #failedPlays = 0
  #flushed = 0
  #pendingReports = 0
  readonly #failureSamples: string[] = []
  readonly #purchaseRows: PurchaseRow[] = []
  readonly #playRows: PlayRow[] = []
  /** Where the set-up and the drain are, for a person watching (the market's; stderr only). */
  progress = new StepProgress()

  constructor(scenario: Scenario, cluster: Cluster, seed: number, clock: Clock, sampler: Timeline) {
    const spec = scenario.workload.market
    if (spec == null) throw new SimulationSetupError('no market workload in this scenario')
    this.#scenario = scenario
    this.#spec = spec
    this.#cluster = cluster
    this.#seed = seed
    this.#clock = clock
    this.#sampler = sampler
    const house = this.#house()
    const policy = cluster.network.record.body.policy
    // The clearinghouse's counters start from zero when it restarts: keep each incarnation's. Its ingest counters
    // are read at the end, not at the stop: a play settled by the group the engine completes while it closes is
    // counted in no incarnation otherwise (market-faults-small, seed 1, 60 s pings: 42 of 43 plays, all 43 settled).
    cluster.beforeStop.push(async (sim) => {
      if (sim !== this.#house() || !sim.online) return
      this.#earlierStats.push({ said: await this.#currentStats(sim), ingest: liveIngestStats(sim) })
    })
    this.#truth = new GroundTruth({
      feeBps: policy.clearingFeeBps,
      feeParticipant: feeParticipant(house?.keys.signer.publicKey ?? new Uint8Array(32)),
      gatewayParticipant: externalParticipant(TEST_GATEWAY_NAME),
    })
    this.delivery = spec.delivery == null ? null : new PaidDelivery(cluster, this.#truth, spec.delivery)
    this.sharing =
      spec.sharing == null ? null : new SharingWorkload(spec.sharing, cluster, seed, sampler, MAX_PURCHASES)
    this.sharing?.use(this)
  }

  /** Each player node gets an account key of its own, drawn from the seed; the clearinghouse takes test top-ups. */
  static async prepare(specs: SimNodeSpec[], seed: number): Promise<void> {
    const random = stream(seed, 'market/accounts')
    for (const spec of specs) {
      // Honest nodes, and the store wipers (issue 11): they run the real player role with an account of their own.
      if (spec.kind !== 'honest' && spec.kind !== 'store-wiper') continue
      const options = { ...(spec.roleOptions ?? {}) }
      if (spec.roles.includes('player')) {
        const account: NodeKeys = await createNodeKeys(random)
        // Flushes are driven by the workload (and happen 2 s after each use); no periodic timer.
        options.player = { ...(options.player ?? {}), account, flushIntervalMs: 0 }
      }
      if (spec.roles.includes('clearinghouse'))
        options.clearinghouse = { ...(options.clearinghouse ?? {}), sync: false, allowTestGateway: true }
      spec.roleOptions = options
    }
  }

  get enabled(): boolean {
    return this.#spec.purchasesPerSec > 0
  }

  players(): SimNode[] {
    return this.#cluster.nodes.filter((n) => n.honest && n.spec.roles.includes('player'))
  }

  /** Devices registered, wallets funded, what the offers and contracts are (for the ground truth). */
  async setup(tracks: readonly string[], retailers: readonly SimNode[], offers: OfferListing[]): Promise<void> {
    this.#tracks = tracks
    for (const o of offers) {
      this.#offers.set(o.offer, { retailerKey: o.retailerKey, contract: o.contract })
      if (!this.#terms.has(o.contract)) this.#terms.set(o.contract, await this.#contractTerms(retailers, o.contract))
    }
    const house = this.#house()
    if (house == null) throw new SimulationSetupError('purchases need a node with the clearinghouse role')
    const players = this.players()
    let ready = 0
    this.progress.report('players registered and funded', 0, players.length)
    await Promise.all(
      players.map(async (sim) => {
        const player = playerOf(sim)
        await player.ensureDevice()
        await this.#fund(sim, house)
        this.progress.report('players registered and funded', ++ready, players.length)
      }),
    )
  }

  /** Purchases at the scenario's rate, each by a random player of a random track, then its plays. */
  plan(plan: Plan): void {
    const players = this.players()
    if (!this.enabled || players.length === 0) return
    const random = stream(this.#seed, 'market/purchases')
    const { min, max } = this.#spec.playsPerPurchase
    for (const t of poissonTimes(random, this.#spec.purchasesPerSec, this.#scenario.durationMs, MAX_PURCHASES)) {
      const sim = pick(random, players)
      const track = random.int(1_000_000)
      const choice = random.int(1_000_000)
      const plays = min + random.int(max - min + 1)
      this.#planned++
      plan.add(t, `buy track ${track} (offer ${choice}) and play ${plays}× on ${sim.name}`, async () => {
        if (!sim.online) {
          this.#skipped++
          this.#finished++
          return
        }
        // One listener does one thing at a time: its purchases and plays queue behind each other.
        const previous = this.#chains.get(sim.index) ?? Promise.resolve()
        const next = previous
          .then(() => this.#buyAndPlay(sim, track, choice, plays))
          .finally(() => {
            this.#finished++
          })
        this.#chains.set(sim.index, next)
        await next
        this.progress.report('purchases ended (of those planned)', this.#finished, this.#planned)
      })
    }
  }

  async #buyAndPlay(sim: SimNode, trackIndex: number, choice: number, plays: number): Promise<void> {
    const isrc = this.#tracks[trackIndex % Math.max(1, this.#tracks.length)]
    if (isrc == null) {
      this.#skipped++
      return
    }
    const baseId = `sim-${this.#seed}-${sim.index}-${this.#planned}-${trackIndex}-${choice}`.slice(0, 120)
    await this.#buyThenPlay(sim, isrc, choice, plays, baseId, null)
  }

  /**
   * A recipient buys through a share (decision 0811), in its own queue like its planned purchases: it opens the share
   * (the preview plays), buys the offer the share leads to with the share in its order, shares it on, and plays it.
   */
  async buyThroughShare(use: ShareUse): Promise<void> {
    const sim = use.recipient
    this.#planned++
    const baseId = `sim-${this.#seed}-sh${++this.#shareBuys}-${sim.index}`
    const previous = this.#chains.get(sim.index) ?? Promise.resolve()
    const next = previous
      .then(async () => {
        if (!sim.online) {
          this.#skipped++
          use.outcome = 'failed'
          use.error = 'the recipient was offline'
          return
        }
        await this.#buyThenPlay(sim, use.isrc, 0, use.plays, baseId, use)
      })
      .finally(() => {
        this.#finished++
      })
    this.#chains.set(sim.index, next)
    await next
  }

  /**
   * Buy `isrc` (through a share when `via` is one), retrying as a user would; share what was bought with the player's
   * recipients in the share graph; play it; and, when the seed says so, buy once more through the same share.
   */
  async #buyThenPlay(
    sim: SimNode,
    isrc: string,
    choice: number,
    plays: number,
    baseId: string,
    via: ShareUse | null,
  ): Promise<void> {
    const row: PurchaseRow = {
      player: sim,
      isrc,
      useType: null,
      offer: null,
      retailerKey: null,
      priceMinor: null,
      purchaseId: null,
      startedAt: performance.now(),
      latencyMs: null,
      attempts: 0,
      outcome: 'no-offer',
      error: null,
    }
    this.#purchaseRows.push(row)
    let purchaseId = baseId
    // A listener whose purchase fails (the market out of reach during a fault, a service restarting) tries again a
    // little later with the same purchase id: a retry must never charge twice. A refusal is final (decision 0507):
    // then the listener places a new order, under a new id.
    for (;;) {
      row.attempts++
      if (!sim.online) {
        row.outcome = 'player-left'
        this.#skipped++
        if (via != null) Object.assign(via, { outcome: 'failed', error: 'the recipient left' })
        return
      }
      const outcome = await this.#buyOnce(sim, isrc, choice, purchaseId, row, via)
      if (outcome === 'bought') break
      if (outcome === 'pending') return
      if (row.attempts >= PURCHASE_ATTEMPTS) {
        this.#fail(`buy of ${isrc} on ${sim.name} (${row.attempts} attempts)`, new Error(row.error ?? 'failed'))
        if (via != null) Object.assign(via, { outcome: 'failed', error: row.error })
        return
      }
      if (row.error?.startsWith('ERR_PURCHASE_REFUSED') === true) {
        purchaseId = `${baseId}-${row.attempts + 1}`
        row.offer = null
      }
      this.#retries++
      await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS))
    }
    if (this.sharing != null && via?.again !== true && row.purchaseId != null)
      await this.sharing.bought({
        sim,
        isrc,
        offer: row.offer,
        purchaseId: row.purchaseId,
        hop: via?.hop ?? 0,
        playsPerPurchase: this.#spec.playsPerPurchase,
      })
    for (let k = 0; k < plays; k++) await this.#play(sim, isrc)
    const second = via == null ? null : (this.sharing?.again(via) ?? null)
    if (second != null) {
      this.#planned++
      try {
        await this.#buyThenPlay(sim, isrc, 0, 0, `${baseId}-again`, second)
      } finally {
        this.#finished++
      }
    }
  }

  /** One attempt: list the offers, pick the plan's, buy it. */
  async #buyOnce(
    sim: SimNode,
    isrc: string,
    choice: number,
    purchaseId: string,
    row: PurchaseRow,
    via: ShareUse | null,
  ): Promise<'bought' | 'pending' | 'failed'> {
    const player = playerOf(sim)
    let listed: ListedOffer | undefined
    try {
      if (via != null) {
        // Through a share: open it as the recipient's player does (the preview plays from the swarm at once), and buy
        // the first offer it lists — the one the share recommends, else the referrer's retailer's — once chosen.
        if (row.offer == null) {
          const opened = await player.openShare(via.link, { sink: new PacedSink(SYNTH_BYTES_PER_SECOND, () => {}) })
          via.previewed = opened.preview?.played === true
          listed = opened.offers.find((o) => this.#offers.has(o.offer))
        }
      } else {
        const market = await player.offers(`isrc:${isrc}`)
        // The plan's choice picks the kind of offer (a stream or a download, one in two) and then one of that kind,
        // by the offers' own names: the same choice whatever the records' ids turned out to be.
        const known = market.offers
          .filter((o) => this.#offers.has(o.offer))
          .sort((a, b) => cmp(`${a.retailerKey} ${a.offerId}`, `${b.retailerKey} ${b.offerId}`))
        const kind = USE_TYPES[choice % USE_TYPES.length]
        const ofKind = known.filter((o) => o.useType === kind)
        const pool = ofKind.length > 0 ? ofKind : known
        listed = pool[Math.floor(choice / USE_TYPES.length) % Math.max(1, pool.length)]
      }
    } catch (err) {
      row.outcome = 'failed'
      row.error = errorName(err)
      return 'failed'
    }
    if (listed == null && (via == null || row.offer == null)) {
      row.outcome = 'no-offer'
      row.error = 'no certified offer listed'
      return 'failed'
    }
    // A retry buys what the first attempt chose (the order may already be with the retailer).
    if (row.offer == null && listed != null)
      Object.assign(row, {
        useType: listed.useType,
        offer: listed.offer,
        retailerKey: listed.retailerKey,
        priceMinor: listed.price.amount,
        purchaseId,
      })
    const offer = row.offer!
    const started = performance.now()
    try {
      // The plan decides each purchase (a listener may buy what it holds, as it did before the player refused that
      // by default): `again` says so, and ground truth counts every sale.
      const bought = await this.#buy(sim, offer, purchaseId, via)
      row.latencyMs = performance.now() - started
      row.outcome = 'bought'
      row.error = null
      this.#latency.record(row.latencyMs)
      this.#sampler.add('market.purchases')
      this.#record(sim, offer, bought.purchaseId, bought.price.amount, via)
      await this.delivery?.buyEnded(sim, this.#saleOf(bought.purchaseId))
      return 'bought'
    } catch (err) {
      if (isError(err, PurchasePendingError)) {
        row.outcome = 'pending'
        this.#pending.push({ player: sim, offer, purchaseId, row, via })
        return 'pending'
      }
      row.outcome = 'failed'
      row.error = errorName(err)
      return 'failed'
    }
  }

  /**
   * Buy through the player's API (with the share when there is one), bracketed for paid delivery: the prefetches the
   * purchase starts are receipted under its licence when it is bought, by no one when it fails or stays pending.
   */
  async #buy(sim: SimNode, offer: string, purchaseId: string, via: ShareUse | null) {
    this.delivery?.buyStarted(sim)
    try {
      return await playerOf(sim).buy(offer, { purchaseId, again: true, ...(via != null ? { share: via.link } : {}) })
    } catch (err) {
      await this.delivery?.buyEnded(sim, null)
      throw err
    }
  }

  /** A sale as paid delivery prices it: the purchase's licence, price, distributor and delivery fee. */
  #saleOf(purchaseId: string): DeliverySale | null {
    const sold = this.#purchases.get(purchaseId)
    if (sold == null) return null
    return { purchaseId, price: sold.price, distributor: sold.terms.distributor, fee: sold.terms.delivery ?? null }
  }

  #record(sim: SimNode, offer: string, purchaseId: string, price: bigint, via: ShareUse | null): void {
    this.#recordFor(accountKeysOf(sim), offer, purchaseId, price, via)
  }

  #recordFor(account: NodeKeys, offer: string, purchaseId: string, price: bigint, via: ShareUse | null = null): void {
    const info = this.#offers.get(offer)
    if (info == null) throw new SimulationSetupError(`offer ${offer} is not one the retailers listed`)
    const terms = this.#terms.get(info.contract)!
    const truth: PurchaseTruth = {
      purchaseId,
      wallet: walletParticipant(account.signer.publicKey),
      retailer: retailerParticipant(info.retailerKey),
      price,
      terms,
    }
    if (this.#purchases.has(purchaseId)) return
    this.#purchases.set(purchaseId, truth)
    // Through a share, the sale may credit its referrer (decision 0512), by the rules the sharing workload applies.
    const referral = via == null || this.sharing == null ? null : this.sharing.referral(via, account, terms)
    const credit = this.#truth.sale({
      wallet: truth.wallet,
      retailer: truth.retailer,
      price,
      terms,
      referral: typeof referral === 'object' ? referral : null,
    })
    if (via != null && this.sharing != null)
      this.sharing.sold(via, {
        purchaseId,
        price,
        buyer: account,
        credit,
        reason: typeof referral === 'string' ? referral : null,
        payer: referral != null && typeof referral === 'object' ? payerOf(referral.from, info.retailerKey, terms) : '',
      })
  }

  /** Play a bought track; a play that fails (its segments out of reach during a fault) is tried again later. */
  async #play(sim: SimNode, isrc: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (!sim.online) return
      const ok = await this.#playOnce(sim, playerOf(sim), isrc, attempt === PLAY_ATTEMPTS)
      if (ok || attempt >= PLAY_ATTEMPTS) return
      this.#retries++
      await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS))
    }
  }

  /** One play; failures count (and fail the run) only on the last attempt. */
  async #playOnce(sim: SimNode, player: PlayerRole, isrc: string, last: boolean): Promise<boolean> {
    // A listener pauses between plays; each play lasts its audio's duration (the sink plays at speed).
    const notBefore = (this.#lastPlayEnd.get(sim.index) ?? 0) + PLAY_GAP_MS
    const wait = notBefore - this.#clock.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const seconds = this.#spec.playSeconds
    const started = performance.now()
    const row: PlayRow = {
      player: sim,
      isrc,
      purchaseId: null,
      startedAt: started,
      firstAudioMs: null,
      seconds: null,
      outcome: 'failed',
      paid: null,
      error: null,
    }
    this.#playRows.push(row)
    try {
      // First audio: the play call to the first decrypted audio reaching the (simulated) device.
      const sink = new PacedSink(SYNTH_BYTES_PER_SECOND, () => {
        row.firstAudioMs = performance.now() - started
        this.#firstAudio.record(row.firstAudioMs)
      })
      this.delivery?.playStarted(sim)
      const result = await player.play(isrc, { sink, seconds }).catch((err) => {
        this.delivery?.playEnded(sim, isrc, null, true)
        throw err
      })
      this.#lastPlayEnd.set(sim.index, this.#clock.now())
      row.purchaseId = result.purchaseId
      row.seconds = result.seconds
      const sold = result.purchaseId == null ? null : this.#saleOf(result.purchaseId)
      this.delivery?.playEnded(
        sim,
        isrc,
        result.mode !== 'licensed' ? null : sold,
        result.mode === 'licensed' && sold == null,
      )
      if (result.mode !== 'licensed' || result.purchaseId == null) {
        // Played without the licence (as a preview): a failure of the market, never tried again.
        row.error = `played as ${result.mode}`
        this.#fail(`play of ${isrc} on ${sim.name}`, new Error(`played as ${result.mode}`))
        this.#failedPlays++
        return true
      }
      const purchase = this.#purchases.get(result.purchaseId)
      if (purchase == null) {
        row.error = 'licence of an unknown purchase'
        this.#fail(`play of ${isrc} on ${sim.name}`, new Error(`licence of unknown purchase ${result.purchaseId}`))
        this.#failedPlays++
        return true
      }
      row.outcome = 'licensed'
      row.paid = purchase.terms.perPlay != null ? 'per-play' : 'download'
      this.#licensedPlays++
      this.#sampler.add('market.plays')
      this.#truth.play({ retailer: purchase.retailer, terms: purchase.terms })
      return true
    } catch (err) {
      row.error = errorName(err)
      this.#lastPlayEnd.set(sim.index, this.#clock.now())
      if (!last) {
        row.outcome = 'retried'
        return false
      }
      this.#failedPlays++
      this.#fail(`play of ${isrc} on ${sim.name}`, err)
      return true
    }
  }

  /**
   * Wait for the queued purchases and plays (at most `ms`), resume purchases left pending, and flush every player's
   * usage until the clearinghouse acknowledged everything.
   */
  async drain(ms: number): Promise<void> {
    if (!this.enabled) return
    // Purchases through shares keep coming while earlier ones are shared on: wait until nothing new was queued.
    const deadline = performance.now() + Math.max(ms, PURCHASE_DRAIN_MAX_MS)
    for (;;) {
      const waiting = [...this.#chains.values(), ...(this.sharing?.pending() ?? [])]
      const settled = await Promise.race([
        Promise.all(waiting).then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()))),
      ])
      const now = [...this.#chains.values(), ...(this.sharing?.pending() ?? [])]
      if (!settled || (now.length === waiting.length && now.every((p, i) => p === waiting[i]))) break
    }
    for (let round = 0; round < PURCHASE_RESUMES && this.#pending.length > 0; round++) {
      for (const p of this.#pending.splice(0)) {
        try {
          const bought = await this.#buy(p.player, p.offer, p.purchaseId, p.via)
          p.row.outcome = 'resumed'
          this.#record(p.player, p.offer, bought.purchaseId, bought.price.amount, p.via)
          await this.delivery?.buyEnded(p.player, this.#saleOf(bought.purchaseId))
        } catch (err) {
          if (isError(err, PurchasePendingError)) this.#pending.push(p)
          else this.#fail(`resume ${p.purchaseId}`, err)
        }
      }
    }
    await this.flushAll()
  }

  async flushAll(): Promise<void> {
    this.#pendingReports = 0
    this.progress.report('usage flushed, clearinghouse quiet', 0, 2)
    await Promise.all(
      this.players().map(async (sim) => {
        if (!sim.online) return
        const player = playerOf(sim)
        for (let round = 0; round < FLUSH_ROUNDS; round++) {
          try {
            const flushed = await player.flushUsage()
            this.#flushed += flushed.acknowledged
            if (flushed.pendingReports === 0 && flushed.readyEvents === 0) return
          } catch (err) {
            log('flush on %s: %e', sim.name, err)
          }
        }
        this.#pendingReports += player.status().outbox.pendingReports
      }),
    )
    this.progress.report('usage flushed, clearinghouse quiet', 1, 2)
    await this.#quiet()
    this.progress.report('usage flushed, clearinghouse quiet', 2, 2)
  }

  /** Whether an offer the retailers listed is known to the ground truth, and whether its plays move money. */
  knows(offer: string): boolean {
    return this.#offers.has(offer)
  }

  perPlay(offer: string): boolean {
    const info = this.#offers.get(offer)
    return info != null && this.#terms.get(info.contract)?.perPlay != null
  }

  /** Top up a hostile buyer's wallet (its account may be its node key), recorded in the ground truth. */
  async fundAccount(sim: SimNode, account: NodeKeys): Promise<void> {
    const house = this.#house()
    if (house == null) throw new SimulationSetupError('purchases need a node with the clearinghouse role')
    await this.#fundWith(sim, house, account)
  }

  /** A sale a hostile buyer really paid for (issue 11's adversaries): into the ground truth. */
  recordSale(account: NodeKeys, offer: string, purchaseId: string, price: bigint): void {
    this.#recordFor(account, offer, purchaseId, price)
    this.#attackerSales++
  }

  /** A play within a hostile buyer's licence that the clearinghouse must pay (and nothing more). */
  recordPlay(purchaseId: string): void {
    const purchase = this.#purchases.get(purchaseId)
    if (purchase == null) throw new SimulationSetupError(`no sale ${purchaseId} in the ground truth`)
    this.#licensedPlays++
    this.#truth.play({ retailer: purchase.retailer, terms: purchase.terms })
  }

  /** Wait until the clearinghouse's counters stop moving (gossiped copies of reports are ingested too). */
  async #quiet(): Promise<void> {
    const house = this.#house()
    if (house == null || !house.online) return
    const deadline = performance.now() + INGEST_WAIT_MS
    let last = ''
    let since = performance.now()
    while (performance.now() < deadline) {
      const now = JSON.stringify(await this.clearinghouseStats())
      if (now !== last) {
        last = now
        since = performance.now()
      } else if (performance.now() - since >= INGEST_QUIET_MS) return
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }

  /** The clearinghouse's counters (`/stats`), summed over its incarnations. */
  async clearinghouseStats(): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const { said, ingest } of this.#earlierStats) {
      const counted: Record<string, number> = { ...said, ...ingest } // the ingest's, read now that it has closed
      for (const [k, v] of Object.entries(counted)) out[k] = (out[k] ?? 0) + v
    }
    const house = this.#house()
    if (house == null || !house.online) return out
    for (const [k, v] of Object.entries(await this.#currentStats(house))) out[k] = (out[k] ?? 0) + v
    return out
  }

  /** This incarnation's counters. */
  async #currentStats(house: SimNode): Promise<Record<string, number>> {
    const stats = (await route(house, 'GET', '/stats')) as Record<string, unknown>
    const out: Record<string, number> = {}
    for (const [k, v] of Object.entries(stats)) if (typeof v === 'number') out[k] = v
    return out
  }

  /**
   * The settlement invariants: every purchase resolved, every licensed play settled exactly once and nothing else,
   * every participant's balance equal to the ground truth to the minor unit, no account moved that the workload
   * does not know, nothing left pending, and the clearinghouse's audit clean.
   */
  /** `heldByAttack`: plays hostile buyers claimed beyond their licences, which the clearinghouse must hold. */
  async report(extra: { heldByAttack?: number } = {}): Promise<{ metrics: PurchaseMetrics; checks: Check[] }> {
    const house = this.#house()
    const stats = await this.clearinghouseStats()
    let audit: PurchaseMetrics['audit'] = null
    let stillHeld: PurchaseMetrics['stillHeld'] = null
    const rows: LedgerRow[] = []
    const unexpected: string[] = []
    const expected = this.#truth.balances()
    if (house?.online === true && this.enabled) {
      const a = (await route(house, 'GET', '/audit')) as {
        ok: boolean
        ledger: unknown[]
        clearing: unknown[]
      }
      audit = { ok: a.ok, ledgerViolations: a.ledger.length, clearingViolations: a.clearing.length }
      stillHeld = { missing: await countHeld(house, 'missing'), suspicious: await countHeld(house, 'suspicious') }
      for (const [participant, amount] of [...expected].sort((x, y) => cmp(x[0], y[0]))) {
        const balances = (await route(house, 'GET', '/balances', { participant }).catch(() => ({
          balances: [],
        }))) as { balances: Array<{ currency: string; posted: bigint; pending: bigint }> }
        const eur = balances.balances.find((b) => b.currency === 'EUR')
        const label = participantLabel(this.#cluster.nodes, participant)
        rows.push({ account: participant, label, expected: amount, actual: eur?.posted ?? 0n })
        if (eur != null && eur.pending !== 0n)
          rows.push({
            account: `${participant} (pending)`,
            label: `${label} (pending)`,
            expected: 0n,
            actual: eur.pending,
          })
      }
      const known = new Set([...expected.keys()].map((p) => accountKey(p)))
      for (let after = 0; ; ) {
        const page = (await route(house, 'GET', '/transfers', {
          after: String(after),
          limit: String(TRANSFER_PAGE),
        })) as { transfers: Array<{ debitAccountId: string; creditAccountId: string }>; next: number | null }
        for (const t of page.transfers)
          for (const id of [t.debitAccountId, t.creditAccountId])
            if (!id.startsWith('holding:') && !known.has(id) && !unexpected.includes(id)) unexpected.push(id)
        if (page.next == null) break
        after = page.next
      }
    }
    const wrong = rows.filter((r) => r.expected !== r.actual)
    const delivered =
      this.delivery == null || !this.enabled
        ? null
        : await this.delivery.report(house, (path, query) =>
            house == null ? Promise.resolve(null) : route(house, 'GET', path, query),
          )
    const shared =
      this.sharing == null || !this.enabled
        ? null
        : await this.sharing.report(
            house,
            (path, query) => (house == null ? Promise.resolve(null) : route(house, 'GET', path, query)),
            this.#purchases.size - this.#attackerSales,
          )
    const metrics: PurchaseMetrics = {
      planned: this.#planned,
      bought: this.#purchases.size - this.#attackerSales,
      boughtByAttackers: this.#attackerSales,
      failed: this.#failed,
      skipped: this.#skipped,
      unresolved: this.#pending.length,
      unfinished: this.#planned - this.#finished,
      plays: {
        licensed: this.#licensedPlays,
        failed: this.#failedPlays,
        paid: this.#truth.paidPlays,
        unpaid: this.#truth.unpaidPlays,
      },
      purchaseLatencyMs: this.#latency.summary(),
      timeToFirstAudioMs: this.#firstAudio.summary(),
      reports: { flushed: this.#flushed, pendingAfterDrain: this.#pendingReports },
      retries: this.#retries,
      clearinghouse: stats,
      stillHeld,
      audit,
      ledger: { currency: 'EUR', rows, unexpectedAccounts: unexpected },
      paidDelivery: delivered?.metrics ?? null,
      sharing: shared?.metrics ?? null,
    }
    if (!this.enabled) return { metrics, checks: [] }
    const expect = this.#scenario.expect
    const checks: Check[] = [
      {
        name: 'purchases and plays ran',
        ok:
          this.#purchases.size > 0 &&
          this.#failed === 0 &&
          this.#pending.length === 0 &&
          this.#planned === this.#finished &&
          this.#failedPlays === 0 &&
          this.#pendingReports === 0,
        detail: `${this.#purchases.size} bought, ${this.#failed} failed, ${this.#pending.length} unresolved, ${this.#planned - this.#finished} unfinished; ${this.#licensedPlays} licensed play(s), ${this.#failedPlays} failed; ${this.#pendingReports} report(s) undelivered${this.#failureSamples.length > 0 ? `: ${this.#failureSamples.join(' | ')}` : ''}`,
      },
    ]
    if (expect.settlementExact) {
      // A play held because its licence had not reached the clearinghouse yet (it was down, or cut off) is settled
      // when the record arrives: what counts is that every licensed play ends settled and none is still held.
      const settled = stats.playsSettled ?? -1
      const held = stillHeld == null ? -1 : stillHeld.missing + stillHeld.suspicious - (extra.heldByAttack ?? 0)
      const heldAWhile = stats.playsHeld ?? 0
      checks.push({
        name: 'every licensed play settled exactly once',
        ok: settled === this.#licensedPlays && held === 0,
        detail: `${settled} play(s) settled for ${this.#licensedPlays} licensed play(s) of the workload; ${held} still held by the clearinghouse${(extra.heldByAttack ?? 0) > 0 ? ` beside the ${extra.heldByAttack} hostile buyers' plays it must hold` : ''} (${heldAWhile} held for a while on the way)`,
      })
      checks.push({
        name: 'ledger equals ground truth',
        ok: wrong.length === 0 && unexpected.length === 0 && rows.length > 0,
        detail:
          wrong.length === 0 && unexpected.length === 0
            ? `${rows.length} account(s) equal to the minor unit (${this.#truth.sales} sale(s), ${this.#truth.paidPlays} paid play(s), ${this.#truth.unpaidPlays} play(s) at no charge)`
            : `${wrong.length} account(s) differ${wrong
                .slice(0, MAX_LISTED_DIFFERENCES)
                .map((r) => `; ${r.label} (${r.account}): expected ${r.expected}, ledger ${r.actual}`)
                .join(
                  '',
                )}${unexpected.length > 0 ? `; accounts the workload never paid moved: ${unexpected.slice(0, MAX_LISTED_DIFFERENCES).join(', ')}` : ''}`,
      })
    }
    if (expect.settlementExact && delivered != null) checks.push(...delivered.checks)
    if (expect.settlementExact && shared != null) checks.push(...shared.checks)
    if (expect.ledgersBalance)
      checks.push({
        name: 'clearinghouse audit clean',
        ok: audit?.ok === true,
        detail:
          audit == null
            ? 'no clearinghouse to audit'
            : `${audit.ledgerViolations} ledger and ${audit.clearingViolations} clearing violation(s)`,
      })
    return { metrics, checks }
  }

  /** `purchases.csv` and `plays.csv` (empty without purchases). */
  tables(origin: number): Table[] {
    if (!this.enabled) return []
    const names = new Map(this.#cluster.nodes.map((n) => [toHex(n.keys.signer.publicKey), n.name]))
    return [
      {
        name: 'purchases',
        row: 'one planned purchase: the offer the player chose, and what became of the order',
        columns: [
          'player',
          'player_group',
          'track',
          'use_type',
          'retailer',
          'price_minor',
          'currency',
          'purchase',
          'started_s',
          'latency_ms',
          'attempts',
          'outcome',
          'error',
        ],
        rows: () =>
          mapRows(this.#purchaseRows, (r) => [
            r.player.name,
            r.player.spec.group,
            r.isrc,
            r.useType,
            r.retailerKey == null ? null : (names.get(r.retailerKey) ?? r.retailerKey),
            r.priceMinor,
            r.priceMinor == null ? null : 'EUR',
            r.purchaseId,
            seconds(r.startedAt, origin),
            millis(r.latencyMs),
            r.attempts,
            r.outcome,
            r.error,
          ]),
      },
      {
        name: 'plays',
        row: 'one play of a bought track (licence checked, segments fetched, decrypted, played at speed, counted)',
        columns: [
          'player',
          'player_group',
          'track',
          'purchase',
          'started_s',
          'first_audio_ms',
          'seconds',
          'outcome',
          'paid',
          'error',
        ],
        rows: () =>
          mapRows(this.#playRows, (r) => [
            r.player.name,
            r.player.spec.group,
            r.isrc,
            r.purchaseId,
            seconds(r.startedAt, origin),
            millis(r.firstAudioMs),
            r.seconds,
            r.outcome,
            r.paid,
            r.error,
          ]),
      },
      ...(this.delivery != null ? [this.delivery.table(origin)] : []),
      ...(this.sharing != null ? [this.sharing.table(origin)] : []),
    ]
  }

  summary(m: PurchaseMetrics): Array<[string, string]> {
    if (!this.enabled) return []
    const s = m.clearinghouse
    return [
      [
        'purchases',
        `${m.bought}/${m.planned} bought${m.boughtByAttackers > 0 ? ` (and ${m.boughtByAttackers} by hostile buyers)` : ''} (${m.failed} failed, ${m.unresolved} unresolved, ${m.skipped} skipped, ${m.retries} retried purchase(s) or play(s)); latency p50 ${m.purchaseLatencyMs.p50} ms, p99 ${m.purchaseLatencyMs.p99} ms`,
      ],
      [
        'plays',
        `${m.plays.licensed} licensed (${m.plays.paid} paid per play, ${m.plays.unpaid} under download licences), ${m.plays.failed} failed; first audio p50 ${m.timeToFirstAudioMs.p50} ms, p99 ${m.timeToFirstAudioMs.p99} ms`,
      ],
      [
        'usage reports',
        `${m.reports.flushed} acknowledged at the drain, ${m.reports.pendingAfterDrain} undelivered; clearinghouse: ${s.reports ?? 0} stored, ${s.duplicates ?? 0} duplicate(s), ${s.playsSettled ?? 0} play(s) settled, ${s.playsHeld ?? 0} held on the way, ${m.stillHeld == null ? '?' : m.stillHeld.missing + m.stillHeld.suspicious} still held`,
      ],
      [
        'ledger',
        `${m.ledger.rows.filter((r) => r.expected === r.actual).length}/${m.ledger.rows.length} account(s) equal to the ground truth; audit ${m.audit?.ok === true ? 'clean' : 'FAILED'}`,
      ],
      ...(this.delivery != null && m.paidDelivery != null ? this.delivery.summary(m.paidDelivery) : []),
      ...(this.sharing != null && m.sharing != null ? this.sharing.summary(m.sharing) : []),
    ]
  }

  #fail(what: string, err: unknown): void {
    this.#failed++
    const message = `${what}: ${(err as Error).message ?? String(err)}`
    if (this.#failureSamples.length < 10) this.#failureSamples.push(message)
    log('%s', message)
  }

  #house(): SimNode | undefined {
    return this.#cluster.nodes.find((n) => n.honest && n.spec.roles.includes('clearinghouse'))
  }

  async #fund(sim: SimNode, house: SimNode): Promise<void> {
    await this.#fundWith(sim, house, accountKeysOf(sim))
  }

  async #fundWith(sim: SimNode, house: SimNode, account: NodeKeys): Promise<void> {
    const node = sim.started
    const request = signAccountRequest(
      {
        network: node.network.name,
        account: account.signer.publicKey,
        op: 'fund',
        amount: WALLET_FUNDING_MINOR,
        currency: 'EUR',
        paymentToken: 'sim-card',
        period: null,
        requestId: `sim-top-up-${sim.index}`,
        created: this.#clock.now(),
      },
      account.signer,
    )
    const response = await rpcCall(
      node.libp2p,
      peerIdOfKey(house.keys.signer.publicKey),
      node.network.protocol(CLEARING_PROTOCOL),
      CLEARING_OPS.fund,
      request,
    )
    parseMessage(fundResponse, response, 'response')
    this.#truth.fund(walletParticipant(account.signer.publicKey), WALLET_FUNDING_MINOR)
  }

  async #contractTerms(retailers: readonly SimNode[], contract: string): Promise<ContractTerms> {
    const cid = CID.parse(contract)
    for (const r of retailers) {
      const record = await r.started.records.getAs('consort/contract', cid).catch(() => null)
      if (record == null) continue
      const c = record.body
      const unit = c.wholesale.find((w) => w.per === 'unit' && w.currency === 'EUR')
      const play = c.wholesale.find((w) => w.per === 'play' && w.currency === 'EUR')
      return {
        distributor: distributorParticipant(record.signer),
        currency: 'EUR',
        unit: unit?.amount ?? null,
        perPlay: play?.amount ?? null,
        shares: c.splits.map((s) => ({ participant: rightsholderParticipant(s.party), bps: s.bps })),
        delivery:
          c.delivery == null
            ? null
            : { perGB: c.delivery.perGB.find((p) => p.currency === 'EUR')?.amount ?? 0n, saleBps: c.delivery.saleBps },
        referral: c.referral ?? null,
      }
    }
    throw new SimulationSetupError(`no retailer holds contract ${contract}`)
  }
}

/** An offer the retailers listed at set-up: which retailer, under which contract. */
export interface OfferListing {
  offer: string
  retailerKey: string
  contract: string
}

function playerOf(sim: SimNode): PlayerRole {
  if (!sim.started.roles.has('player')) throw new SimulationSetupError(`${sim.name} runs no player role`)
  return sim.started.role('player')
}

/** The ledger account id of an EUR participant, as the clearinghouse names it (see its participants.ts). */
function accountKey(participant: string): string {
  return accountIdOf(participant, 'EUR')
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Call one of the clearinghouse's control routes in process, as `consort clearing …` would over HTTP. */
/** Plays the clearinghouse holds now, of one kind (`GET /held`, every page). */
async function countHeld(house: SimNode, which: 'missing' | 'suspicious'): Promise<number> {
  let count = 0
  for (let after: string | null = null; ; ) {
    const page = (await route(house, 'GET', '/held', {
      which,
      limit: String(TRANSFER_PAGE),
      ...(after != null ? { after } : {}),
    })) as { held: unknown[]; next: string | null }
    count += page.held.length
    if (page.next == null) return count
    after = page.next
  }
}

/** The clearinghouse's ingest counters of the running incarnation, as the object it keeps counting in. */
function liveIngestStats(sim: SimNode): Readonly<IngestStats> {
  return sim.started.role('clearinghouse').engine.ingest.stats
}

export async function route(sim: SimNode, method: 'GET' | 'POST', path: string, query: Record<string, string> = {}) {
  const instance = sim.started.roles.get('clearinghouse')
  const found = instance?.controlRoutes?.find((r) => r.method === method && r.path === path)
  if (found == null) throw new SimulationSetupError(`${sim.name} has no ${method} /v1/clearinghouse${path}`)
  return await found.handler({ params: {}, query, body: {}, signal: new AbortController().signal })
}

/** An error's code (or class name), with the remote side's code when it refused: for a table cell. */
function errorName(err: unknown): string {
  const e = err as { code?: string; remoteCode?: string; name?: string }
  const own = e.code ?? e.name ?? 'Error'
  return e.remoteCode != null ? `${own}/${e.remoteCode}` : own
}
