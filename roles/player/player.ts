import { randomUUID } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import { toString as bytesToHex } from 'uint8arrays/to-string'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import type { UsageStateResponse } from '../../protocols/clearing/index.ts'
import { formatMinorUnits } from '../../protocols/identifiers/currencies.ts'
import { territoryCovers } from '../../protocols/identifiers/territories.ts'
import { LICENCE_CODES } from '../../protocols/licence/index.ts'
import { peerIdOfKey, referencePeers, registrarPeers } from '../../protocols/peers.ts'
import { PURCHASE_CODES } from '../../protocols/purchase/index.ts'
import { type PurchaseOrderFields, signPurchaseOrder } from '../../protocols/purchase/order.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import type { Money } from '../../protocols/records/fields.ts'
import { id } from '../../protocols/records/fields.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import { comparePrices, queryCertifiedOffers, verifyCertification } from '../../protocols/reference/offers.ts'
import { registerDevice, requestReissue } from '../../protocols/register/client.ts'
import { RpcRemoteError } from '../../protocols/rpc/errors.ts'
import { bitswapSource } from '../../protocols/segments/bitswap-source.ts'
import type { FetchSummary } from '../../protocols/segments/fetcher.ts'
import { SegmentsService } from '../../protocols/segments/service.ts'
import type { UsageEvent } from '../../protocols/usage/index.ts'
import {
  atLeastAsWide,
  describeRules,
  evaluate,
  initialLicenceState,
  initialUsageState,
  maxUsageState,
  type Remaining,
  remaining,
  resolveRules,
} from '../../protocols/usage-rules/index.ts'
import type { ControlRoute, Role, RoleComponents } from '../role.ts'
import { loadOrCreateAccountKeys } from './account.ts'
import { type Balance, fetchBalance, fetchConsumption, fetchUsageState } from './account-requests.ts'
import {
  COMPACT_AFTER_ENTRIES,
  DEFAULT_FLUSH_INTERVAL_MS,
  DEVICE_REGISTRATION_ATTEMPTS,
  DEVICE_REGISTRATION_RETRY_MS,
  DEVICE_REGISTRATION_WAIT_MS,
  FLUSH_AFTER_USE_MS,
  FRESH_LICENCE_MS,
  MAX_CACHED_OFFERS,
  MAX_PENDING_REPORTS,
  MAX_PREFETCH_SOURCES,
  MAX_REPORTS_PER_FLUSH,
  PREFETCH_SEGMENTS,
  PREFETCH_TRACKS,
  STORE_VERSION,
  SYNC_DEADLINE_MS,
} from './constants.ts'
import { ContentDirectory, normaliseContent } from './directory.ts'
import {
  AlreadyOwnedError,
  BadPlayerRequestError,
  ClearinghouseUnavailableError,
  DeviceNotRegisteredError,
  InvalidLicenceError,
  LicenceRevokedError,
  NoLicenceError,
  OfferNotFoundError,
  PlayerStoppedError,
  PurchaseRefusedError,
  StoreTamperedError,
  StoreVersionError,
  UsageDeniedError,
} from './errors.ts'
import {
  ENTRY_KINDS,
  type HeldLicence,
  Library,
  LibraryInconsistencyError,
  type LoggedAction,
  licenceRules,
} from './library.ts'
import { type NewEntry, TamperEvidentLog } from './log.ts'
import { byteAtMs, decryptTrackSegment, fullTrack, msAtByte, previewTrack, type Track } from './media.ts'
import { priceInWords } from './price-words.ts'
import { checkLicenceKeys, openContentKey, sendBuy, verifyPurchase } from './purchase.ts'
import { buildReport, eventsBudget, hexKey, reachable, sendReport, takeForReport } from './reports.ts'
import { mergeAcknowledged, salvageEvidence } from './resync.ts'
import { playerRoutes } from './routes.ts'
import { AudioDeviceSink, type AudioSink, FileSink } from './sinks.ts'
import { StreamSessions } from './streams.ts'

import type {
  BuyResult,
  CountedUseResult,
  FlushResult,
  LicenceView,
  ListedOffer,
  MarketView,
  OpenedPlayback,
  PlayerInit,
  PlayerStatus,
  PlayOptions,
  PlayResult,
  PurchaseQuote,
  ResyncResult,
  StopReason,
} from './types.ts'

export type {
  BuyResult,
  CountedUseResult,
  FlushResult,
  LicenceView,
  ListedOffer,
  MarketView,
  OpenedPlayback,
  PlayerEvents,
  PlayerInit,
  PlayerStatus,
  PlayOptions,
  PlayResult,
  PurchaseQuote,
  ResyncResult,
  StopReason,
} from './types.ts'

const log = logger('consort:player')

const VERSION_KEY = 'meta!version'
const hex = (key: Uint8Array) => bytesToHex(key, 'base16')
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0

interface CachedOffer {
  offer: SignedRecord<'consort/offer'>
  certification: SignedRecord<'consort/certification'>
  territory: string
  listed: ListedOffer
}

/**
 * The Consumer Player: searches the catalog, lists certified offers, buys with the account key, keeps licences
 * and their counters in a tamper-evident log, fetches and decrypts segments in order as they arrive, checks every
 * use with the shared rules function before it happens, and delivers signed, sealed usage reports until a
 * clearinghouse acknowledges them.
 */
export class PlayerRole extends EventTarget implements Role {
  readonly name = 'player' as const
  readonly controlRoutes: readonly ControlRoute[]
  readonly #c: RoleComponents
  readonly #init: PlayerInit
  readonly #log: TamperEvidentLog
  #library: Library
  readonly #directory: ContentDirectory
  /** Where the latest prefetch of each track got its blocks (by ISRC; the newest `MAX_PREFETCH_SOURCES`). */
  readonly #prefetchedFrom = new Map<string, FetchSummary>()
  readonly #segments: SegmentsService
  readonly #offers = new Map<string, CachedOffer>()
  readonly #streams: StreamSessions
  #account: NodeKeys | null = null
  #tampered: StoreTamperedError | null = null
  /** The latest time this player has seen (its clock never goes back for it). */
  #seen = 0
  #serial: Promise<unknown> = Promise.resolve()
  #device: Promise<SignedRecord<'consort/device'>> | null = null
  #flushing: Promise<FlushResult> | null = null
  #flushTimer: ReturnType<typeof setInterval> | undefined
  #flushSoonTimer: ReturnType<typeof setTimeout> | undefined
  #started = false

  constructor(components: RoleComponents, init: PlayerInit = {}) {
    super()
    this.#c = components
    this.#init = init
    this.#log = new TamperEvidentLog({ db: components.db, signer: components.keys.signer })
    this.#library = this.#newLibrary()
    this.#directory = new ContentDirectory({
      db: components.db,
      libp2p: components.libp2p,
      network: components.network,
      topics: components.topics,
      trust: components.trust,
      records: components.records,
      clock: components.clock,
    })
    this.#segments = new SegmentsService(
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
    this.#streams = new StreamSessions(this)
    this.controlRoutes = playerRoutes(this)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.#started) return
    const version = await this.#c.db.get(VERSION_KEY)
    if (version == null) await this.#c.db.put(VERSION_KEY, new TextEncoder().encode(String(STORE_VERSION)))
    else if (new TextDecoder().decode(version) !== String(STORE_VERSION)) {
      throw new StoreVersionError(
        `the player store has layout ${new TextDecoder().decode(version)}, this build reads ${STORE_VERSION}`,
      )
    }
    this.#account = await this.#loadAccount()
    await this.#openStore()
    await this.#directory.start()
    await this.#segments.start()
    this.#started = true
    if (this.#init.registerDevice !== false) {
      // Asked at every start, not only when the registration lapsed: the registrar may have attested the account's
      // territory (or another) since, in a new record.
      this.refreshDevice().catch((err) => log('device registration: %s', (err as Error).message))
    }
    const interval = this.#init.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS
    if (interval > 0) {
      this.#flushTimer = setInterval(() => {
        this.flushUsage().catch((err) => log('periodic flush: %s', (err as Error).message))
      }, interval)
      this.#flushTimer.unref?.()
    }
    this.#streams.start()
    log('player started: %d licences, %d events waiting', this.#library.licences.size, this.#library.events.size)
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#flushTimer)
    clearTimeout(this.#flushSoonTimer)
    this.#flushSoonTimer = undefined
    await this.#streams.stop()
    this.#directory.stop()
    await this.#segments.stop()
    await this.#serial.catch(() => {})
    await this.#flushing?.catch(() => {})
  }

  // ---------------------------------------------------------------------------------------------------------
  // Accessors used by the routes and the stream sessions

  get components(): RoleComponents {
    return this.#c
  }

  get library(): Library {
    return this.#library
  }

  get directory(): ContentDirectory {
    return this.#directory
  }

  get segments(): SegmentsService {
    return this.#segments
  }

  /**
   * The listener's territory: the account's, as its registration manager attests it in this device's registration
   * (`consort registration territory`), never the listener's word; `Worldwide` (what is sold everywhere) when none
   * was attested. Offers are listed, and always bought, for it.
   */
  get territory(): string {
    return this.#currentDevice()?.body.territory ?? 'Worldwide'
  }

  /** The account's public key (hex). */
  get account(): NodeKeys {
    if (this.#account === null) throw new PlayerStoppedError('the player is not started')
    return this.#account
  }

  /** The problem with the local store, or null when it verifies. */
  get tampered(): StoreTamperedError | null {
    return this.#tampered
  }

  status(): PlayerStatus {
    return {
      device: hex(this.#c.keys.signer.publicKey),
      account: this.#account === null ? '' : hex(this.#account.signer.publicKey),
      deviceRegistered: this.#currentDevice() !== null,
      store: { ok: this.#tampered === null, problem: this.#tampered?.message ?? null, entries: this.#log.size },
      licences: this.#library.licences.size,
      outbox: {
        readyEvents: this.#library.readyEvents().length,
        openEvents: this.#library.openEvents().length,
        pendingReports: this.#library.reports.size,
        lastReportSeq: this.#library.lastReport?.seq ?? null,
      },
      territory: this.territory,
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Account and device

  /** This device's registration: the current one, or a new one from a registration manager (retried). */
  async ensureDevice(): Promise<SignedRecord<'consort/device'>> {
    const current = this.#currentDevice()
    if (current !== null) {
      await this.#noteDevice(current)
      return current
    }
    this.#device ??= this.#registerDevice().finally(() => {
      this.#device = null
    })
    return await this.#device
  }

  /** Register this device again (the registrar answers its current record, or a new one if anything changed). */
  async refreshDevice(): Promise<SignedRecord<'consort/device'>> {
    this.#device ??= this.#registerDevice().finally(() => {
      this.#device = null
    })
    return await this.#device
  }

  /**
   * Load the account key again (after `consort account import`): a device registered to another account is
   * registered anew under this one.
   */
  async reloadAccount(): Promise<{ account: string; device: string }> {
    this.#account = await this.#loadAccount()
    const device = await this.ensureDevice()
    return { account: hex(this.#account.signer.publicKey), device: device.id.toString() }
  }

  /** The purchase ids of this device's licences (for an account export). */
  purchaseIds(): string[] {
    return [...this.#library.licences.keys()]
  }

  #currentDevice(): SignedRecord<'consort/device'> | null {
    const device = this.#c.credentials.device()
    if (device === undefined || this.#account === null) return null
    const b = device.body
    const now = this.#now()
    if (!same(b.device, this.#c.keys.signer.publicKey) || !same(b.account, this.#account.signer.publicKey)) return null
    if (!same(b.sealingKey, this.#c.keys.sealing.publicKey) || now >= b.notAfter) return null
    if (this.#c.trust.isRevoked(device.id)) return null
    return device
  }

  async #registerDevice(): Promise<SignedRecord<'consort/device'>> {
    let last: unknown
    for (let attempt = 1; attempt <= DEVICE_REGISTRATION_ATTEMPTS && this.#started; attempt++) {
      // A registrar is dialled by its peer id: without any connection yet there is nobody to route through, and a
      // dial that waits on peer routing would hold up the node's own dials to the same peer.
      await this.#connected()
      try {
        await Promise.any(registrarPeers(this.#c.network).map((peer) => reachable(this.#c.libp2p, peer)))
        const device = await registerDevice(this.#c.libp2p, this.#c.network, {
          account: this.account.signer,
          device: this.#c.keys.signer,
          sealingKey: this.#c.keys.sealing.publicKey,
          name: this.#init.deviceName ?? 'player',
          now: this.#now(),
        })
        await this.#c.credentials.setDevice(device)
        await this.#noteDevice(device)
        this.dispatchEvent(new CustomEvent('device:registered', { detail: { device: device.id.toString() } }))
        log('device registered: %s', device.id)
        return device
      } catch (err) {
        if (err instanceof RpcRemoteError) {
          throw new DeviceNotRegisteredError(`the registration manager refused this device: ${err.message}`)
        }
        last = err instanceof AggregateError ? (err.errors[0] ?? err) : err
        log('device registration attempt %d failed: %s', attempt, (err as Error).message)
        await new Promise((resolve) => setTimeout(resolve, DEVICE_REGISTRATION_RETRY_MS))
      }
    }
    throw new DeviceNotRegisteredError(
      `no registration manager registered this device: ${(last as Error | undefined)?.message ?? 'the player stopped'}`,
    )
  }

  /** Resolves once the node has a connection (at once if it has one), or after `DEVICE_REGISTRATION_WAIT_MS`. */
  async #connected(): Promise<void> {
    const libp2p = this.#c.libp2p
    if (libp2p.getConnections().length > 0) return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        libp2p.removeEventListener('peer:connect', done)
        resolve()
      }
      const timer = setTimeout(done, DEVICE_REGISTRATION_WAIT_MS)
      libp2p.addEventListener('peer:connect', done)
    })
  }

  async #noteDevice(device: SignedRecord<'consort/device'>): Promise<void> {
    if (this.#tampered !== null || this.#library.deviceRecord?.id.equals(device.id) === true) return
    await this.#commit([{ kind: ENTRY_KINDS.device, data: { record: device.bytes } }])
  }

  async #loadAccount(): Promise<NodeKeys> {
    if (this.#init.account !== undefined) return this.#init.account
    if (this.#c.dataDir !== null) return await loadOrCreateAccountKeys(this.#c.dataDir, { random: this.#c.random })
    return this.#account ?? (await createNodeKeys(this.#c.random))
  }

  // ---------------------------------------------------------------------------------------------------------
  // The tamper-evident store

  #newLibrary(): Library {
    return new Library({
      decode: <T extends RecordType>(type: T, bytes: Uint8Array) => decodeRecordAs(type, bytes, this.#decodeOptions()),
      ruleDefaults: this.#c.network.body.policy.ruleDefaults,
    })
  }

  #decodeOptions(): DecodeOptions {
    // Records in the log were verified when they arrived; `now` only bounds how far in the future they may be dated.
    return { network: this.#c.network.name, now: this.#now(), caps: this.#c.network.caps }
  }

  async #openStore(): Promise<void> {
    this.#library = this.#newLibrary()
    try {
      const entries = await this.#log.open()
      for (const entry of entries) this.#library.apply(entry)
      if (entries.length === 0) {
        if (this.#c.credentials.device() !== undefined) {
          throw new StoreTamperedError(0, 'the store is empty but this device was registered: its entries were deleted')
        }
        await this.#commit([
          {
            kind: ENTRY_KINDS.genesis,
            data: {
              device: this.#c.keys.signer.publicKey,
              account: this.account.signer.publicKey,
              reason: 'new',
              note: '',
            },
          },
        ])
      } else if (this.#library.device === null || !same(this.#library.device, this.#c.keys.signer.publicKey)) {
        throw new StoreTamperedError(0, 'the store belongs to another device')
      }
      // Plays that were under way when the node last stopped are over: close them so they get reported.
      const open = this.#library.openEvents()
      if (open.length > 0) {
        await this.#commit(open.map((t) => ({ kind: ENTRY_KINDS.end, data: { eventId: t.event.eventId } })))
      }
      this.#tampered = null
    } catch (err) {
      if (err instanceof StoreTamperedError) this.#markTampered(err)
      else if (err instanceof LibraryInconsistencyError) this.#markTampered(new StoreTamperedError(null, err.message))
      else throw err
    }
  }

  #markTampered(err: StoreTamperedError): void {
    this.#tampered = err
    log.error('licence store refused: %s', err.message)
    this.dispatchEvent(new CustomEvent('store:tampered', { detail: { message: err.message } }))
  }

  /** Before each use: the store must still be exactly what was verified and written. */
  async #checkStore(): Promise<void> {
    if (!this.#started) throw new PlayerStoppedError('the player is not started')
    if (this.#tampered !== null) throw this.#tampered
    try {
      await this.#log.verifyUnchanged()
    } catch (err) {
      if (err instanceof StoreTamperedError) this.#markTampered(err)
      throw err
    }
  }

  /**
   * Now, as far as this player will believe: the clock, but never earlier than the latest time its store has evidence
   * of (its entries' times, its licences' signed times). A clock set back does not reopen a rental window or an
   * offline window, nor make an expired licence valid again (issue 11).
   */
  #now(): number {
    const now = Math.max(this.#c.clock.now(), this.#library.timeFloor, this.#seen)
    this.#seen = now
    return now
  }

  /**
   * A use refused because a window closed (rental, expiry, offline): that moment is evidence the store keeps, so that
   * setting the clock back — now or after a restart — does not reopen the window (issue 11).
   */
  async #keepTime(reason: string): Promise<void> {
    if (reason !== 'rental-expired' && reason !== 'expired' && reason !== 'offline-too-long') return
    if (this.#library.timeFloor >= this.#seen) return
    await this.#exclusive(() => this.#commit([{ kind: ENTRY_KINDS.clock, data: {} }])).catch((err) =>
      log('cannot keep the time a window closed: %e', err),
    )
  }

  /** Run `fn` alone: every change of the log and of the library goes through here. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn)
    this.#serial = run.catch(() => {})
    return run
  }

  /** Append entries and fold them in (the caller holds the lock, or the change needs no decision). */
  async #commit(entries: NewEntry[]): Promise<void> {
    if (this.#tampered !== null) throw this.#tampered
    const written = await this.#log.append(entries, this.#now())
    for (const entry of written) this.#library.apply(entry)
    if (this.#log.size > (this.#init.compactAfter ?? COMPACT_AFTER_ENTRIES)) {
      const snapshot = await this.#log.compact(this.#library.snapshot(), this.#now())
      const library = this.#newLibrary()
      library.apply(snapshot)
      library.history.push(...this.#library.history)
      this.#library = library
      log('log compacted at entry %d', snapshot.seq)
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Search, offers, purchase

  async search(query: string, options: { limit?: number; signal?: AbortSignal } = {}) {
    return await this.#directory.search(query, options)
  }

  /**
   * Certified offers for a content id in a territory, cheapest first, checked here. For a track, offers of the
   * releases that list it are included.
   */
  async offers(content: string, options: { territory?: string; signal?: AbortSignal } = {}): Promise<MarketView> {
    const id = normaliseContent(content)
    if (!/^(isrc|icpn|grid):/.test(id)) {
      throw new BadPlayerRequestError(`content: offers are listed for content ids, not ${id}`)
    }
    const territory = options.territory ?? this.territory
    const contents = [id, ...(id.startsWith('isrc:') ? this.#directory.releasesOf(id.slice(5)) : [])]
    // Reference services are called by peer id: find the ones not yet connected first (bounded), so that a query
    // never waits out its deadline on a dial with nothing to route through.
    await Promise.allSettled(
      referencePeers(this.#c.network).map((peer) => reachable(this.#c.libp2p, peer, options.signal)),
    )
    const listed = new Map<string, ListedOffer>()
    const dropped: MarketView['dropped'] = []
    const unreachable: MarketView['unreachable'] = []
    const defaults = this.#c.network.body.policy.ruleDefaults
    for (const contentId of contents) {
      const answer = await queryCertifiedOffers(
        { libp2p: this.#c.libp2p, network: this.#c.network, trust: this.#c.trust, clock: this.#c.clock },
        { content: contentId, territory },
        options.signal !== undefined ? { signal: options.signal } : {},
      )
      dropped.push(...answer.dropped)
      unreachable.push(...answer.unreachable)
      for (const verified of answer.offers) {
        const o = verified.offer.body
        const view: ListedOffer = {
          offer: verified.offer.id.toString(),
          offerId: o.offerId,
          content: o.content,
          retailerName: verified.retailerName,
          retailerKey: hex(verified.offer.signer),
          price: o.price,
          priceText: `${formatMinorUnits(o.price.amount, o.price.currency)} ${o.price.currency}`,
          useType: o.useType,
          rules: describeRules(o.rules, defaults),
          territories: o.territories,
          territory,
          certifier: verified.certifier,
          certifiedUntil: verified.certification.body.validUntil,
          validUntil: o.validUntil,
        }
        listed.set(view.offer, view)
        this.#offers.delete(view.offer)
        this.#offers.set(view.offer, {
          offer: verified.offer,
          certification: verified.certification,
          territory,
          listed: view,
        })
        while (this.#offers.size > MAX_CACHED_OFFERS) this.#offers.delete(this.#offers.keys().next().value!)
      }
    }
    const offers = [...listed.values()].sort(
      (a, b) => comparePrices(a.price, b.price) || a.offer.localeCompare(b.offer),
    )
    return { content: id, territory, offers, dropped, unreachable }
  }

  /**
   * What buying an offer listed by `offers` would cost and give, and whether this device already holds as much: what
   * a checkout shows before the buyer confirms (CLI `buy`, the web checkout).
   */
  quote(offerRef: string): PurchaseQuote {
    const cached = this.#findOffer(offerRef)
    const price = cached.offer.body.price
    const titles = cached.offer.body.content.map(
      (c) =>
        (c.startsWith('isrc:')
          ? this.#directory.manifestFor(c.slice(5))?.body.title
          : this.#directory.release(c)?.body.title) ?? c,
    )
    return {
      offer: cached.listed,
      title: titles.join(', '),
      priceText: `${formatMinorUnits(price.amount, price.currency)} ${price.currency}`,
      priceWords: priceInWords(price.amount, price.currency),
      territory: this.territory,
      owned: this.#ownedBy(cached).map((h) => ({
        purchaseId: h.purchaseId,
        licenceId: h.record.body.licenceId,
        useType: h.record.body.useType,
        rules: describeRules(h.record.body.rules, this.#c.network.body.policy.ruleDefaults),
      })),
    }
  }

  /**
   * The licences of this device that together already give at least what an offer would, for every track it covers
   * (`atLeastAsWide`, the shared rules); empty when any track is not covered so.
   */
  #ownedBy(cached: CachedOffer): HeldLicence[] {
    const o = cached.offer.body
    const offered = { useType: o.useType, rules: resolveRules(o.rules, this.#c.network.body.policy.ruleDefaults) }
    const isrcs = o.content.flatMap((c) =>
      c.startsWith('isrc:') ? [c.slice(5)] : (this.#directory.release(c)?.body.tracks.map((t) => t.isrc) ?? [c]),
    )
    const now = this.#now()
    const covering = new Map<string, HeldLicence>()
    for (const isrc of isrcs) {
      const wide = this.#library
        .licencesFor(isrc)
        .find(
          (h) =>
            !this.#isRevoked(h) &&
            atLeastAsWide({ useType: h.record.body.useType, rules: h.rules, state: h.state }, offered, now),
        )
      if (wide === undefined) return []
      covering.set(wide.purchaseId, wide)
    }
    return [...covering.values()]
  }

  #findOffer(ref: string): CachedOffer {
    const byId = this.#offers.get(ref)
    if (byId !== undefined) return byId
    const byOfferId = [...this.#offers.values()].filter((o) => o.offer.body.offerId === ref)
    if (byOfferId.length === 1) return byOfferId[0]!
    if (byOfferId.length > 1) {
      throw new BadPlayerRequestError(`offer: ${ref} names offers of several retailers; give the offer's record id`)
    }
    throw new OfferNotFoundError(`offer ${ref} is not known here: list offers first (consort offers CONTENT)`)
  }

  /**
   * Buy an offer listed by `offers`. The purchase order is signed with the account key and logged before it is
   * sent, so that a retry (after a timeout, or a crash) sends the same order with the same purchase id. The
   * answer is checked (receipt, licence, every content key opens with this device's key) before the licence is
   * stored.
   */
  async buy(
    offerRef: string,
    options: {
      signal?: AbortSignal
      onAttempt?: (attempt: number) => void
      deadlineMs?: number
      attempts?: number
      /**
       * The caller's idempotency key for this purchase (a web page's checkout token, say): buying again with the
       * same id resumes or answers that purchase. Without one, a pending purchase of the same offer is resumed,
       * else a new id is drawn.
       */
      purchaseId?: string
      /** Buy even though this device already holds licences that give as much (a gift, a second copy). */
      again?: boolean
    } = {},
  ): Promise<BuyResult> {
    const started = performance.now()
    if (options.purchaseId !== undefined && !id.safeParse(options.purchaseId).success) {
      throw new BadPlayerRequestError(`purchaseId: ${JSON.stringify(options.purchaseId)} is not an id`)
    }
    await this.#checkStore()
    const device = await this.ensureDevice()
    const done = options.purchaseId === undefined ? undefined : this.#library.licences.get(options.purchaseId)
    if (done?.receipt != null) return this.#bought(done, done.receipt, 0, started)
    const cached = this.#findOffer(offerRef)
    if (options.again !== true) {
      const owned = this.#ownedBy(cached)
      if (owned.length > 0) {
        throw new AlreadyOwnedError(
          `you already hold ${owned.map((h) => `licence ${h.record.body.licenceId} (${h.record.body.useType}, purchase ${h.purchaseId})`).join(' and ')}, which gives at least what offer ${cached.offer.body.offerId} would: buying it again would charge again; buy again on purpose with --again`,
          owned.map((h) => h.purchaseId),
        )
      }
    }
    const now = this.#now()
    const verdict = verifyCertification(cached.offer, cached.certification, this.#c.trust, now)
    if (!verdict.ok)
      throw new PurchaseRefusedError(verdict.code, `offer ${offerRef} can no longer be bought: ${verdict.reason}`)
    const purchase = await this.#exclusive(async () => {
      if (options.purchaseId !== undefined) {
        const known = this.#library.purchases.get(options.purchaseId)
        if (known !== undefined) {
          if (!known.offer.equals(cached.offer.id)) {
            throw new BadPlayerRequestError(`purchaseId: ${options.purchaseId} was used for another offer`)
          }
          if (known.status === 'failed') {
            throw new PurchaseRefusedError(known.failure?.code ?? 'ERR_PURCHASE_FAILED', known.failure?.message ?? '')
          }
          if (known.status === 'pending') return known
        }
      } else {
        const pending = [...this.#library.purchases.values()].find(
          (p) =>
            p.status === 'pending' && p.offer.equals(cached.offer.id) && same(p.order.order.device, device.body.device),
        )
        if (pending !== undefined) return pending
      }
      // Bought for the account's territory as its registrar attests it: an offer listed for another is not sold here.
      const territory = device.body.territory ?? 'Worldwide'
      if (!territoryCovers(cached.offer.body.territories, cached.offer.body.excludedTerritories, territory)) {
        throw new PurchaseRefusedError(
          PURCHASE_CODES.territory,
          `offer ${cached.offer.body.offerId} is not sold in ${territory}, your account's territory as your registration manager attests it` +
            (cached.territory !== territory ? ` (it was listed for ${cached.territory})` : ''),
        )
      }
      const fields: PurchaseOrderFields = {
        network: this.#c.network.name,
        purchaseId: options.purchaseId ?? `p-${Buffer.from(this.#c.random.bytes(16)).toString('hex')}`,
        offer: cached.offer.id,
        certification: cached.certification.id,
        retailer: cached.offer.signer,
        clearinghouse: this.#clearinghouseKey(),
        account: this.account.signer.publicKey,
        device: device.body.device,
        price: cached.offer.body.price,
        territory: territory as PurchaseOrderFields['territory'],
        created: this.#now(),
      }
      const order = signPurchaseOrder(fields, this.account.signer)
      await this.#commit([
        {
          kind: ENTRY_KINDS.purchase,
          data: {
            purchaseId: fields.purchaseId,
            offer: cached.offer.id,
            certification: cached.certification.id,
            content: cached.offer.body.content,
            order: dagCbor.encode(order),
          },
        },
      ])
      return this.#library.purchases.get(fields.purchaseId)!
    })
    const purchaseId = purchase.purchaseId
    await reachable(this.#c.libp2p, peerIdOfKey(cached.offer.signer), options.signal).catch((err) =>
      log('retailer of %s: %s', offerRef, (err as Error).message),
    )
    const prefetch = this.#prefetch(cached.offer.body.content)
    let attempts = 0
    let answer: { receipt: Uint8Array; licence: Uint8Array }
    const sent = performance.now()
    try {
      answer = await sendBuy({
        libp2p: this.#c.libp2p,
        network: this.#c.network,
        order: purchase.order,
        device,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}),
        ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
        onAttempt: (n) => {
          attempts = n
          options.onAttempt?.(n)
        },
      })
    } catch (err) {
      prefetch.abort()
      if (err instanceof PurchaseRefusedError) await this.#failPurchase(purchaseId, err.remoteCode, err.message)
      throw err
    }
    const answered = performance.now()
    let verified: ReturnType<typeof verifyPurchase>
    try {
      verified = verifyPurchase({
        order: purchase.order,
        offer: cached.offer,
        receiptBytes: answer.receipt,
        licenceBytes: answer.licence,
        decodeOptions: this.#decodeOptions(),
        isRegistrar: (key) => this.#c.trust.isRegistrar(key),
        sealing: this.#c.keys.sealing,
      })
    } catch (err) {
      await this.#failPurchase(
        purchaseId,
        (err as { code?: string }).code ?? 'ERR_LICENCE_INVALID',
        (err as Error).message,
      )
      throw err
    }
    const kept = await this.#keep(verified.licence, verified.receipt, device)
    // Kept so that this node can serve them by CID; nothing waits for it.
    Promise.all([this.#c.records.put(verified.receipt), this.#c.records.put(kept)]).catch((err) =>
      log.error('cannot store the purchase records: %e', err),
    )
    log(
      'bought %s: %d ms here before sending, %d ms at the retailer (%d attempt(s)), %d ms here after',
      purchaseId,
      Math.round(sent - started),
      Math.round(answered - sent),
      attempts,
      Math.round(performance.now() - answered),
    )
    this.dispatchEvent(new CustomEvent('licence:added', { detail: { purchaseId, licence: kept.id.toString() } }))
    return this.#bought(this.#library.licences.get(purchaseId)!, verified.receipt.bytes, attempts, started)
  }

  /**
   * Keep a licence handed to this player (checked: a registrar's, for this device and account, every key opens). A
   * fresh one is kept as it is; one this store has no counters for that is older than `FRESH_LICENCE_MS` may have
   * been used already (a purchase answered again after the store was wiped), so it is fetched again from the
   * registrar, which writes in the uses its purchase consumed. Returns the licence kept.
   */
  async #keep(
    licence: SignedRecord<'consort/licence'>,
    receipt: SignedRecord<'consort/receipt'> | null,
    device: SignedRecord<'consort/device'>,
  ): Promise<SignedRecord<'consort/licence'>> {
    const purchaseId = licence.body.purchaseId
    let kept = licence
    if (!this.#library.licences.has(purchaseId) && this.#now() - licence.body.created > FRESH_LICENCE_MS) {
      log(
        'licence of %s was signed %d ms ago: fetched again with its uses',
        purchaseId,
        this.#now() - licence.body.created,
      )
      kept = await this.#reissue(purchaseId, device)
      checkLicenceKeys(kept, this.#c.keys.sealing)
    }
    await this.#exclusive(() =>
      this.#commit([{ kind: ENTRY_KINDS.licence, data: { licence: kept.bytes, receipt: receipt?.bytes ?? null } }]),
    )
    return kept
  }

  /**
   * A licence this device received some other way than by buying here (from its retailer directly, by a script):
   * checked like a purchase's answer, then kept (fetched again with its uses if it is not fresh).
   */
  async receiveLicence(licenceBytes: Uint8Array, receiptBytes: Uint8Array | null = null): Promise<LicenceView> {
    await this.#checkStore()
    const device = await this.ensureDevice()
    let licence: SignedRecord<'consort/licence'>
    let receipt: SignedRecord<'consort/receipt'> | null = null
    try {
      licence = decodeRecordAs('consort/licence', licenceBytes, this.#decodeOptions())
      if (receiptBytes !== null) receipt = decodeRecordAs('consort/receipt', receiptBytes, this.#decodeOptions())
    } catch (err) {
      throw new InvalidLicenceError(`the licence does not decode: ${(err as Error).message}`)
    }
    const l = licence.body
    if (!this.#c.trust.isRegistrar(licence.signer)) throw new InvalidLicenceError('the licence is not a registrar’s')
    if (!same(l.device, this.#c.keys.signer.publicKey))
      throw new InvalidLicenceError('the licence is for another device')
    if (!same(l.account, this.account.signer.publicKey))
      throw new InvalidLicenceError('the licence is for another account')
    if (receipt !== null && (receipt.body.purchaseId !== l.purchaseId || !l.receipt.equals(receipt.id))) {
      throw new InvalidLicenceError('the receipt is not the licence’s')
    }
    checkLicenceKeys(licence, this.#c.keys.sealing)
    const kept = await this.#keep(licence, receipt, device)
    await this.#c.records.put(kept).catch(() => {})
    this.dispatchEvent(
      new CustomEvent('licence:added', { detail: { purchaseId: l.purchaseId, licence: kept.id.toString() } }),
    )
    return this.#view(this.#library.licences.get(l.purchaseId)!)
  }

  #bought(held: HeldLicence, receiptBytes: Uint8Array, attempts: number, started: number): BuyResult {
    const receipt = decodeRecordAs('consort/receipt', receiptBytes, this.#decodeOptions())
    return {
      purchaseId: held.purchaseId,
      receipt: receipt.id.toString(),
      licence: held.record.id.toString(),
      licenceId: held.record.body.licenceId,
      offer: held.record.body.offer.toString(),
      price: receipt.body.price,
      content: held.record.body.content,
      attempts,
      elapsedMs: Math.round(performance.now() - started),
    }
  }

  /**
   * While a purchase is under way, fetch the first segments of what it covers (priority `prefetch`): they are
   * encrypted and useless without the licence, and having them when the licence arrives means the first audio
   * follows the purchase without another round trip to the swarm.
   */
  #prefetch(content: readonly string[]): AbortController {
    const controller = new AbortController()
    const isrcs = content.flatMap((c) =>
      c.startsWith('isrc:') ? [c.slice(5)] : (this.#directory.release(c)?.body.tracks.map((t) => t.isrc) ?? []),
    )
    for (const isrc of isrcs.slice(0, PREFETCH_TRACKS)) {
      const manifest = this.#directory.manifestFor(isrc)
      if (manifest === undefined) continue
      try {
        const fetch = this.#segments.fetch(manifest.body.segments.slice(0, PREFETCH_SEGMENTS), {
          root: manifest.id,
          priority: 'prefetch',
          announce: false,
          signal: controller.signal,
        })
        fetch.done.then(
          () => this.#notePrefetched(isrc, fetch.summary()),
          () => {},
        )
      } catch (err) {
        log('prefetch of %s: %s', isrc, (err as Error).message)
      }
    }
    return controller
  }

  /** Remember where a prefetch's blocks came from, so that the play that uses them can say (bounded). */
  #notePrefetched(isrc: string, summary: FetchSummary): void {
    this.#prefetchedFrom.delete(isrc)
    this.#prefetchedFrom.set(isrc, summary)
    while (this.#prefetchedFrom.size > MAX_PREFETCH_SOURCES)
      this.#prefetchedFrom.delete(this.#prefetchedFrom.keys().next().value as string)
  }

  async #failPurchase(purchaseId: string, code: string, message: string): Promise<void> {
    await this.#exclusive(() =>
      this.#commit([
        {
          kind: ENTRY_KINDS.purchaseFailed,
          data: { purchaseId, code: code.slice(0, 64), message: message.slice(0, 1024) },
        },
      ]),
    ).catch((err) => log.error('cannot record the failed purchase %s: %e', purchaseId, err))
  }

  #clearinghouseKey(): Uint8Array {
    const list = this.#c.network.body.clearinghouses
    const wanted = this.#init.clearinghouse
    const found =
      wanted === undefined ? list[0] : list.find((c) => c.name === wanted || hex(c.key) === wanted.toLowerCase())
    if (found === undefined) {
      throw new ClearinghouseUnavailableError(
        wanted === undefined
          ? 'the network lists no clearinghouse'
          : `no clearinghouse ${wanted} in the network record`,
      )
    }
    return found.key
  }

  /**
   * Ask the registration manager for this device's licence of a purchase: again (a lost or damaged store, new
   * keys), or for the first time on a second device of the account, within the licence's `devices` rule.
   */
  async fetchLicence(purchaseId: string): Promise<LicenceView> {
    await this.#checkStore()
    const device = await this.ensureDevice()
    let licence: SignedRecord<'consort/licence'>
    try {
      licence = await this.#reissue(purchaseId, device)
    } catch (err) {
      if (err instanceof RpcRemoteError) throw new PurchaseRefusedError(err.code, err.message)
      throw err
    }
    checkLicenceKeys(licence, this.#c.keys.sealing)
    await this.#exclusive(() =>
      this.#commit([{ kind: ENTRY_KINDS.licence, data: { licence: licence.bytes, receipt: null } }]),
    )
    await this.#c.records.put(licence).catch(() => {})
    this.dispatchEvent(new CustomEvent('licence:added', { detail: { purchaseId, licence: licence.id.toString() } }))
    return this.#view(this.#library.licences.get(purchaseId)!)
  }

  /**
   * Ask the registration manager for this device's licence of a purchase, with the clearinghouses' signed statements
   * of what the purchase already used: the registrar writes the uses into the licence, so a licence fetched again
   * never starts from more than the purchase has left (issue 11, finding 3).
   */
  async #reissue(purchaseId: string, device: SignedRecord<'consort/device'>): Promise<SignedRecord<'consort/licence'>> {
    const consumption: SignedRecord<'consort/consumption'>[] = []
    const unanswered: string[] = []
    for (const clearinghouse of this.#c.network.body.clearinghouses) {
      try {
        consumption.push(
          await fetchConsumption(
            this.#c.libp2p,
            this.#c.network,
            clearinghouse.key,
            this.#c.keys.signer,
            device,
            purchaseId,
            { now: this.#now(), random: this.#c.random, deadlineMs: SYNC_DEADLINE_MS },
          ),
        )
      } catch (err) {
        unanswered.push(`${clearinghouse.name}: ${(err as Error).message}`)
      }
    }
    try {
      return await requestReissue(this.#c.libp2p, this.#c.network, {
        purchaseId,
        device,
        signer: this.#c.keys.signer,
        now: this.#now(),
        consumption,
      })
    } catch (err) {
      if (err instanceof RpcRemoteError && err.code === LICENCE_CODES.consumptionRequired && unanswered.length > 0) {
        throw new PurchaseRefusedError(
          err.code,
          `the licence of purchase ${purchaseId} is fetched again only with what it already used, and the clearinghouse did not answer (${unanswered.join('; ')}); try again when it does`,
        )
      }
      throw err
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Licences

  licences(): LicenceView[] {
    return [...this.#library.licences.values()].map((l) => this.#view(l))
  }

  /** A licence is revoked when it is, or when its receipt was withdrawn (which revokes every licence made from it). */
  #isRevoked(held: HeldLicence): boolean {
    return this.#c.trust.isRevoked(held.record.id) || this.#c.trust.isRevoked(held.record.body.receipt)
  }

  /** The price on a held licence's receipt, for the purchase history; null when there is none to read. */
  #paid(held: HeldLicence): Money | null {
    if (held.receipt == null) return null
    try {
      return decodeRecordAs('consort/receipt', held.receipt, this.#decodeOptions()).body.price
    } catch {
      return null
    }
  }

  #view(held: HeldLicence): LicenceView {
    const now = this.#now()
    const revoked = this.#isRevoked(held)
    const decision = evaluate(held.rules, held.state, { kind: 'play' }, now)
    return {
      purchaseId: held.purchaseId,
      licence: held.record.id.toString(),
      licenceId: held.record.body.licenceId,
      content: held.record.body.content,
      tracks: held.record.body.keys.map((k) => k.isrc),
      useType: held.record.body.useType,
      rules: describeRules(held.record.body.rules, this.#c.network.body.policy.ruleDefaults),
      price: this.#paid(held),
      issuedAt: held.record.body.created,
      notAfter: held.rules.notAfter,
      state: held.state,
      remaining: remaining(held.rules, held.state, now),
      playable: !revoked && decision.allow && this.#tampered === null,
      reason: revoked
        ? 'revoked'
        : this.#tampered !== null
          ? 'store-tampered'
          : decision.allow
            ? null
            : decision.reason.code,
      revoked,
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Playback

  /**
   * Pick the licence to use for `isrc` and count the use, or say why none may be used. For `play`, a licence whose
   * offline window has closed gets one chance: the outbox is flushed (reports delivered, licences synced) and the
   * rules asked again.
   */
  async #startUse(
    isrc: string,
    action: LoggedAction,
    event: (held: HeldLicence) => UsageEvent,
    options: { dryRun?: boolean; purchaseId?: string } = {},
  ): Promise<HeldLicence> {
    const attempt = () =>
      this.#exclusive(async () => {
        const held = this.#library
          .licencesFor(isrc)
          .filter((l) => options.purchaseId === undefined || l.purchaseId === options.purchaseId)
        if (held.length === 0) throw new NoLicenceError(`this device holds no licence for ${isrc}`)
        const now = this.#now()
        const reasons: Array<{ code: string; message: string }> = []
        for (const licence of held) {
          if (this.#isRevoked(licence)) {
            reasons.push({ code: 'revoked', message: `licence ${licence.record.body.licenceId} was revoked` })
            continue
          }
          const decision = evaluate(licence.rules, licence.state, action, now)
          if (!decision.allow) {
            reasons.push(decision.reason)
            continue
          }
          if (options.dryRun !== true) {
            const e = event(licence)
            await this.#commit([
              { kind: ENTRY_KINDS.use, data: { purchaseId: licence.purchaseId, action, event: e, eventId: null } },
            ])
          }
          return licence
        }
        const first = reasons[0]!
        if (first.code === 'revoked') throw new LicenceRevokedError(first.message)
        throw new UsageDeniedError(first.code, first.message)
      })
    try {
      return await attempt()
    } catch (err) {
      if (err instanceof UsageDeniedError) await this.#keepTime(err.reason)
      if (!(err instanceof UsageDeniedError) || err.reason !== 'offline-too-long') throw err
      const flushed = await this.flushUsage().catch(() => null)
      if (flushed === null || flushed.synced.length === 0) {
        throw new UsageDeniedError(
          'offline-too-long',
          `${err.message.replace(/ \(offline-too-long\)$/, '')}; the usage reports could not be delivered yet, so playback waits until they are`,
        )
      }
      return await attempt()
    }
  }

  #newEvent(kind: UsageEvent['kind'], isrc: string, held: HeldLicence | null): UsageEvent {
    return {
      eventId: `e-${hex(this.#c.keys.signer.publicKey).slice(0, 8)}-${Buffer.from(this.#c.random.bytes(12)).toString('hex')}`,
      kind,
      isrc,
      purchaseId: held?.purchaseId ?? null,
      licence: held?.record.id ?? null,
      offer: held?.record.body.offer ?? null,
      contract: held?.record.body.contract ?? null,
      startedAt: this.#now(),
      seconds: 0,
    }
  }

  /**
   * Count `seconds` more of an open play, after asking the rules. Returns how many were counted: all, or what
   * `remaining()` still allows when they would pass `playSeconds` (the player stops there), or 0 when a window
   * closed or the licence was revoked.
   */
  async countSeconds(
    purchaseId: string,
    eventId: string,
    seconds: number,
  ): Promise<{ counted: number; limit: string | null }> {
    if (seconds <= 0) return { counted: 0, limit: null }
    return await this.#exclusive(async () => {
      const held = this.#library.licences.get(purchaseId)
      if (held === undefined) return { counted: 0, limit: 'no-licence' }
      if (this.#isRevoked(held)) return { counted: 0, limit: 'revoked' }
      const now = this.#now()
      let decision = evaluate(held.rules, held.state, { kind: 'play-seconds', seconds }, now)
      let counted = seconds
      let limit: string | null = null
      if (!decision.allow) {
        if (decision.reason.code !== 'play-seconds-exhausted') return { counted: 0, limit: decision.reason.code }
        counted = remaining(held.rules, held.state, now).playSeconds ?? 0
        limit = decision.reason.code
        if (counted <= 0) return { counted: 0, limit }
        decision = evaluate(held.rules, held.state, { kind: 'play-seconds', seconds: counted }, now)
        if (!decision.allow) return { counted: 0, limit: decision.reason.code }
      }
      await this.#commit([
        {
          kind: ENTRY_KINDS.use,
          data: { purchaseId, action: { kind: 'play-seconds', seconds: counted }, event: null, eventId },
        },
      ])
      return { counted, limit }
    })
  }

  /** Close a play (it becomes ready to report) and flush in the background. */
  async endPlay(eventId: string): Promise<void> {
    await this.#exclusive(async () => {
      if (this.#library.events.get(eventId)?.status !== 'open') return
      await this.#commit([{ kind: ENTRY_KINDS.end, data: { eventId } }])
    })
    this.#flushSoon()
  }

  /** Log a preview that was heard (it is reported, and counts against nothing). */
  async notePreview(event: UsageEvent): Promise<void> {
    if (event.seconds <= 0) return
    await this.#exclusive(() => this.#commit([{ kind: ENTRY_KINDS.preview, data: { event } }]))
    this.#flushSoon()
  }

  /**
   * Flush shortly after a use: soon enough that reports travel while the listener is online, late enough not to
   * compete with whatever the listener does next (several uses in a row share one flush).
   */
  #flushSoon(): void {
    if (!this.#started || this.#flushSoonTimer !== undefined) return
    this.#flushSoonTimer = setTimeout(() => {
      this.#flushSoonTimer = undefined
      if (!this.#started) return
      this.flushUsage().catch((err) => log('flush after use: %s', (err as Error).message))
    }, FLUSH_AFTER_USE_MS)
    this.#flushSoonTimer.unref?.()
  }

  /**
   * Open a track for playback: the full track under a licence (counting a play), or its preview clip when the
   * device holds no licence for it. Returns the track, its key and the limits to stop at.
   */
  async openPlayback(
    content: string,
    options: { preview?: boolean; signal?: AbortSignal } = {},
  ): Promise<OpenedPlayback> {
    await this.#checkStore()
    const manifest = await this.#directory.resolve(content, options.signal)
    const isrc = manifest.body.isrc
    const hasLicence = this.#library.licencesFor(isrc).length > 0
    if (!hasLicence || options.preview === true) {
      const preview = previewTrack(manifest)
      if (preview === null) {
        throw new NoLicenceError(
          hasLicence
            ? `${isrc} has no preview clip`
            : `this device holds no licence for ${isrc} and it has no preview clip`,
        )
      }
      const rules = resolveRules({}, this.#c.network.body.policy.ruleDefaults)
      const now = this.#now()
      const clipSeconds = Math.ceil(preview.track.durationMs / 1000)
      const decision = evaluate(rules, initialUsageState(now), { kind: 'preview', seconds: clipSeconds }, now)
      const maxMs = decision.allow
        ? preview.track.durationMs
        : Math.min(preview.track.durationMs, (rules.previewSeconds ?? 0) * 1000)
      return {
        track: preview.track,
        key: Uint8Array.from(preview.key),
        mode: 'preview',
        held: null,
        event: this.#newEvent('preview', isrc, null),
        maxMs,
        begun: true,
      }
    }
    // Which licence, and may it play now? Asked here; the play is counted with its first audio (`beginPlay`).
    const held = await this.#startUse(isrc, { kind: 'play' }, () => this.#newEvent('play', isrc, null), {
      dryRun: true,
    })
    const track = fullTrack(manifest)
    const entry = held.record.body.keys.find((k) => k.isrc === isrc)
    if (entry !== undefined && !same(entry.keyId, track.keyId)) {
      throw new InvalidLicenceError(
        `the licence holds the key of another version of ${isrc}; fetch it again (consort licences --resync)`,
      )
    }
    const key = openContentKey(held.record, isrc, this.#c.keys.sealing)
    return {
      track,
      key,
      mode: 'licensed',
      held,
      event: this.#newEvent('play', isrc, held),
      maxMs: track.durationMs,
      begun: false,
    }
  }

  /**
   * Count an opened licensed play: called when its first audio has been fetched and decrypted, so that a play that
   * failed before (its segments never came) is no play — not counted against the licence, not reported. The rules are
   * asked again now (another play may have used the last one meanwhile).
   */
  async beginPlay(opened: OpenedPlayback): Promise<void> {
    if (opened.held === null || opened.begun) return
    const isrc = opened.track.isrc
    const purchaseId = opened.held.purchaseId
    await this.#startUse(
      isrc,
      { kind: 'play' },
      (h) => {
        opened.event = this.#newEvent('play', isrc, h)
        return opened.event
      },
      { purchaseId },
    )
    opened.begun = true
  }

  /**
   * Play a track: fetch its segments from the swarm (priority "now"), verify and decrypt them in order as they
   * arrive, and hand each to the sink, checking the rules before each second is heard. Stops at the end, at
   * `seconds`, or where the licence stops (`playSeconds`, expiry, rental, revocation).
   */
  async play(content: string, options: PlayOptions = {}): Promise<PlayResult> {
    const started = performance.now()
    // The output is opened before anything is counted: a missing audio device or an unwritable file costs no play.
    const manifest = await this.#directory.resolve(content, options.signal)
    const sink: AudioSink =
      options.sink ??
      (options.out !== undefined ? await FileSink.open(options.out) : await AudioDeviceSink.open(manifest.body.codec))
    let opened: OpenedPlayback
    try {
      opened = await this.openPlayback(`isrc:${manifest.body.isrc}`, {
        ...(options.preview !== undefined ? { preview: options.preview } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      })
    } catch (err) {
      // Nothing was played (no licence and no preview, a revoked licence…): no empty output file stays behind.
      await (sink.discard?.() ?? sink.close()).catch(() => {})
      throw err
    }
    const { track, key, held } = opened
    let bytes = 0
    let countedSeconds = 0
    let firstAudioMs: number | null = null
    let stopped: StopReason = 'end'
    let limit: string | null = null
    const maxMs = Math.min(
      opened.maxMs,
      options.seconds !== undefined ? options.seconds * 1000 : Number.POSITIVE_INFINITY,
    )
    if (opened.mode === 'preview' && opened.maxMs < track.durationMs) limit = 'preview-too-long'
    const fetch = this.#segments.fetch([...track.segments], {
      root: track.manifest.id,
      priority: 'now',
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    })
    try {
      let offset = 0
      for await (const block of fetch.blocks()) {
        if (options.signal?.aborted === true) {
          stopped = 'aborted'
          break
        }
        const plain = decryptTrackSegment(track, key, block.index, block.bytes)
        if (!opened.begun) await this.beginPlay(opened)
        let chunk = plain
        let endMs = msAtByte(track, offset + plain.length)
        let last = false
        if (endMs > maxMs) {
          chunk = plain.subarray(0, Math.max(0, byteAtMs(track, maxMs) - offset))
          endMs = maxMs
          last = true
          if (maxMs < opened.maxMs || options.seconds !== undefined) stopped = 'seconds'
          else stopped = 'limit'
        }
        if (held !== null) {
          const wanted = Math.ceil(endMs / 1000) - countedSeconds
          const { counted, limit: hit } = await this.countSeconds(held.purchaseId, opened.event.eventId, wanted)
          countedSeconds += counted
          if (counted < wanted) {
            // The licence stops here: play only the seconds it still allowed.
            const allowedMs = Math.min(endMs, countedSeconds * 1000)
            chunk = chunk.subarray(0, Math.max(0, byteAtMs(track, allowedMs) - offset))
            endMs = allowedMs
            last = true
            stopped = 'limit'
            limit = hit
          }
        }
        if (chunk.length > 0) {
          await sink.write(chunk)
          if (firstAudioMs === null) {
            firstAudioMs = performance.now() - started
            options.onFirstAudio?.(firstAudioMs)
            this.dispatchEvent(new CustomEvent('play:first-audio', { detail: { isrc: track.isrc, ms: firstAudioMs } }))
          }
          bytes += chunk.length
        }
        offset += plain.length
        if (last) break
      }
    } catch (err) {
      if (bytes === 0) await sink.discard?.().catch(() => {})
      throw err
    } finally {
      key.fill(0)
      if (fetch.present < fetch.total) fetch.abort()
      await sink.close().catch((err) => log.error('sink close failed: %e', err))
      const seconds = Math.ceil(msAtByte(track, bytes) / 1000)
      if (held === null) await this.notePreview({ ...opened.event, seconds })
      else if (opened.begun) await this.endPlay(opened.event.eventId)
    }
    return {
      content: `isrc:${track.isrc}`,
      isrc: track.isrc,
      title: track.manifest.body.title,
      mode: opened.mode,
      purchaseId: held?.purchaseId ?? null,
      eventId: opened.event.eventId,
      sink: sink.description,
      bytes,
      seconds: msAtByte(track, bytes) / 1000,
      firstAudioMs: firstAudioMs === null ? null : Math.round(firstAudioMs * 10) / 10,
      elapsedMs: Math.round(performance.now() - started),
      stopped,
      limit,
      remaining: held === null ? null : this.#remainingOf(held.purchaseId),
      sources: sourcesOf(fetch.summary(), this.#prefetchedFrom.get(track.isrc)),
    }
  }

  #remainingOf(purchaseId: string): Remaining | null {
    const held = this.#library.licences.get(purchaseId)
    return held === undefined ? null : remaining(held.rules, held.state, this.#now())
  }

  /** Decrypt the whole track into memory-bounded chunks, handing each to `write` (exports, burns). */
  async #decryptAll(track: Track, key: Uint8Array, write: (chunk: Uint8Array) => Promise<void>, signal?: AbortSignal) {
    const fetch = this.#segments.fetch([...track.segments], {
      root: track.manifest.id,
      priority: 'prefetch',
      ...(signal !== undefined ? { signal } : {}),
    })
    let bytes = 0
    try {
      for await (const block of fetch.blocks()) {
        const plain = decryptTrackSegment(track, key, block.index, block.bytes)
        await write(plain)
        bytes += plain.length
      }
    } finally {
      if (fetch.present < fetch.total) fetch.abort()
    }
    return bytes
  }

  /**
   * A counted copy of a track: `export` writes the decrypted recording to `out`; `burn` simulates a CD burner
   * honestly, as a counted export to a disc image (the recording in its own codec plus a cue sheet), since this
   * machine has no burner. The rules are asked before anything is fetched; the use is counted once the copy is
   * complete and before it is put in place, so a failed copy costs nothing and a refused one is never written.
   */
  async copy(
    kind: 'export' | 'burn',
    content: string,
    options: { out?: string; signal?: AbortSignal } = {},
  ): Promise<CountedUseResult> {
    await this.#checkStore()
    const manifest = await this.#directory.resolve(content, options.signal)
    const isrc = manifest.body.isrc
    const probe = await this.#startUse(isrc, { kind }, () => this.#newEvent(kind, isrc, null), { dryRun: true })
    const track = fullTrack(manifest)
    const out = options.out ?? this.#defaultCopyPath(kind, track)
    await mkdir(path.dirname(out), { recursive: true })
    const partial = `${out}.partial-${randomUUID()}`
    const key = openContentKey(probe.record, isrc, this.#c.keys.sealing)
    const files = [out]
    let bytes: number
    let held: HeldLicence
    let eventId = ''
    try {
      const chunks: Uint8Array[] = []
      bytes = await this.#decryptAll(
        track,
        key,
        async (chunk) => {
          chunks.push(chunk)
        },
        options.signal,
      )
      await writeFile(partial, Buffer.concat(chunks), { mode: 0o600 })
      held = await this.#startUse(isrc, { kind }, (h) => {
        const e = this.#newEvent(kind, isrc, h)
        eventId = e.eventId
        return e
      })
      await rename(partial, out)
      if (kind === 'burn') {
        const cue = `${out.replace(/\.[^./]+$/, '')}.cue`
        await writeFile(cue, cueSheet(track, path.basename(out)), { mode: 0o600 })
        files.push(cue)
      }
    } catch (err) {
      await rm(partial, { force: true })
      throw err
    } finally {
      key.fill(0)
    }
    this.#flushSoon()
    return {
      content: `isrc:${isrc}`,
      isrc,
      kind,
      purchaseId: held.purchaseId,
      eventId,
      files,
      bytes,
      remaining: this.#remainingOf(held.purchaseId)!,
      note:
        kind === 'burn'
          ? 'simulated burn: no disc burner here, so the burn is a counted export to a disc image (audio file + cue sheet)'
          : 'exported the decrypted recording in its own codec',
    }
  }

  #defaultCopyPath(kind: 'export' | 'burn', track: Track): string {
    if (this.#c.dataDir === null)
      throw new BadPlayerRequestError('out: give a file to write to (this node keeps no data dir)')
    const extension = track.codec === 'vorbis' ? 'ogg' : track.codec === 'aac' ? 'm4a' : track.codec
    const stamp = new Date(this.#now()).toISOString().replace(/[:.]/g, '-')
    return path.join(this.#c.dataDir, kind === 'burn' ? 'burns' : 'exports', `${track.isrc}-${stamp}.${extension}`)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Usage reports

  /** Usage events: waiting (open, ready, reported) and the most recent acknowledged ones. */
  usage(): { pending: Array<UsageEvent & { status: string; report: number | null }>; acknowledged: UsageEvent[] } {
    return {
      pending: [...this.#library.events.values()].map((t) => ({ ...t.event, status: t.status, report: t.report })),
      acknowledged: [...this.#library.history].reverse(),
    }
  }

  /**
   * Deliver the outbox: build reports from the events ready to report (logged before they are sent), send each
   * to the clearinghouses until one acknowledges it, gossip it on `usage`, and sync the licences that have nothing
   * left to deliver. With nothing to deliver, a clearinghouse that answers is enough to sync. One flush at a time.
   */
  async flushUsage(options: { signal?: AbortSignal } = {}): Promise<FlushResult> {
    // A flush already under way may have started before the latest events were ready: wait for it, then run anew.
    while (this.#flushing !== null) await this.#flushing.catch(() => {})
    const flush = this.#flush(options.signal).finally(() => {
      if (this.#flushing === flush) this.#flushing = null
    })
    this.#flushing = flush
    return await flush
  }

  async #flush(signal?: AbortSignal): Promise<FlushResult> {
    const result: FlushResult = {
      built: 0,
      sent: 0,
      acknowledged: 0,
      pendingReports: 0,
      readyEvents: 0,
      synced: [],
      errors: [],
    }
    await this.#checkStore()
    const clearinghouses = this.#c.network.body.clearinghouses
    if (clearinghouses.length === 0) throw new ClearinghouseUnavailableError('the network lists no clearinghouse')
    const device = this.#currentDevice() ?? (await this.ensureDevice())
    await this.#exclusive(async () => {
      const budget = eventsBudget(this.#c.network)
      while (this.#library.reports.size < MAX_PENDING_REPORTS) {
        const ready = this.#library.readyEvents(this.#now())
        if (ready.length === 0) break
        const events = takeForReport(ready, budget)
        const seq = this.#library.lastReport === null ? 0 : this.#library.lastReport.seq + 1
        const record = buildReport({
          network: this.#c.network,
          device: this.#c.keys.signer,
          account: this.#library.account ?? this.account.signer.publicKey,
          seq,
          prev: this.#library.lastReport?.id ?? null,
          events,
          now: this.#now(),
          random: this.#c.random,
        })
        await this.#commit([
          { kind: ENTRY_KINDS.report, data: { seq, record: record.bytes, events: events.map((e) => e.eventId) } },
        ])
        result.built++
      }
    })
    const pending = [...this.#library.reports.values()].sort((a, b) => a.seq - b.seq).slice(0, MAX_REPORTS_PER_FLUSH)
    let contacted = false
    for (const report of pending) {
      const licences = this.#licencesOf(report.events)
      let delivered = false
      for (const clearinghouse of clearinghouses) {
        if (signal?.aborted === true) break
        result.sent++
        try {
          const { status, unpaid } = await sendReport(
            this.#c.libp2p,
            this.#c.network,
            clearinghouse.key,
            report.record,
            device,
            signal,
            licences,
          )
          contacted = true
          for (const u of unpaid) log('report %d: play %s not paid: %s', report.seq, u.eventId, u.reason)
          await this.#exclusive(() =>
            this.#commit([
              { kind: ENTRY_KINDS.ack, data: { seq: report.seq, clearinghouse: clearinghouse.key, status } },
            ]),
          )
          result.acknowledged++
          this.dispatchEvent(
            new CustomEvent('usage:acknowledged', {
              detail: { seq: report.seq, status, clearinghouse: clearinghouse.name },
            }),
          )
          delivered = true
          break
        } catch (err) {
          if (err instanceof RpcRemoteError) contacted = true
          result.errors.push(`${clearinghouse.name}: report ${report.seq}: ${(err as Error).message}`)
        }
      }
      // Gossiped after the direct delivery, which carries the licences: the clearinghouse that acknowledges it bounds
      // its plays at once; the others learn it from the topic (and the licences by CID).
      this.#c.topics
        .publish('usage', report.record, [device])
        .catch((err) => log('gossip of report %d: %s', report.seq, err.message))
      if (!delivered) break
    }
    if (pending.length === 0) {
      // Nothing to deliver: one clearinghouse that answers is the reconnection the offline rule asks for.
      for (const clearinghouse of clearinghouses) {
        try {
          await fetchBalance(this.#c.libp2p, this.#c.network, clearinghouse.key, this.account.signer, {
            now: this.#now(),
            random: this.#c.random,
            deadlineMs: SYNC_DEADLINE_MS,
            ...(signal !== undefined ? { signal } : {}),
          })
          contacted = true
        } catch (err) {
          if (err instanceof RpcRemoteError) contacted = true
          else result.errors.push(`${clearinghouse.name}: ${(err as Error).message}`)
        }
        if (contacted) break
      }
    }
    if (contacted && this.#library.reports.size === 0) {
      await this.#exclusive(async () => {
        const inSync = this.#library.licencesInSync()
        if (inSync.length === 0) return
        await this.#commit([{ kind: ENTRY_KINDS.sync, data: { purchaseIds: inSync } }])
        result.synced = inSync
      })
    }
    result.pendingReports = this.#library.reports.size
    result.readyEvents = this.#library.readyEvents().length
    return result
  }

  /** The licences the events of a report were used under (sent with it, so that its plays are bounded at once). */
  #licencesOf(eventIds: readonly string[]): SignedRecord<'consort/licence'>[] {
    const out = new Map<string, SignedRecord<'consort/licence'>>()
    for (const eventId of eventIds) {
      const purchaseId = this.#library.events.get(eventId)?.event.purchaseId
      const held = purchaseId == null ? undefined : this.#library.licences.get(purchaseId)
      if (held !== undefined) out.set(held.record.id.toString(), held.record)
    }
    return [...out.values()]
  }

  /** The account's balances at the clearinghouse it pays through. */
  async balance(options: { signal?: AbortSignal } = {}): Promise<{ clearinghouse: string; balances: Balance[] }> {
    const key = this.#clearinghouseKey()
    const name = this.#c.network.body.clearinghouses.find((c) => same(c.key, key))?.name ?? hexKey(key)
    const balances = await fetchBalance(this.#c.libp2p, this.#c.network, key, this.account.signer, {
      now: this.#now(),
      random: this.#c.random,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    })
    return { clearinghouse: name, balances }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Resynchronisation

  /**
   * Rebuild the local store after it failed to verify (or whenever asked): every entry that still carries this
   * device's signature is salvaged as evidence; each purchase's licence is fetched again from the registration
   * manager (`reissue`); the counters are restored to the most the evidence proves; undelivered reports and events
   * are kept (same report bytes, same chain position). The store is rewritten as a fresh chain, and the outbox is
   * flushed so that the clearinghouse's acknowledgement syncs the licences. See README.md.
   */
  async resync(options: { flush?: boolean } = {}): Promise<ResyncResult> {
    if (!this.#started) throw new PlayerStoppedError('the player is not started')
    const device = await this.ensureDevice()
    const result = await this.#exclusive(async () => {
      const { entries, unreadable } = await this.#log.salvage()
      const decode = <T extends RecordType>(type: T, bytes: Uint8Array) =>
        decodeRecordAs(type, bytes, this.#decodeOptions())
      const evidence = salvageEvidence(entries, decode, this.#c.keys.signer.publicKey)
      for (const purchaseId of this.#library.licences.keys()) evidence.purchaseIds.add(purchaseId)
      const acknowledged = await this.#acknowledgedUsage(device)
      mergeAcknowledged(evidence, acknowledged.states)
      const restored = this.#newLibrary()
      restored.device = this.#c.keys.signer.publicKey
      restored.account = this.account.signer.publicKey
      restored.deviceRecord = device
      const refused: ResyncResult['refused'] = []
      for (const purchaseId of evidence.purchaseIds) {
        try {
          const licence = await this.#reissue(purchaseId, device)
          checkLicenceKeys(licence, this.#c.keys.sealing)
          const rules = licenceRules(licence, this.#c.network.body.policy.ruleDefaults)
          const fromLicence = initialLicenceState(licence.body)
          const evidenced = evidence.states.get(purchaseId)
          const state = evidenced === undefined ? fromLicence : maxUsageState(evidenced, fromLicence)
          restored.licences.set(purchaseId, {
            purchaseId,
            record: licence,
            receipt: evidence.receipts.get(purchaseId) ?? null,
            rules,
            state,
            addedAt: licence.body.created,
          })
        } catch (err) {
          refused.push({ purchaseId, reason: (err as Error).message })
        }
      }
      for (const [seq, report] of evidence.reports) {
        try {
          restored.reports.set(seq, {
            seq,
            record: decode('consort/usage', report.record),
            events: report.events.filter((id) => evidence.events.has(id)),
            createdAt: report.createdAt,
            acks: new Map(),
          })
        } catch {
          // not restorable: its events are reported again (the clearinghouse deduplicates by event id)
        }
      }
      for (const [eventId, e] of evidence.events) {
        const report = e.report !== null && restored.reports.has(e.report) ? e.report : null
        restored.events.set(eventId, { event: e.event, status: report === null ? 'ready' : 'reported', report })
      }
      restored.lastReport = evidence.lastReport
      const genesis: NewEntry = {
        kind: ENTRY_KINDS.genesis,
        data: {
          device: this.#c.keys.signer.publicKey,
          account: this.account.signer.publicKey,
          reason: 'resync',
          note: `resynchronised: ${evidence.entries} signed entries salvaged (${evidence.chained} in chain), ${unreadable} unreadable`,
        },
      }
      const written = await this.#log.reset([genesis, restored.snapshot()], this.#now())
      this.#library = this.#newLibrary()
      for (const entry of written) this.#library.apply(entry)
      this.#tampered = null
      const summary: ResyncResult = {
        licences: [...this.#library.licences.keys()],
        clearinghouses: acknowledged.answers,
        refused,
        salvagedEntries: evidence.entries,
        chainedEntries: evidence.chained,
        unreadableEntries: unreadable,
        restoredEvents: this.#library.events.size,
        pendingReports: this.#library.reports.size,
        lastReportSeq: this.#library.lastReport?.seq ?? null,
        flush: null,
      }
      return summary
    })
    if (options.flush !== false) {
      result.flush = await this.flushUsage().catch((err) => ({
        built: 0,
        sent: 0,
        acknowledged: 0,
        pendingReports: this.#library.reports.size,
        readyEvents: this.#library.readyEvents().length,
        synced: [],
        errors: [(err as Error).message],
      }))
    }
    return result
  }

  /** Ask every clearinghouse what it acknowledged of this device's usage; the most any of them says wins. */
  async #acknowledgedUsage(device: SignedRecord<'consort/device'>): Promise<{
    states: UsageStateResponse[]
    answers: ResyncResult['clearinghouses']
  }> {
    const states: UsageStateResponse[] = []
    const answers: ResyncResult['clearinghouses'] = []
    for (const clearinghouse of this.#c.network.body.clearinghouses) {
      try {
        const state = await fetchUsageState(
          this.#c.libp2p,
          this.#c.network,
          clearinghouse.key,
          this.#c.keys.signer,
          device,
          { now: this.#now(), random: this.#c.random, deadlineMs: SYNC_DEADLINE_MS },
        )
        states.push(state)
        answers.push({
          name: clearinghouse.name,
          status: 'ok',
          lastReportSeq: state.lastReport?.seq ?? null,
          detail: null,
        })
      } catch (err) {
        const unsupported = err instanceof RpcRemoteError && err.code === 'ERR_UNKNOWN_OP'
        answers.push({
          name: clearinghouse.name,
          status: unsupported ? 'unsupported' : 'unreachable',
          lastReportSeq: null,
          detail: (err as Error).message,
        })
      }
    }
    return { states, answers }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Web playback (byte ranges)

  get streams(): StreamSessions {
    return this.#streams
  }
}

function cueSheet(track: Track, file: string): string {
  const b = track.manifest.body
  const quote = (s: string) => `"${s.replace(/"/g, "'")}"`
  return [
    'REM COMMENT "Consort simulated burn: a counted disc image, not a physical disc"',
    `PERFORMER ${quote(b.artists.join(', '))}`,
    `TITLE ${quote(b.release?.title ?? b.title)}`,
    `FILE ${quote(file)} WAVE`,
    '  TRACK 01 AUDIO',
    `    TITLE ${quote(b.title)}`,
    `    PERFORMER ${quote(b.artists.join(', '))}`,
    `    ISRC ${b.isrc}`,
    '    INDEX 01 00:00:00',
    '',
  ].join('\n')
}

/** Where a play's blocks came from, per peer: its own fetch, and the prefetch after the purchase that preceded it. */
function sourcesOf(summary: FetchSummary, prefetch: FetchSummary | undefined): PlayResult['sources'] {
  const peers = new Map<string, { peer: string; bytes: number; bytesRelayed: number }>()
  for (const p of [...(prefetch?.peers ?? []), ...summary.peers]) {
    if (p.bytes === 0) continue
    const known = peers.get(p.peer) ?? { peer: p.peer, bytes: 0, bytesRelayed: 0 }
    known.bytes += p.bytes
    known.bytesRelayed += p.bytesRelayed
    peers.set(p.peer, known)
  }
  return { cachedBlocks: Math.max(0, summary.cached - (prefetch?.fetched ?? 0)), peers: [...peers.values()] }
}
