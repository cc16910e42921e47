import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import type { SeededRandom } from '../../keys/random.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { RoleName } from '../../protocols/records/types/common.ts'
import type { FetchProgressEvent } from '../../protocols/segments/fetcher.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import { topicString } from '../../protocols/topics/names.ts'
import type { ListedOffer } from '../../roles/player/index.ts'
import type { ControlRoute } from '../../roles/role.ts'
import { HostileBuyers, type HostileBuyersMetrics } from '../adversaries/hostile-buyers.ts'
import { type CertifiedOffer, OVERPRICE_KINDS, type OverpriceMetrics, Overpricers } from '../adversaries/overpricer.ts'
import { Replayers, type ReplayMetrics } from '../adversaries/replayer.ts'
import type { Cluster, SimNode } from '../cluster.ts'
import { SimulationSetupError } from '../errors.ts'
import { Distribution, type DistributionSummary, type Timeline } from '../metrics.ts'
import type { Plan } from '../plan.ts'
import { mapRows, millis, seconds, type Table } from '../report/tables.ts'
import type { Check } from '../report/types.ts'
import { pick, poissonTimes, stream } from '../rng.ts'
import type { AdversarySpec, MarketSpec, Scenario } from '../scenario.ts'
import { SYNTH_BYTES_PER_SECOND } from './paced-sink.ts'
import { PaidDelivery } from './paid-delivery.ts'
import { type OfferListing, type PurchaseMetrics, PurchaseWorkload } from './purchases.ts'
import { simIsrc } from './records.ts'
import { SharingWorkload } from './sharing.ts'
import { StepProgress } from './step-progress.ts'

const log = logger('consort:sim:market')

/** Longest wait for one setup step (publishing, contracts reaching retailers, certification, seeding). */
export const SETUP_STEP_TIMEOUT_MS = 300_000
/**
 * While retailers wait for contracts, the labels announce again this often. Not sooner: gossipsub names a message by
 * its bytes and refuses to publish one it has seen within its seen TTL (2 minutes, `PublishError.Duplicate`), so an
 * earlier re-announcement of the same record sends nothing (decision 0805).
 */
export const REANNOUNCE_MS = 125_000
/** A fetch fails when no peer delivers a missing block for this long. */
export const FETCH_STALL_TIMEOUT_MS = 20_000
/** Longest wait at the drain for fetches still running (virtual time; a fetch stalls out after FETCH_STALL_TIMEOUT_MS). */
export const FETCH_DRAIN_MAX_MS = 600_000
/** Fetches one run follows (each keeps a few counters). */
export const MAX_FETCHES = 10_000
/** Failure messages kept in metrics.json: enough to see the causes, bounded for long runs. */
export const MAX_FAILURE_MESSAGES = 10
/** Wholesale prices of the releases' two deals (EUR): a download per unit, a stream per play. */
export const WHOLESALE_PER_UNIT = '0.69'
export const WHOLESALE_PER_PLAY = '0.35'
/** Each release's royalty splits (basis points): shares that never tie under the largest-remainder rule. */
export const SPLIT_BPS = { artist: 6000, publisher: 4000 } as const

/** The roles the market workload drives, and what this build must have for each part. */
const NEEDED: readonly RoleName[] = ['production', 'reference', 'retailer', 'delivery']
/** Purchases, plays and settlement need these too. */
const NEEDED_FOR_PURCHASES: readonly RoleName[] = ['player', 'clearinghouse', 'registration']

export interface MarketMetrics {
  releases: number
  tracks: number
  offers: { expected: number; certified: number; certifyMs: number }
  seeds: { nodes: number; complete: number; seedMs: number }
  fetches: {
    planned: number
    started: number
    completed: number
    failed: number
    skipped: number
    /** Still running when the drain ended (neither completed nor failed). */
    unfinished: number
    /** Completed without fetching anything: the listener held the whole track already (not in the durations). */
    alreadyHeld: number
    /** Failed fetches by the error's class name, and the first few messages (what a person needs to see why). */
    failures: Record<string, number>
    failureMessages: string[]
  }
  fetchMs: DistributionSummary
  timeToFirstAudioMs: DistributionSummary
  /** Each fetch's throughput, MB/s. */
  throughputMBps: { mean: number; p50: number; p10: number }
  bytesBySource: Record<string, number>
  /** Share of the fetched bytes served by delivery nodes (the rest: players and the label). */
  deliveryShare: number
  badBlocks: number
  droppedPeers: Record<string, number>
  purchases: PurchaseMetrics | null
  /** For the report's charts: the purchases' latency and the ledger against the ground truth. */
  purchaseLatencyMs: DistributionSummary | null
  playFirstAudioMs: DistributionSummary | null
  ledger: PurchaseMetrics['ledger'] | null
  replays: ReplayMetrics | null
  overpriced: OverpriceMetrics | null
  /** Issue 11's attackers on the money paths (the `hostile-buyers` adversary). */
  hostileBuyers: HostileBuyersMetrics | null
  summary: Array<[string, string]>
}

interface Track {
  isrc: string
  manifest: SignedRecord<'consort/manifest'>
}

interface FetchRecord {
  listener: SimNode
  isrc: string
  bytes: number
  startedAt: number
  endedAt: number | null
  firstSegmentMs: number | null
  /** Bytes of verified segments received from other peers (0: the listener held the whole track already). */
  fetchedBytes: number
  ok: boolean
  /** Why it failed: the error's class name, and its message with the listener, track and time. */
  errorName?: string
  error?: string
}

/**
 * The market: labels publish releases through the production role (synthesized audio, real packaging, escrow and
 * contracts), retailers make offers from the contracts and have them certified by the reference service, delivery
 * nodes seed the releases, and listeners fetch tracks from the swarm with the segments protocol, verifying every
 * block. Every step goes through the roles' own control routes, as the CLI would.
 *
 * Purchases, plays, usage reports and settlement need the player and clearinghouse roles in this build; until
 * then the workload says so in its report (and refuses a scenario that asks for purchases).
 */
export class MarketWorkload {
  readonly #scenario: Scenario
  readonly #spec: MarketSpec
  readonly #cluster: Cluster
  readonly #seed: number
  readonly #clock: Clock
  readonly #sampler: Timeline
  readonly #services = new Map<number, SegmentsService>()
  readonly #tracks: Track[] = []
  readonly #fetchMs = new Distribution()
  readonly #firstAudioMs = new Distribution()
  readonly #throughputs: number[] = []
  readonly #bytesBySource = new Map<string, number>()
  readonly #dropped = new Map<string, number>()
  readonly #fetches: FetchRecord[] = []
  readonly #inFlight = new Set<Promise<void>>()
  #badBlocks = 0
  #replayRandom: SeededRandom | null = null
  #skipped = 0
  #planned = 0
  #offers = { expected: 0, certified: 0, certifyMs: 0 }
  #seeds = { nodes: 0, complete: 0, seedMs: 0 }
  #releases = 0
  readonly #purchases: PurchaseWorkload
  readonly #replayers: Replayers | null
  readonly #overpricers: Overpricers | null
  readonly #hostile: HostileBuyers | null
  #replays = 0
  #listings: OfferListing[] = []
  #certified: CertifiedOffer[] = []
  /** Where the set-up and the drain are, for a person watching (stderr only; see step-progress.ts). */
  readonly progress = new StepProgress()

  constructor(scenario: Scenario, cluster: Cluster, seed: number, clock: Clock, sampler: Timeline) {
    const spec = scenario.workload.market
    if (spec == null) throw new SimulationSetupError('no market workload in this scenario')
    this.#scenario = scenario
    this.#spec = spec
    this.#cluster = cluster
    this.#seed = seed
    this.#clock = clock
    this.#sampler = sampler
    for (const role of NEEDED) {
      if (!cluster.nodes.some((n) => n.honest && n.spec.roles.includes(role)))
        throw new SimulationSetupError(`the market workload needs a group with the ${role} role`)
    }
    const needsPurchases =
      spec.purchasesPerSec > 0 ||
      scenario.adversaries.some((a) => a.kind === 'replay-usage' || a.kind === 'hostile-buyers')
    if (needsPurchases)
      for (const role of NEEDED_FOR_PURCHASES) {
        if (!cluster.nodes.some((n) => n.honest && n.spec.roles.includes(role)))
          throw new SimulationSetupError(`purchases and usage reports need a group with the ${role} role`)
      }
    this.#purchases = new PurchaseWorkload(scenario, cluster, seed, clock, sampler)
    this.#purchases.progress = this.progress
    const replayers = cluster.nodes.filter((n) => n.spec.kind === 'replayer')
    this.#replayers = replayers.length > 0 ? new Replayers(cluster.network.name, replayers) : null
    const overpricers = cluster.nodes.filter((n) => n.spec.kind === 'overpricer')
    this.#overpricers = overpricers.length > 0 ? new Overpricers(overpricers) : null
    this.#hostile = scenario.adversaries.some((a) => a.kind === 'hostile-buyers') ? new HostileBuyers(cluster) : null
  }

  /** Role options the market's nodes start with. */
  static roleOptions(spec: MarketSpec): Partial<Record<RoleName, Record<string, unknown>>> {
    return {
      production: { segmentSize: spec.segmentBytes, reannounceIntervalMs: 0 },
    }
  }

  /** Give every listener (an honest node without roles) a segments service: it fetches, and seeds what it holds. */
  attach(sim: SimNode): void {
    this.#replayers?.attach(sim)
    if (sim.spec.roles.length > 0) this.#purchases.delivery?.attach(sim)
    if (!sim.honest || sim.spec.roles.length > 0 || sim.node == null) return
    const node = sim.node
    const service = new SegmentsService(
      { libp2p: node.libp2p, blockstore: node.helia.blockstore as never, network: node.network, clock: this.#clock },
      { reprovide: false },
    )
    this.#services.set(sim.index, service)
    this.#purchases.delivery?.attach(sim, service)
    service.start().catch((err) => log.error('segments service of %s: %e', sim.name, err))
  }

  /** Publish the releases, make and certify the offers, seed the delivery nodes. */
  async setup(): Promise<void> {
    const spec = this.#spec
    const producers = this.#honest('production')
    const retailers = this.#honest('retailer')
    const random = stream(this.#seed, 'market/releases')
    const durationSeconds = Math.max(1, Math.round(spec.trackBytes / SYNTH_BYTES_PER_SECOND))
    const releaseIds: CID[] = []
    // Paid delivery and referral credits (decision 0811): both deals name the scenario's delivery fee, each its own
    // referral clause.
    const paid = spec.delivery == null ? {} : { delivery: PaidDelivery.dealTerms(spec.delivery) }
    let n = 0
    this.progress.report('releases published', 0, spec.releases)
    // Every release is described first (its draws in release order), then each label publishes its own releases one
    // after the other while the labels publish side by side, as separate labels do: the set-up then waits on one
    // label's DHT puts at a time, not on every label's in turn, while the whole network's timers run.
    const planned: Array<{ producer: SimNode; description: unknown }> = []
    for (let r = 0; r < spec.releases; r++) {
      const producer = producers[r % producers.length]!
      const tracks = Array.from({ length: spec.tracksPerRelease }, () => {
        const isrc = simIsrc(++n + 10_000 * (this.#seed % 7))
        return {
          isrc,
          title: `Sim Track ${n}`,
          artists: [`Sim Artist ${1 + random.int(20)}`],
          file: `missing-${isrc}.wav`,
          durationSeconds,
          preview: { startSeconds: 0, durationSeconds: Math.max(1, Math.min(5, Math.floor(durationSeconds / 2))) },
        }
      })
      const description = {
        consortRelease: 1,
        upc: upc(100_000 + r + 1000 * (this.#seed % 97)),
        title: `Sim Release ${r + 1}`,
        artists: ['Sim Ensemble'],
        label: `Sim Label ${producers.indexOf(producer) + 1}`,
        genre: pick(random, ['Jazz', 'Folk', 'Electronic', 'Classical']),
        tracks,
        // Two deals, as labels sign them: downloads at a wholesale price per unit, streams at a price per play.
        deals: [
          {
            id: 'download',
            commercialModel: 'pay-as-you-go',
            useTypes: ['PermanentDownload'],
            wholesale: [{ currency: 'EUR', amount: WHOLESALE_PER_UNIT, per: 'unit' }],
            ...paid,
            ...SharingWorkload.dealClause(spec.sharing?.referral.download ?? null),
          },
          {
            id: 'stream',
            commercialModel: 'pay-as-you-go',
            useTypes: ['OnDemandStream'],
            wholesale: [{ currency: 'EUR', amount: WHOLESALE_PER_PLAY, per: 'play' }],
            ...paid,
            ...SharingWorkload.dealClause(spec.sharing?.referral.stream ?? null),
          },
        ],
        splits: [
          { party: `sim-label-${producers.indexOf(producer) + 1}-artist`, bps: SPLIT_BPS.artist },
          { party: `sim-label-${producers.indexOf(producer) + 1}-publisher`, bps: SPLIT_BPS.publisher },
        ],
      }
      planned.push({ producer, description })
    }
    type Published = { releases: Array<{ release: CID | null; tracks: Array<{ isrc: string; manifest: CID }> }> }
    const published: Published[] = []
    await Promise.all(
      producers.map(async (producer) => {
        for (const [r, plan] of planned.entries()) {
          if (plan.producer !== producer) continue
          published[r] = (await route(producer, 'production', 'POST', '/publish', {
            release: plan.description,
            synthesizeMissing: true,
            wait: true,
          })) as Published
          this.#releases++
          this.progress.report('releases published', this.#releases, spec.releases)
          log('published release %d of %d from %s', r + 1, spec.releases, producer.name)
        }
      }),
    )
    for (const [r, result] of published.entries()) {
      const producer = planned[r]!.producer
      for (const release of result.releases) {
        if (release.release != null) releaseIds.push(release.release)
        for (const track of release.tracks) {
          const manifest = await producer.started.records.getAs('consort/manifest', track.manifest)
          this.#tracks.push({ isrc: track.isrc, manifest })
        }
      }
    }
    // Retailers make offers once the contracts reached them; the reference service certifies them.
    const t0 = performance.now()
    let nextAnnounce = performance.now() + REANNOUNCE_MS
    await until(
      async () => {
        if (performance.now() > nextAnnounce) {
          // A contract published before the label had a gossip peer on the topic is lost: announce again, as the
          // production role's own timer would (its interval is minutes).
          nextAnnounce = performance.now() + REANNOUNCE_MS
          for (const producer of producers) await route(producer, 'production', 'POST', '/reannounce')
        }
        let holding = 0
        for (const retailer of retailers) {
          const contracts = (await route(retailer, 'retailer', 'GET', '/contracts')) as
            | unknown[]
            | { contracts: unknown[] }
          const count = Array.isArray(contracts) ? contracts.length : contracts.contracts.length
          if (count >= spec.releases * 2) holding++
        }
        this.progress.report('retailers holding every contract', holding, retailers.length)
        if (holding < retailers.length) return false
        log('every retailer holds every contract after %d ms', Math.round(performance.now() - t0))
        return true
      },
      'every retailer holds every contract',
      async () => {
        const counts = []
        for (const retailer of retailers) {
          const contracts = (await route(retailer, 'retailer', 'GET', '/contracts')) as unknown[]
          // What the previous attempts could not see: is the retailer cut off from the topic, or refusing?
          const node = retailer.started
          const pubsub = node.libp2p.services.pubsub as unknown as {
            getMeshPeers(topic: string): string[]
            getSubscribers(topic: string): unknown[]
          }
          const topic = topicString(this.#cluster.network.name, 'contracts')
          const refusals = [...node.topics.refusals].map(([k, v]) => `${k} ${v}`).join(' ') || 'none'
          counts.push(
            `${retailer.name} ${contracts.length}/${spec.releases * 2} (${node.libp2p.getConnections().length} connections, ${pubsub.getMeshPeers(topic).length} mesh and ${pubsub.getSubscribers(topic).length} known followers on contracts, refusals: ${refusals})`,
          )
        }
        return `contracts held: ${counts.join(', ')}`
      },
    )
    const markup = stream(this.#seed, 'market/markup')
    const markups = retailers.map(() =>
      Math.round(
        10_000 * (spec.priceMinor.min / 69 - 1 + markup.float() * ((spec.priceMinor.max - spec.priceMinor.min) / 69)),
      ),
    )
    // Retailers make their offers side by side, as separate businesses do; each certifies its own one at a time.
    // One after the other, 10 retailers of 48 offers waited out 480 round trips to a reference service in turn.
    await Promise.all(
      retailers.map((retailer, i) =>
        route(retailer, 'retailer', 'POST', '/offers/from-contracts', { markupBps: Math.max(0, markups[i]!) }),
      ),
    )
    this.#offers.expected = retailers.length * this.#tracks.length * 2 + retailers.length * releaseIds.length * 2
    await until(async () => {
      let certified = 0
      let total = 0
      for (const retailer of retailers) {
        const listed = (await route(retailer, 'retailer', 'GET', '/offers')) as { offers?: Array<{ status: string }> }
        const offers = listed.offers ?? (listed as unknown as Array<{ status: string }>)
        total += offers.length
        certified += offers.filter((o) => o.status === 'certified').length
      }
      this.#offers.certified = certified
      this.#offers.expected = Math.max(total, 1)
      this.progress.report('offers certified', certified, total)
      return total > 0 && certified === total
    }, 'every offer certified')
    this.#offers.certifyMs = Math.round(performance.now() - t0)
    log('%d offers certified after %d ms', this.#offers.certified, this.#offers.certifyMs)
    await this.#collectOffers(retailers)
    // Delivery nodes (honest and corrupt) seed every release.
    const t1 = performance.now()
    const seeders = this.#cluster.nodes.filter((n) => n.online && n.spec.roles.includes('delivery'))
    this.#seeds.nodes = seeders.length
    await Promise.all(
      seeders.map(async (sim) => {
        for (const id of releaseIds) {
          await route(sim, 'delivery', 'POST', '/seeds', { cid: id.toString(), wait: true })
          this.#seeds.complete++
          this.progress.report(
            'releases seeded (seeder × release)',
            this.#seeds.complete,
            seeders.length * releaseIds.length,
          )
        }
      }),
    )
    this.#seeds.seedMs = Math.round(performance.now() - t1)
    log('%d seeders seeded every release in %d ms', seeders.length, this.#seeds.seedMs)
    this.#purchases.delivery?.tracks(this.#tracks.map((t) => t.manifest))
    if (this.#purchases.enabled || this.#replayers != null || this.#hostile != null)
      await this.#purchases.setup(
        this.#tracks.map((t) => t.isrc),
        retailers,
        this.#listings,
      )
  }

  /** What the retailers have on sale: for the ground truth (offer → retailer, contract) and for the over-pricers. */
  async #collectOffers(retailers: readonly SimNode[]): Promise<void> {
    for (const retailer of retailers) {
      const listed = (await route(retailer, 'retailer', 'GET', '/offers')) as { offers?: OfferRow[] } | OfferRow[]
      const rows = Array.isArray(listed) ? listed : (listed.offers ?? [])
      const key = toHex(retailer.keys.signer.publicKey)
      for (const row of rows) {
        if (row.status !== 'certified' || row.certification == null) continue
        this.#listings.push({ offer: row.offer, retailerKey: key, contract: row.contract })
        if ((this.#overpricers != null || this.#hostile != null) && this.#certified.length < MAX_COPIED_OFFERS) {
          const records = retailer.started.records
          this.#certified.push({
            offer: await records.getAs('consort/offer', CID.parse(row.offer)),
            certification: await records.getAs('consort/certification', CID.parse(row.certification)),
          })
        }
      }
    }
  }

  /** Listeners fetch random tracks at the scenario's rate; players buy and play. */
  plan(plan: Plan): void {
    this.#purchases.plan(plan)
    const random = stream(this.#seed, 'market/fetches')
    const listeners = this.#cluster.nodes.filter((n) => n.honest && n.spec.roles.length === 0)
    if (listeners.length === 0) return
    const times = poissonTimes(random, this.#spec.fetchesPerSec, this.#scenario.durationMs, MAX_FETCHES)
    for (const t of times) {
      const listener = pick(random, listeners)
      const trackIndex = random.int(1_000_000)
      this.#planned++
      plan.add(t, `fetch track ${trackIndex} by ${listener.name}`, async () => {
        const track = this.#tracks[trackIndex % Math.max(1, this.#tracks.length)]
        const service = this.#services.get(listener.index)
        if (track == null || service == null || !listener.online) {
          this.#skipped++
          return
        }
        const done = this.#fetch(listener, service, track)
        this.#inFlight.add(done)
        await done
        this.#inFlight.delete(done)
        this.progress.report(
          'fetches ended or skipped (of those planned)',
          this.#fetches.length - this.#inFlight.size + this.#skipped,
          this.#planned,
        )
      })
    }
  }

  planAttack(plan: Plan, attack: AdversarySpec, random: SeededRandom): void {
    if (attack.kind === 'corrupt-seeders') return // they seed with corrupt blocks from setup on
    if (attack.kind === 'replay-usage') {
      // Replays go out once the honest reports were delivered (the drain), so that every one is a real report.
      this.#replays += attack.replays
      this.#replayRandom = random
      return
    }
    if (attack.kind === 'hostile-buyers') {
      // They act at the drain, once the honest market is done (and before any replay).
      this.#hostile?.plan(attack, random)
      return
    }
    if (attack.kind === 'overpriced-offers') {
      const overpricers = this.#overpricers
      if (overpricers == null) return
      let n = 0
      for (const sim of overpricers.nodes) {
        for (const t of poissonTimes(random, attack.ratePerSec, this.#scenario.durationMs, MAX_FETCHES)) {
          const k = ++n
          const kind = OVERPRICE_KINDS[k % OVERPRICE_KINDS.length]!
          const which = random.int(1_000_000)
          plan.add(t, `overpriced offer (${kind}) ${k} from ${sim.name}`, async () => {
            const honest = this.#certified[which % Math.max(1, this.#certified.length)]
            if (honest == null) return
            await overpricers.publish(sim, honest, kind, k, this.#clock.now())
          })
        }
      }
    }
  }

  async #fetch(listener: SimNode, service: SegmentsService, track: Track): Promise<void> {
    const start = performance.now()
    const record: FetchRecord = {
      listener,
      isrc: track.isrc,
      bytes: track.manifest.body.byteSize,
      startedAt: start,
      endedAt: null,
      firstSegmentMs: null,
      fetchedBytes: 0,
      ok: false,
    }
    this.#fetches.push(record)
    const kinds = new Map(this.#cluster.nodes.map((n) => [n.peerId, sourceKind(n)]))
    let first = false
    const fetch = service.fetchTrack(track.manifest, {
      priority: 'now',
      announce: false,
      stallTimeoutMs: FETCH_STALL_TIMEOUT_MS,
      onProgress: (event: FetchProgressEvent) => {
        if (event.type === 'block') {
          const kind = kinds.get(event.peer) ?? 'unknown'
          this.#bytesBySource.set(kind, (this.#bytesBySource.get(kind) ?? 0) + event.bytes)
          this.#sampler.add('market.fetchedBytes', event.bytes)
          record.fetchedBytes += event.bytes
          if (event.index === 0 && !first) {
            first = true
            record.firstSegmentMs = performance.now() - start
            this.#firstAudioMs.record(record.firstSegmentMs)
          }
        } else if (event.type === 'bad-block') {
          this.#badBlocks++
        } else if (event.type === 'peer-dropped') {
          this.#dropped.set(event.reason, (this.#dropped.get(event.reason) ?? 0) + 1)
        }
      },
    })
    try {
      await fetch.done
      record.endedAt = performance.now()
      const ms = performance.now() - start
      // A track the listener already held is no network fetch: counted, kept out of durations and throughput.
      if (record.fetchedBytes > 0) {
        this.#fetchMs.record(ms)
        this.#throughputs.push(track.manifest.body.byteSize / 1e6 / Math.max(0.001, ms / 1000))
      }
      record.ok = true
      this.#sampler.add('market.fetched')
    } catch (err) {
      log('fetch of %s by %s failed: %e', track.isrc, listener.name, err)
      const error = err instanceof Error ? err : new Error(String(err))
      record.error = `${error.name}: ${error.message} (${listener.name}, ${track.isrc}, after ${Math.round(performance.now() - start)} ms)`
      record.errorName = error.name
      record.endedAt = performance.now()
      this.#sampler.add('market.fetchFailed')
    }
  }

  /** Wait (at most `ms`) for the fetches still running. */
  /**
   * Wait for the fetches still running (each ends by itself: it completes or stalls) and for the purchases and plays,
   * then replay what the replayers captured. `ms` is what is left of the scenario's drain; in virtual time a longer
   * wait costs nothing, so work still running is waited for (bounded) rather than cut off and counted as failed.
   */
  async drain(ms: number): Promise<void> {
    if (this.#inFlight.size > 0)
      await Promise.race([
        Promise.all(this.#inFlight),
        new Promise((resolve) => setTimeout(resolve, Math.max(ms, FETCH_DRAIN_MAX_MS))),
      ])
    await this.#purchases.drain(ms)
    if (this.#hostile?.planned === true) {
      this.progress.report('hostile buyers acting', 0, 1)
      await this.#hostileBuyersAct()
      this.progress.report('hostile buyers acting', 1, 1)
    }
    if (this.#replayers != null && this.#replayRandom != null) {
      this.progress.report('replayers replaying', 0, 1)
      const houses = this.#cluster.network.record.body.clearinghouses.map((c) => c.key)
      await this.#replayers.replay(this.#replays, this.#replayRandom, houses)
      await this.#purchases.flushAll()
      this.progress.report('replayers replaying', 1, 1)
    }
  }

  /** Issue 11's hostile buyers act, with what they may know of the market and the ground truth to record in. */
  async #hostileBuyersAct(): Promise<void> {
    const house = this.#cluster.nodes.find((n) => n.honest && n.online && n.spec.roles.includes('clearinghouse'))
    if (house == null || this.#hostile == null) return
    const purchases = this.#purchases
    await this.#hostile.act({
      network: this.#cluster.network.name,
      clock: this.#clock,
      cluster: this.#cluster,
      clearinghouse: house,
      services: this.#cluster.nodes.filter(
        (n) =>
          n.honest &&
          n.online &&
          n.spec.roles.some((r) => ['registration', 'clearinghouse', 'retailer', 'reference', 'delivery'].includes(r)),
      ),
      tracks: this.#tracks.map((t) => t.isrc),
      certified: this.#certified,
      known: (offer) => purchases.knows(offer),
      perPlay: (offer) => purchases.perPlay(offer),
      fund: (sim, account) => purchases.fundAccount(sim, account),
      sale: (account, offer, purchaseId, price) => purchases.recordSale(account, offer, purchaseId, price),
      play: (purchaseId) => purchases.recordPlay(purchaseId),
    })
    await this.#purchases.flushAll()
  }

  async report(): Promise<{ metrics: MarketMetrics; checks: Check[] }> {
    const completed = this.#fetches.filter((f) => f.ok).length
    const failed = this.#fetches.filter((f) => f.error != null).length
    // Still running when the drain ended: not complete, and not failed either (yet).
    const unfinished = this.#fetches.length - completed - failed
    const sorted = [...this.#throughputs].sort((a, b) => a - b)
    const at = (p: number) =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
    const round = (x: number) => Math.round(x * 100) / 100
    const totalBytes = [...this.#bytesBySource.values()].reduce((a, b) => a + b, 0)
    const deliveryBytes = this.#bytesBySource.get('delivery') ?? 0
    const replays = this.#replayers?.metrics() ?? null
    const hostile = this.#hostile?.report() ?? null
    const bought = await this.#purchases.report({ heldByAttack: hostile?.heldPlays ?? 0 })
    if (this.#overpricers != null) {
      const viewer = this.#purchases.players().find((p) => p.online)
      if (viewer != null) {
        const player = viewer.started.role('player')
        await this.#overpricers.checkListings(async (content) => (await player.offers(content)).offers as ListedOffer[])
      }
    }
    const overpriced = this.#overpricers?.metrics() ?? null
    const withPurchases = this.#purchases.enabled
    const metrics: MarketMetrics = {
      releases: this.#releases,
      tracks: this.#tracks.length,
      offers: this.#offers,
      seeds: this.#seeds,
      fetches: {
        planned: this.#planned,
        started: this.#fetches.length,
        completed,
        failed,
        unfinished,
        alreadyHeld: this.#fetches.filter((f) => f.ok && f.fetchedBytes === 0).length,
        skipped: this.#skipped,
        failures: countBy(this.#fetches.flatMap((f) => (f.errorName == null ? [] : [f.errorName]))),
        failureMessages: this.#fetches
          .flatMap((f) => (f.error == null ? [] : [f.error]))
          .slice(0, MAX_FAILURE_MESSAGES),
      },
      fetchMs: this.#fetchMs.summary(),
      timeToFirstAudioMs: this.#firstAudioMs.summary(),
      throughputMBps: {
        mean: round(sorted.length === 0 ? 0 : sorted.reduce((a, b) => a + b, 0) / sorted.length),
        p50: round(at(0.5)),
        p10: round(at(0.1)),
      },
      bytesBySource: Object.fromEntries(this.#bytesBySource),
      deliveryShare: totalBytes === 0 ? 0 : round(deliveryBytes / totalBytes),
      badBlocks: this.#badBlocks,
      droppedPeers: Object.fromEntries(this.#dropped),
      purchases: withPurchases ? bought.metrics : null,
      purchaseLatencyMs: withPurchases ? bought.metrics.purchaseLatencyMs : null,
      playFirstAudioMs: withPurchases ? bought.metrics.timeToFirstAudioMs : null,
      ledger: withPurchases ? bought.metrics.ledger : null,
      replays,
      overpriced,
      hostileBuyers: hostile?.metrics ?? null,
      summary: [],
    }
    metrics.summary = [
      [
        'market',
        `${metrics.releases} release(s), ${metrics.tracks} track(s); ${this.#offers.certified}/${this.#offers.expected} offers certified in ${(this.#offers.certifyMs / 1000).toFixed(1)} s; ${this.#seeds.complete} seed(s) in ${(this.#seeds.seedMs / 1000).toFixed(1)} s`,
      ],
      [
        'fetches',
        `${completed}/${this.#fetches.length} complete (${metrics.fetches.alreadyHeld} of them already held, ${failed} failed${failureList(metrics.fetches.failures)}, ${unfinished} unfinished, ${this.#skipped} skipped); p50 ${metrics.fetchMs.p50} ms, p99 ${metrics.fetchMs.p99} ms; ${metrics.throughputMBps.p50} MB/s median`,
      ],
      ...metrics.fetches.failureMessages.slice(0, 3).map((message): [string, string] => ['fetch failed', message]),
      [
        'first segment',
        `p50 ${metrics.timeToFirstAudioMs.p50} ms, p99 ${metrics.timeToFirstAudioMs.p99} ms (the first verified segment: what a licensed player decrypts and plays first)`,
      ],
      [
        'bytes by source',
        `${Object.entries(metrics.bytesBySource)
          .map(([k, v]) => `${k} ${(v / 1e6).toFixed(1)} MB`)
          .join(', ')}; delivery nodes served ${(metrics.deliveryShare * 100).toFixed(1)}%`,
      ],
      [
        'corrupt blocks',
        `${this.#badBlocks} detected and refused; peers dropped: ${
          Object.entries(metrics.droppedPeers)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'none'
        }`,
      ],
      ...(withPurchases
        ? this.#purchases.summary(bought.metrics)
        : [['purchases', 'none in this scenario'] as [string, string]]),
    ]
    if (replays != null)
      metrics.summary.push([
        'replayed reports',
        `${replays.nodes} replayer(s) captured ${replays.captured} real report(s), sent ${replays.sent} replay(s) to the clearinghouse: ${
          Object.entries(replays.answers)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'none answered'
        }${Object.keys(replays.refused).length > 0 ? `; refused ${JSON.stringify(replays.refused)}` : ''}; ${replays.republished} republished on the topic re-wrapped (${replays.republishRefused} not sent by its gossipsub); paid: see the ledger check`,
      ])
    if (replays != null)
      metrics.summary.push([
        'forged reports',
        `${replays.forged.sent} sent (another device's report signed by a replayer): ${
          Object.entries(replays.forged.answers)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'none acknowledged'
        }; refused ${JSON.stringify(replays.forged.refused)}; paid: see the ledger check`,
      ])
    if (overpriced != null)
      metrics.summary.push([
        'over-priced offers',
        `${overpriced.published['foreign-certification']} with another offer's certification, ${overpriced.published.uncertified} uncertified, from ${overpriced.nodes} node(s); listed to a player ${overpriced.listedToPlayers} time(s) over ${overpriced.contentsChecked} content(s); honest refusals by code: see gossip`,
      ])
    if (hostile != null) metrics.summary.push(...hostile.summary)
    const checks: Check[] = [
      ...bought.checks,
      ...(hostile?.checks ?? []),
      {
        name: 'offers certified',
        ok: this.#offers.certified === this.#offers.expected,
        detail: `${this.#offers.certified} of ${this.#offers.expected} offers certified by the reference service`,
      },
    ]
    if (this.#scenario.expect.fetchesComplete && this.#planned > 0)
      checks.push({
        name: 'fetches complete',
        ok: failed === 0 && this.#fetches.length > 0,
        detail: `${completed} of ${this.#fetches.length} fetches completed and verified (${this.#badBlocks} corrupt block(s) refused)`,
      })
    if (replays != null)
      checks.push({
        name: 'replayed reports paid nothing',
        ok:
          replays.captured > 0 &&
          replays.sent > 0 &&
          (replays.answers.settled ?? 0) === 0 &&
          (replays.answers.held ?? 0) === 0,
        detail: `${replays.sent} replay(s) of ${replays.captured} captured report(s): ${JSON.stringify(replays.answers)} (any "settled" or "held" would be a replay taken as new); the ledger check proves no money moved for them`,
      })
    if (replays != null)
      checks.push({
        name: 'forged reports paid nothing',
        ok:
          replays.forged.sent > 0 &&
          (replays.forged.answers.settled ?? 0) === 0 &&
          (replays.forged.answers.held ?? 0) === 0,
        detail: `${replays.forged.sent} forged report(s): answers ${JSON.stringify(replays.forged.answers)}, refused ${JSON.stringify(replays.forged.refused)}; the ledger check proves no money moved for them`,
      })
    if (overpriced != null)
      checks.push({
        name: 'over-priced offers refused',
        ok:
          overpriced.listedToPlayers === 0 &&
          overpriced.published['foreign-certification'] + overpriced.published.uncertified > 0,
        detail: `${overpriced.published['foreign-certification'] + overpriced.published.uncertified} published, listed to players ${overpriced.listedToPlayers} time(s); accepted by honest nodes: see "no junk accepted"`,
      })
    return { metrics, checks }
  }

  /** The market's tables: `fetches.csv`, and with purchases `purchases.csv` and `plays.csv`. */
  tables(origin: number): Table[] {
    return [
      {
        name: 'fetches',
        row: 'one planned fetch of a track by a listener (multi-source, every block verified)',
        columns: [
          'listener',
          'listener_group',
          'track',
          'track_bytes',
          'started_s',
          'ended_s',
          'outcome',
          'duration_ms',
          'first_segment_ms',
          'fetched_bytes',
          'error',
        ],
        rows: () =>
          mapRows(this.#fetches, (f) => [
            f.listener.name,
            f.listener.spec.group,
            f.isrc,
            f.bytes,
            seconds(f.startedAt, origin),
            f.endedAt == null ? null : seconds(f.endedAt, origin),
            f.ok ? 'completed' : f.errorName != null ? 'failed' : 'unfinished',
            f.endedAt == null ? null : millis(f.endedAt - f.startedAt),
            millis(f.firstSegmentMs),
            f.fetchedBytes,
            f.errorName ?? null,
          ]),
      },
      ...this.#purchases.tables(origin),
    ]
  }

  /** The settlement invariants as they stand now (the run checks them again at its end). */
  async settlementChecks(): Promise<Check[]> {
    return (await this.#purchases.report({ heldByAttack: this.#hostile?.report().heldPlays ?? 0 })).checks
  }

  async close(): Promise<void> {
    await Promise.all([...this.#services.values()].map((s) => s.stop().catch(() => {})))
  }

  #honest(role: RoleName): SimNode[] {
    return this.#cluster.nodes.filter((n) => n.honest && n.online && n.spec.roles.includes(role))
  }
}

/** Certified honest offers an over-pricer may copy. */
const MAX_COPIED_OFFERS = 50

interface OfferRow {
  status: string
  offer: string
  contract: string
  certification: string | null
}

function sourceKind(n: SimNode): string {
  if (n.spec.kind === 'corrupt-seeder') return 'corrupt seeder'
  if (!n.honest) return n.spec.kind
  if (n.spec.roles.includes('delivery')) return 'delivery'
  if (n.spec.roles.includes('production')) return 'label'
  if (n.spec.roles.length === 0) return 'listener'
  return n.spec.roles.join('+')
}

/** A UPC-A (12 digits) with its check digit, from a number. */
function upc(n: number): string {
  const body = `00${String(n).padStart(9, '0')}`.slice(-11)
  let sum = 0
  for (let i = 0; i < body.length; i++) sum += Number(body[i]) * (i % 2 === 0 ? 3 : 1)
  return `${body}${(10 - (sum % 10)) % 10}`
}

/** Call one of a role's control routes in process, as the CLI would over HTTP. */
async function route(
  sim: SimNode,
  role: RoleName,
  method: ControlRoute['method'],
  path: string,
  body?: unknown,
): Promise<unknown> {
  const instance = sim.started.roles.get(role)
  const found = instance?.controlRoutes?.find((r) => r.method === method && r.path === path)
  if (found == null) throw new SimulationSetupError(`${sim.name} has no ${method} /v1/${role}${path}`)
  return await found.handler({ params: {}, query: {}, body: body ?? {}, signal: new AbortController().signal })
}

async function until(
  predicate: () => Promise<boolean>,
  what: string,
  explain: () => Promise<string> = async () => '',
): Promise<void> {
  const deadline = performance.now() + SETUP_STEP_TIMEOUT_MS
  while (!(await predicate())) {
    if (performance.now() > deadline)
      throw new SimulationSetupError(`market setup: timed out waiting until ${what} ${await explain()}`.trim())
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

function countBy(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1
  return counts
}

/** ": NoProvidersError 2, SegmentTimeoutError 1" — or nothing when no fetch failed. */
function failureList(failures: Record<string, number>): string {
  const entries = Object.entries(failures)
  return entries.length === 0 ? '' : `: ${entries.map(([name, n]) => `${name} ${n}`).join(', ')}`
}
