import { logger } from '@libp2p/logger'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import { DeliveryAcks } from '../../protocols/delivery/acks.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { bitswapSource } from '../../protocols/segments/bitswap-source.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import type { UsageEvent } from '../../protocols/usage/index.ts'
import type { ControlRoute, Role } from '../role.ts'
import type { Balance } from './account-requests.ts'
import { Buying, type BuyOptions } from './buying.ts'
import { accountBalance } from './clearinghouse.ts'
import { Copies } from './copies.ts'
import { PlayerCore } from './core.ts'
import { DeliveryReceipts } from './deliveries.ts'
import { DeviceRegistration } from './device.ts'
import { ContentDirectory } from './directory.ts'
import type { StoreTamperedError } from './errors.ts'
import type { Library } from './library.ts'
import { Licences } from './licences.ts'
import { Market } from './market.ts'
import { Playback } from './playback.ts'
import { Prefetcher } from './prefetch.ts'
import { Resynchroniser } from './resynchronise.ts'
import { playerRoutes } from './routes.ts'
import { type CreateShareOptions, type OpenShareOptions, Shares } from './shares.ts'
import type { PlayerComponents } from './store.ts'
import { StreamSessions } from './streams.ts'
import { TransferWatcher } from './transfers.ts'
import type {
  BuyResult,
  CountedUseResult,
  FlushResult,
  LicenceView,
  MarketView,
  OpenedShare,
  PlayerInit,
  PlayerStatus,
  PlayOptions,
  PlayResult,
  PurchaseQuote,
  ResyncResult,
  ShareView,
} from './types.ts'
import { UsageReporter } from './usage.ts'
import { Uses } from './uses.ts'

export type {
  BuyResult,
  CountedUseResult,
  FlushResult,
  LicenceView,
  ListedOffer,
  MarketView,
  OpenedPlayback,
  OpenedShare,
  PlayerEvents,
  PlayerInit,
  PlayerStatus,
  PlayOptions,
  PlayResult,
  PurchaseQuote,
  ResyncResult,
  ShareOffer,
  ShareView,
  StopReason,
} from './types.ts'

const log = logger('consort:player')

/**
 * The Consumer Player role: the assembly of the player's parts, and the one face the node, the CLI, simulations and
 * tests call. It builds the core (log, library, lock, account, time) and the collaborators that take it — device
 * registration, the market, buying, licences, counted uses, playback, copies, usage reporting, resync, web streams —
 * starts and stops them in order, and answers each public call by handing it to the part that owns it. It holds no
 * state of its own beyond its parts, so a change to buying, playback or reporting is a change to one file.
 */
export class PlayerRole extends EventTarget implements Role {
  readonly name = 'player' as const
  readonly controlRoutes: readonly ControlRoute[]
  /** What the catalog and this player know of recordings and releases. */
  readonly directory: ContentDirectory
  /** Web playback sessions (HTTP byte ranges), for the web player and `/v1/player/streams`. */
  readonly streams: StreamSessions
  readonly #core: PlayerCore
  readonly #device: DeviceRegistration
  readonly #segments: SegmentsService
  readonly #market: Market
  readonly #buying: Buying
  readonly #shares: Shares
  readonly #licences: Licences
  readonly #playback: Playback
  readonly #copies: Copies
  readonly #usage: UsageReporter
  readonly #acks: DeliveryAcks
  /** Paid delivery: the receipts of this device's fetches, on their way to a clearinghouse (decision 0511). */
  readonly deliveries: DeliveryReceipts
  readonly #resync: Resynchroniser
  readonly #transfers: TransferWatcher

  constructor(components: PlayerComponents, init: PlayerInit = {}) {
    super()
    const core = new PlayerCore(components, init, this)
    const device = new DeviceRegistration(core)
    const directory = new ContentDirectory({
      store: components.store,
      libp2p: components.libp2p,
      network: components.network,
      topics: components.topics,
      trust: components.trust,
      records: components.records,
      clock: components.clock,
    })
    const segments = new SegmentsService(
      {
        libp2p: components.libp2p,
        blockstore: components.helia.blockstore as never,
        bitswap: bitswapSource(components.helia.blockstore as never),
        network: components.network,
        clock: components.clock,
        metrics: components.metrics,
      },
      { serve: init.seed !== false, reprovide: init.seed !== false },
    )
    // Paid delivery (decision 0511): this player acknowledges what it seeds, and receipts what it fetches.
    const acks = new DeliveryAcks({
      libp2p: components.libp2p,
      network: components.network,
      signer: components.keys.signer,
      credentials: components.credentials,
      clock: components.clock,
      server: segments.server,
    })
    const deliveries = new DeliveryReceipts({
      libp2p: components.libp2p,
      network: components.network,
      clock: components.clock,
      device: components.keys.signer,
      account: () => core.account.signer.publicKey,
      registration: () => components.credentials.device(),
      outbox: components.store.repositories.deliveries,
    })
    const prefetch = new Prefetcher(directory, segments, deliveries)
    const usage = new UsageReporter(core, device, () => deliveries.flush())
    const uses = new Uses(core, usage)
    const licences = new Licences(core, device)
    const market = new Market(core, device, directory)
    const playback = new Playback(core, directory, segments, uses, prefetch, deliveries)
    this.#core = core
    this.#device = device
    this.directory = directory
    this.#segments = segments
    this.#acks = acks
    this.deliveries = deliveries
    this.#market = market
    this.#licences = licences
    this.#usage = usage
    this.#playback = playback
    this.#shares = new Shares(core, device, directory, market, playback)
    this.#buying = new Buying(core, device, market, licences, prefetch, this.#shares)
    this.#copies = new Copies(core, directory, segments, uses)
    this.#resync = new Resynchroniser(core, device, licences, usage)
    this.#transfers = new TransferWatcher(core, licences)
    this.streams = new StreamSessions({ playback, uses, segments })
    this.controlRoutes = playerRoutes({
      status: () => this.status(),
      balance: (options) => accountBalance(core, options),
      directory,
      market,
      buying: this.#buying,
      shares: this.#shares,
      licences,
      resync: this.#resync,
      playback,
      copies: this.#copies,
      usage,
      device,
      streams: this.streams,
    })
  }

  // ---------------------------------------------------------------------------------------------------------
  // Lifecycle (the role template runs these one at a time and never twice in a row: roles/role.ts)

  async start(): Promise<void> {
    const core = this.#core
    await core.open()
    await this.directory.start()
    await this.#segments.start()
    if (core.init.seed !== false) await this.#acks.start()
    await this.deliveries.open()
    core.running = true
    if (core.init.registerDevice !== false) {
      // Asked at every start, not only when the registration lapsed: the registrar may have attested the account's
      // territory (or another) since, in a new record.
      this.#device.refresh().catch((err) => log('device registration: %s', (err as Error).message))
    }
    this.#usage.start()
    this.#transfers.start()
    this.streams.start()
    const library = core.library
    log('player started: %d licences, %d events waiting', library.licences.size, library.events.size)
  }

  async stop(): Promise<void> {
    this.#core.running = false
    this.#usage.stopTimers()
    await this.streams.stop()
    this.#transfers.stop()
    this.directory.stop()
    await this.#acks.stop()
    await this.#segments.stop()
    await this.#core.settle()
    await this.#usage.settle()
  }

  // ---------------------------------------------------------------------------------------------------------
  // State

  /** What the log adds up to (licences, counters, events, reports); replaced by compaction and resync. */
  get library(): Library {
    return this.#core.library
  }

  /** The segment service this player fetches and seeds with. */
  get segments(): SegmentsService {
    return this.#segments
  }

  /** The account's territory, as its registration manager attests it (`Worldwide` when none is attested). */
  get territory(): string {
    return this.#device.territory
  }

  /** The account keys (`PlayerStoppedError` before start). */
  get account(): NodeKeys {
    return this.#core.account
  }

  /** The problem with the local store, or null when it verifies. */
  get tampered(): StoreTamperedError | null {
    return this.#core.tampered
  }

  status(): PlayerStatus {
    const core = this.#core
    const c = core.components
    const library = core.library
    const account = core.accountOrNull
    return {
      device: toHex(c.keys.signer.publicKey),
      account: account === null ? '' : toHex(account.signer.publicKey),
      deviceRegistered: this.#device.current() !== null,
      store: { ok: core.tampered === null, problem: core.tampered?.message ?? null, entries: core.entries },
      licences: library.licences.size,
      outbox: {
        readyEvents: library.readyEvents().length,
        openEvents: library.openEvents().length,
        pendingReports: library.reports.size,
        lastReportSeq: library.lastReport?.seq ?? null,
      },
      territory: this.#device.territory,
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Account and device (device.ts)

  /** This device's registration: the current one, or a new one from a registration manager (retried). */
  async ensureDevice(): Promise<SignedRecord<'consort/device'>> {
    return await this.#device.ensure()
  }

  /** Register this device again (the registrar answers its current record, or a new one if anything changed). */
  async refreshDevice(): Promise<SignedRecord<'consort/device'>> {
    return await this.#device.refresh()
  }

  /** Load the account key again (after `consort account import`) and register this device under it. */
  async reloadAccount(): Promise<{ account: string; device: string }> {
    return await this.#device.reloadAccount()
  }

  /** The account's balances at the clearinghouse it pays through (clearinghouse.ts). */
  async balance(options: { signal?: AbortSignal } = {}): Promise<{ clearinghouse: string; balances: Balance[] }> {
    return await accountBalance(this.#core, options)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Search, offers, buying (directory.ts, market.ts, buying.ts)

  async search(query: string, options: { limit?: number; signal?: AbortSignal } = {}) {
    return await this.directory.search(query, options)
  }

  /** Certified offers for a content id in a territory (the account's by default), cheapest first. */
  async offers(content: string, options: { territory?: string; signal?: AbortSignal } = {}): Promise<MarketView> {
    return await this.#market.offers(content, options)
  }

  /** What buying a listed offer would cost and give, and what this device already holds that gives as much. */
  quote(offerRef: string): PurchaseQuote {
    return this.#market.quote(offerRef)
  }

  /** Buy a listed offer (the order is logged before it is sent, so a retry never charges twice). */
  async buy(offerRef: string, options: BuyOptions = {}): Promise<BuyResult> {
    return await this.#buying.buy(offerRef, options)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Sharing (shares.ts, decision 0708)

  /** Share a track or release as this account: a signed `consort/share` and its link. */
  async share(content: string, options: CreateShareOptions = {}): Promise<ShareView> {
    return await this.#shares.create(content, options)
  }

  /** A share link read and checked (signature, referrer, expiry), as the player shows it. */
  readShare(link: string): ShareView {
    return this.#shares.view(this.#shares.read(link))
  }

  /** Open a share: checked, its preview started at once, the offers for this territory listed (referrer's first). */
  async openShare(link: string, options: OpenShareOptions = {}): Promise<OpenedShare> {
    return await this.#shares.open(link, options)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Licences (licences.ts, resynchronise.ts)

  licences(): LicenceView[] {
    return this.#licences.list()
  }

  /** The purchase ids of this device's licences (for an account export). */
  purchaseIds(): string[] {
    return this.#licences.purchaseIds()
  }

  /** Keep a licence this device received some other way than by buying here (checked like a purchase's answer). */
  async receiveLicence(licenceBytes: Uint8Array, receiptBytes: Uint8Array | null = null): Promise<LicenceView> {
    return await this.#licences.receive(licenceBytes, receiptBytes)
  }

  /** This device's licence of a purchase, from the registration manager (`reissue`). */
  async fetchLicence(purchaseId: string): Promise<LicenceView> {
    return await this.#licences.fetch(purchaseId)
  }

  /** Rebuild the local store from what it still proves, the clearinghouses and the registrar (README.md). */
  async resync(options: { flush?: boolean } = {}): Promise<ResyncResult> {
    return await this.#resync.resync(options)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Playback and copies (playback.ts, copies.ts)

  /** Play a track to a sink, a file or the audio device, within the licence's rules. */
  async play(content: string, options: PlayOptions = {}): Promise<PlayResult> {
    return await this.#playback.play(content, options)
  }

  /** A counted export, or a simulated burn (a counted disc image). */
  async copy(
    kind: 'export' | 'burn',
    content: string,
    options: { out?: string; signal?: AbortSignal } = {},
  ): Promise<CountedUseResult> {
    return await this.#copies.copy(kind, content, options)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Usage reports (usage.ts)

  /** Usage events: waiting (open, ready, reported) and the most recent acknowledged ones. */
  usage(): { pending: Array<UsageEvent & { status: string; report: number | null }>; acknowledged: UsageEvent[] } {
    return this.#usage.list()
  }

  /** Deliver the outbox now (one flush at a time). */
  async flushUsage(options: { signal?: AbortSignal } = {}): Promise<FlushResult> {
    return await this.#usage.flush(options)
  }
}
