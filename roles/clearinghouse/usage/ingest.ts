import { NotFoundError } from '@libp2p/interface'
/**
 * Usage ingestion, exactly once. Verified reports queue up and are committed in groups (group commit): one group is
 * one atomic, fsynced LevelDB batch holding the reports, their events' dedup keys, the devices' chain states, the
 * held plays, the statement lines and the journal row of the group's ledger transfers. Only then are the reports
 * acknowledged; the ledger batch follows through the journal (see journal.ts), so a crash at any instant leaves
 * every acknowledged report stored and settled once, and every unacknowledged one either not stored (the player
 * sends it again) or stored (the player's retry is answered `duplicate`).
 *
 * Per report, in order: a replay (same report id) is `duplicate`; a report that continues its device's hash chain
 * (`seq` = the next one, `prev` = the last one's id) is settled, then any held report that now continues the chain;
 * one further ahead is held until the gap is filled; one that does not fit the chain where it claims to (same `seq`
 * as a report already counted, or a `prev` that is not its predecessor) is a fork: stored, flagged, never settled.
 * Per event: an event id the device used before is skipped; plays faster than real time, beyond the account's
 * devices or beyond what a person can listen to in an hour are held for review; plays whose licence (or offer, or
 * contract) is unknown are held and tried again later; the rest are settled (usage/plays.ts).
 */
import { logger } from '@libp2p/logger'
import type { z } from 'zod'
import { Lru } from '../../../keys/lru.ts'
import { MAX_ACK_UNPAID } from '../../../protocols/clearing/index.ts'
import type { Clock } from '../../../protocols/clock.ts'
import type { NetworkContext } from '../../../protocols/network.ts'
import type { SignedRecord } from '../../../protocols/records/envelope.ts'
import type { CertificateTrust } from '../../../protocols/trust/trust.ts'
import {
  evaluate,
  licenceRules,
  type ResolvedRules,
  settlementRules,
  type UsageState,
} from '../../../protocols/usage-rules/index.ts'
import {
  ACCOUNT_CACHE_ENTRIES,
  DEVICE_CACHE_ENTRIES,
  GROUP_FILL_REPORTS,
  GROUP_GATHER_MS,
  MAX_CHAIN_GAP,
  MAX_GROUP_REPORTS,
  MAX_PLAYS_PER_DEVICE_HOUR,
  MAX_TRACKED_DEVICES_PER_ACCOUNT,
  PLAY_BURST_MS,
  PLAY_INTERVAL_MS,
  PLAY_OVERLAP_TOLERANCE_MS,
  PURCHASE_USE_CACHE_ENTRIES,
  RECENT_REPORT_ENTRIES,
  TALLY_ROW_CACHE_ENTRIES,
  USAGE_ROW_CACHE_ENTRIES,
} from '../constants.ts'
import { ClearingFailedError, ReportInvalidError } from '../errors.ts'
import type { Journal, JournalEntry } from '../journal.ts'
import { rowBytes } from '../ledger/dag-cbor-encoder.ts'
import type { Ledger } from '../ledger/ledger.ts'
import type { AccountInput } from '../ledger/types.ts'
import { accountIdOf, retailerParticipant } from '../participants.ts'
import type { RecordBook } from '../records.ts'
import { type LineBook, type PlannedTransfer, SettlementBatch, TransferSum } from '../settlement.ts'
import {
  type AccountPlaysRow,
  accountPlaysRow,
  type DeviceRow,
  type DsrPlaysRow,
  decodeReportRow,
  deviceRow,
  dsrPlaysRow,
  encodeReportRow,
  type GapRow,
  gapRow,
  type HeldRow,
  type HoldReason,
  heldRow,
  type PlaysRow,
  type PurchaseUseRow,
  periodOf,
  playsRow,
  purchaseUseRow,
  type ReportRow,
  StateKeys,
  type StoredEvent,
  type StoreOp,
  type UsageRow,
  usageRow,
} from '../state.ts'
import { del, put, putBytes, type StateStore } from '../store.ts'
import { checkLicence, contractForPlay, type Hold, type PlayRecords, type PoolCount, settlePlay } from './plays.ts'
import type { VerifiedReport } from './verify.ts'

const log = logger('consort:clearinghouse:ingest')
const utf8 = new TextEncoder()

/** A string's UTF-8 bytes as a row of their own (cut from a shared slab: see `rowBytes`). */
function textBytes(text: string): Uint8Array {
  const out = rowBytes(Buffer.byteLength(text, 'utf8'))
  utf8.encodeInto(text, out)
  return out
}

export type ReportStatus = 'settled' | 'held' | 'duplicate'
export interface ReportAck {
  reportId: string
  status: ReportStatus
  /** Plays of this report not paid, and why (at most `MAX_ACK_UNPAID`): the acknowledgement says so. */
  unpaid?: Array<{ eventId: string; reason: string }>
}

export interface IngestDeps {
  store: StateStore
  journal: Journal
  /** Read for the payers' balances when a credit limit applies. */
  ledger: Ledger
  records: RecordBook
  lines: LineBook
  trust: CertificateTrust
  network: NetworkContext
  clock: Clock
  /** This clearinghouse's signing key (its fee account). */
  clearinghouse: Uint8Array
  /** Runs `fn` alone among the role's state changes. */
  serial: <T>(fn: () => Promise<T>) => Promise<T>
  /** Called when a journalled batch failed: the role stops. */
  fail: (err: Error) => void
  /** Called when plays were held because a record is missing (the role tries again soon). */
  missing: () => void
  sync: boolean
  /**
   * The most a retailer paying per play may owe, per currency (minor units): a play that would take it lower is held
   * (`credit-limit`). Empty: no limit.
   */
  creditLimits: ReadonlyMap<string, bigint>
  /**
   * Reports being verified, which will be submitted (or refused) soon: while some are, a group that is not full waits
   * for them, up to `GROUP_GATHER_MS` (absent: never waits).
   */
  verifying?: () => number
}

interface Pending {
  report: VerifiedReport
  resolve: (ack: ReportAck) => void
  reject: (err: Error) => void
}

/** A report about to have its events processed (in chain order). */
interface ChainReport {
  reportId: string
  device: string
  account: string
  created: number
  events: StoredEvent[]
}

export interface IngestStats {
  reports: number
  duplicates: number
  held: number
  forks: number
  events: number
  duplicateEvents: number
  playsSettled: number
  playsHeld: number
  /** Plays of zero seconds: nothing was heard, nothing counted. */
  playsNotHeard: number
  /** Groups of reports committed (one fsynced batch each). */
  groups: number
}

/** The state one group reads and changes, staged so that the caches change only after the group is written. */
class Group {
  readonly ops: StoreOp[] = []
  readonly devices = new Map<string, DeviceRow>()
  readonly accounts = new Map<string, AccountPlaysRow>()
  readonly touchedDevices = new Set<string>()
  readonly touchedAccounts = new Set<string>()
  readonly reportIds = new Set<string>()
  readonly events = new Set<string>()
  readonly batch = new SettlementBatch()
  readonly transfers = new TransferSum()
  readonly pool = new Map<string, PoolCount & { plays: number }>()
  /** Plays settled per licence, contract and recording (the DSR's usage counts), by state key. */
  readonly dsrPlays = new Map<string, DsrPlaysRow>()
  readonly acks: Array<{ pending: Pending; ack: ReportAck }> = []
  /** Reports and gap rows written by this group (not on disk yet). */
  readonly reports = new Map<string, ReportRow>()
  readonly gaps = new Map<string, GapRow>()
  readonly removed = new Set<string>()
  /** Per device and purchase, what this group's acknowledged events add (the `usage-state` counters). */
  readonly usage = new Map<string, Omit<UsageRow, 'v'>>()
  /** Per purchase: its uses and admitted plays, as this group leaves them. */
  readonly uses = new Map<string, PurchaseUseRow>()
  readonly touchedUses = new Set<string>()
  /** Payers' posted balances as this group's plays leave them (ledger account id → amount), for credit limits. */
  readonly credit = new Map<string, bigint>()
  /** Play templates already merged whole (participants, accounts) into this group. */
  readonly templates = new Set<string>()
  readonly missing: string[] = []
  playsSettled = 0
  playsHeld = 0
  readonly now: number
  readonly period: string
  constructor(now: number, period: string) {
    this.now = now
    this.period = period
  }
}

/**
 * A group's reports with each device's reports in sequence order, in the places its reports arrived in (the order
 * between devices is kept). Reports verified side by side come back from the workers in any order; a device whose
 * reports 7 and 8 arrive as 8, 7 in one group would otherwise hold 8 as a gap and read it back to settle it after 7.
 */
export function inChainOrder<T extends { report: { device: string; seq: number } }>(items: T[]): T[] {
  const byDevice = new Map<string, number[]>()
  let disordered = false
  for (const [i, item] of items.entries()) {
    const places = byDevice.get(item.report.device)
    if (places === undefined) byDevice.set(item.report.device, [i])
    else {
      if (items[places.at(-1)!]!.report.seq > item.report.seq) disordered = true
      places.push(i)
    }
  }
  if (!disordered) return items
  const out = items.slice()
  for (const places of byDevice.values()) {
    if (places.length < 2) continue
    // A stable sort: reports with the same seq (a fork) keep their order of arrival.
    const sorted = places.map((i) => items[i]!).sort((a, b) => a.report.seq - b.report.seq)
    for (const [k, i] of places.entries()) out[i] = sorted[k]!
  }
  return out
}

/** Add one acknowledged event to its device's and its purchase's counters. */
function countUse(g: Group, device: string, e: StoredEvent, purchase: PurchaseUseRow): void {
  const key = StateKeys.usage(device, e.purchaseId!)
  let u = g.usage.get(key)
  if (u === undefined) {
    u = { plays: 0, playSeconds: 0, exports: 0, burns: 0, firstPlayAt: null }
    g.usage.set(key, u)
  }
  for (const c of [u, purchase.used]) {
    if (e.kind === 'play') {
      c.plays++
      c.playSeconds += e.seconds
      c.firstPlayAt = c.firstPlayAt === null ? e.startedAt : Math.min(c.firstPlayAt, e.startedAt)
    } else if (e.kind === 'export') c.exports++
    else if (e.kind === 'burn') c.burns++
  }
  g.touchedUses.add(e.purchaseId!)
}

/** The usage state the next play of a purchase is evaluated against: what was admitted within its licence. */
function admittedState(row: PurchaseUseRow): UsageState {
  const a = row.admitted
  return {
    plays: a.plays,
    playSeconds: a.playSeconds,
    firstPlayAt: a.firstPlayAt,
    exports: 0,
    burns: 0,
    transferred: false,
    lastSyncAt: 0,
    devices: 0,
  }
}

function emptyDevice(account: string): DeviceRow {
  return {
    v: 1,
    account,
    next: 0,
    head: null,
    lastStart: 0,
    lastEnd: 0,
    hour: 0,
    hourPlays: 0,
    forks: 0,
    gaps: 0,
    playsDueAt: 0,
  }
}

export class Ingest {
  readonly #d: IngestDeps
  readonly #devices = new Lru<string, DeviceRow>(DEVICE_CACHE_ENTRIES)
  readonly #accounts = new Lru<string, AccountPlaysRow>(ACCOUNT_CACHE_ENTRIES)
  readonly #recent = new Lru<string, true>(RECENT_REPORT_ENTRIES)
  readonly #templates = new Lru<string, PlayTemplate>(TEMPLATE_CACHE_ENTRIES)
  readonly #uses = new Lru<string, PurchaseUseRow>(PURCHASE_USE_CACHE_ENTRIES)
  /**
   * Counter rows as last written (`u/` a device's uses per purchase, `T/` the DSR's tallies, `C/` a pool's plays):
   * each group adds to them, and reading them back was most of the group's reads. Set only after the batch that wrote
   * them succeeded, cleared by `reset`, so they never hold what the disk does not.
   */
  readonly #usageRows = new Lru<string, UsageRow>(USAGE_ROW_CACHE_ENTRIES)
  readonly #tallyRows = new Lru<string, DsrPlaysRow>(TALLY_ROW_CACHE_ENTRIES)
  readonly #poolRows = new Lru<string, PlaysRow>(TALLY_ROW_CACHE_ENTRIES)
  /** The settlement rules of each licence (they never change). */
  readonly #rules = new WeakMap<object, ResolvedRules>()
  #queue: Pending[] = []
  #draining: Promise<void> | null = null
  /** Ends the wait of a group gathering its reports (see `#gather`). */
  #gathered: (() => void) | null = null
  readonly stats: IngestStats = {
    reports: 0,
    duplicates: 0,
    held: 0,
    forks: 0,
    events: 0,
    duplicateEvents: 0,
    playsSettled: 0,
    playsHeld: 0,
    playsNotHeard: 0,
    groups: 0,
  }

  constructor(deps: IngestDeps) {
    this.#d = deps
  }

  /** Reports waiting to be committed. */
  get pending(): number {
    return this.#queue.length
  }

  /** Has this report id been stored recently (a replay can be answered at once)? */
  recentlyStored(reportId: string): boolean {
    return this.#recent.has(reportId)
  }

  /** Queue a verified report; resolves once it is durably stored (and its settlement journalled). */
  submit(report: VerifiedReport): Promise<ReportAck> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ report, resolve, reject })
      if (this.#draining === null) this.#draining = this.#drain()
      else this.verified()
    })
  }

  /** A report's verification ended (it is about to be submitted, or was refused): a gathering group may be complete. */
  verified(): void {
    if (this.#gathered !== null && this.#complete()) this.#gathered()
  }

  /** A group is complete when it is large enough, or when no report it could wait for is being verified. */
  #complete(): boolean {
    return this.#queue.length >= GROUP_FILL_REPORTS || (this.#d.verifying?.() ?? 0) === 0
  }

  /**
   * Group commit: every group costs one fsync, one journal row, one ledger batch and one write of each row its reports
   * share (a device's chain, an account's, a purchase's counters, a statement line, a tally), so the fewer the groups
   * the less CPU per report. With reports still being verified on the workers, a group waits for them until it holds
   * `GROUP_FILL_REPORTS` or none is left in flight, and at most `GROUP_GATHER_MS`: the reports of a busy clearinghouse
   * are acknowledged that much later, those of an idle one (nothing in flight) at once.
   */
  async #gather(): Promise<void> {
    if (this.#complete()) return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#gathered = null
        resolve()
      }
      const timer = setTimeout(done, GROUP_GATHER_MS)
      this.#gathered = done
    })
  }

  /** Wait until everything queued so far is committed. */
  async flush(): Promise<void> {
    while (this.#draining !== null) await this.#draining
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        await this.#gather()
        const items = this.#queue.splice(0, MAX_GROUP_REPORTS)
        try {
          await this.#d.serial(() => this.#commit(items))
        } catch (err) {
          for (const item of items) item.reject(err as Error)
        }
      }
    } finally {
      this.#draining = null
    }
  }

  async #commit(arrived: Pending[]): Promise<void> {
    const items = inChainOrder(arrived)
    const now = this.#d.clock.now()
    const g = new Group(now, periodOf(now))
    await this.#load(g, items)
    const stored = await this.#storedReports(g, items)
    const eventKeys = items.flatMap((i) => i.report.events.map((e) => StateKeys.event(i.report.device, e.eventId)))
    const seenEvents = await this.#d.store.rawMany(eventKeys)
    for (let i = 0; i < eventKeys.length; i++) if (seenEvents[i] !== undefined) g.events.add(eventKeys[i]!)
    const records = await this.#resolveRecords(items.flatMap((i) => i.report.events))

    for (let i = 0; i < items.length; i++) {
      const item = items[i]!
      const r = item.report
      if (stored[i] !== undefined || g.reportIds.has(r.reportId)) {
        g.acks.push({ pending: item, ack: { reportId: r.reportId, status: 'duplicate' } })
        continue
      }
      const dev = this.#device(g, r.device, r.account)
      if (r.seq > dev.next + MAX_CHAIN_GAP) {
        item.reject(
          new ReportInvalidError(
            `usage.body.seq: ${r.seq} is more than ${MAX_CHAIN_GAP} ahead of the chain (${dev.next})`,
          ),
        )
        continue
      }
      g.reportIds.add(r.reportId)
      const row = (status: ReportRow['status']): ReportRow => ({
        status,
        storedAt: now,
        deviceRecord: r.registration.id,
        bytes: r.bytes,
      })
      if (r.seq === dev.next && r.prev === dev.head) {
        this.#putReport(g, r.reportId, row('settled'))
        const unpaid = await this.#advance(g, dev, r, records)
        const held = unpaid.some((u) => u.reason !== 'not-heard')
        g.acks.push({
          pending: item,
          ack: {
            reportId: r.reportId,
            status: held ? 'held' : 'settled',
            ...(unpaid.length > 0 ? { unpaid: unpaid.slice(0, MAX_ACK_UNPAID) } : {}),
          },
        })
      } else if (r.seq > dev.next) {
        this.#putReport(g, r.reportId, row('held'))
        const gap: GapRow = {
          v: 1,
          reportId: r.reportId,
          seq: r.seq,
          prev: r.prev,
          created: r.created,
          account: r.account,
          events: r.events,
        }
        const gapKey = StateKeys.gap(r.device, r.seq, r.reportId)
        g.ops.push(put(gapKey, gap))
        g.gaps.set(gapKey, gap)
        dev.gaps++
        g.touchedDevices.add(r.device)
        this.stats.held++
        g.acks.push({ pending: item, ack: { reportId: r.reportId, status: 'held' } })
      } else {
        this.#putReport(g, r.reportId, row('fork'))
        g.ops.push(
          put(StateKeys.fork(r.device, r.seq, r.reportId), {
            v: 1,
            reportId: r.reportId,
            seq: r.seq,
            prev: r.prev,
            at: now,
          }),
        )
        dev.forks++
        g.touchedDevices.add(r.device)
        this.stats.forks++
        log('fork: device %s report %s at seq %d (chain at %d)', r.device, r.reportId, r.seq, dev.next)
        g.acks.push({ pending: item, ack: { reportId: r.reportId, status: 'held' } })
      }
    }
    await this.#write(g, 'ingest')
    this.stats.groups++
    for (const { ack } of g.acks) if (ack.status !== 'duplicate') this.#recent.set(ack.reportId, true)
    for (const { pending, ack } of g.acks) {
      if (ack.status === 'duplicate') this.stats.duplicates++
      else this.stats.reports++
      pending.resolve(ack)
    }
  }

  /**
   * Which of the group's reports are stored already (a replay), read only where the device's chain state (as on disk,
   * before this group) leaves it possible. A device's row is written in the same batch as each of its reports. Of a
   * device with no held report (gap), what is stored lies behind the chain (settled reports, forks) or at its next
   * `seq` with another `prev` (a fork at the head): a report past the next `seq`, or at it with the head as `prev`
   * (the one that continues the chain), cannot be stored. That skips the read for nearly every new report; replays,
   * forks and devices with gaps are read as before.
   */
  async #storedReports(g: Group, items: Pending[]): Promise<Array<Uint8Array | undefined>> {
    const out = new Array<Uint8Array | undefined>(items.length)
    const keys: string[] = []
    const places: number[] = []
    for (const [i, item] of items.entries()) {
      const dev = g.devices.get(item.report.device)
      const r = item.report
      if (dev === undefined) continue
      if (dev.gaps === 0 && (r.seq > dev.next || (r.seq === dev.next && r.prev === dev.head))) continue
      keys.push(StateKeys.report(item.report.reportId))
      places.push(i)
    }
    const rows = await this.#d.store.rawMany(keys)
    for (const [k, i] of places.entries()) out[i] = rows[k]
    return out
  }

  /**
   * Settle a report that continues its device's chain, then every held report that now continues it. Returns the
   * plays of the first report that were held, and why.
   */
  async #advance(
    g: Group,
    dev: DeviceRow,
    first: ChainReport,
    records: Map<string, Resolved>,
  ): Promise<Array<{ eventId: string; reason: string }>> {
    const held = await this.#events(g, dev, first, records)
    dev.next++
    dev.head = first.reportId
    g.touchedDevices.add(first.device)
    while (dev.gaps > 0) {
      // Only the reports held for the next seq are read: the chain advances one seq at a time.
      const prefix = StateKeys.gapAt(first.device, dev.next)
      const waiting = new Map<string, GapRow>()
      for await (const [key, row] of this.#d.store.rows(gapRow, prefix)) if (!g.removed.has(key)) waiting.set(key, row)
      for (const [key, row] of g.gaps) if (key.startsWith(prefix) && !g.removed.has(key)) waiting.set(key, row)
      const atNext = [...waiting]
      if (atNext.length === 0) break
      let advanced = false
      for (const [key, row] of atNext) {
        g.ops.push(del(key))
        g.removed.add(key)
        dev.gaps--
        if (!advanced && row.prev === dev.head) {
          advanced = true
          await this.#restatus(g, row.reportId, 'settled')
          const more = await this.#resolveRecords(row.events)
          for (const [k, v] of more) records.set(k, v)
          const eventKeys = row.events.map((e) => StateKeys.event(first.device, e.eventId))
          const seen = await this.#d.store.rawMany(eventKeys)
          for (const [i, k] of eventKeys.entries()) if (seen[i] !== undefined) g.events.add(k)
          await this.#events(
            g,
            dev,
            {
              reportId: row.reportId,
              device: first.device,
              account: row.account,
              created: row.created,
              events: row.events,
            },
            records,
          )
          dev.next++
          dev.head = row.reportId
        } else {
          await this.#restatus(g, row.reportId, 'fork')
          g.ops.push(
            put(StateKeys.fork(first.device, row.seq, row.reportId), {
              v: 1,
              reportId: row.reportId,
              seq: row.seq,
              prev: row.prev,
              at: g.now,
            }),
          )
          dev.forks++
          this.stats.forks++
        }
      }
      if (!advanced) break
    }
    return held
  }

  /** Rewrite a stored report's status (a held one that is settled now, or turned out to be a fork). */
  async #restatus(g: Group, reportId: string, status: ReportRow['status']): Promise<void> {
    let row = g.reports.get(reportId)
    if (row === undefined) {
      const bytes = await this.#d.store.raw(StateKeys.report(reportId))
      if (bytes !== undefined) row = decodeReportRow(StateKeys.report(reportId), bytes)
    }
    if (row === undefined) throw new ClearingFailedError(`held report ${reportId} is not stored`)
    this.#putReport(g, reportId, { ...row, status })
  }

  #putReport(g: Group, reportId: string, row: ReportRow): void {
    g.reports.set(reportId, row)
    g.ops.push(putBytes(StateKeys.report(reportId), encodeReportRow(row)))
  }

  /** Process one report's events in time order. Returns the plays held, and why. */
  async #events(
    g: Group,
    dev: DeviceRow,
    r: ChainReport,
    records: Map<string, Resolved>,
  ): Promise<Array<{ eventId: string; reason: string }>> {
    const events =
      r.events.length < 2
        ? r.events
        : [...r.events].sort((a, b) => a.startedAt - b.startedAt || (a.eventId < b.eventId ? -1 : 1))
    const account = this.#account(g, r.account)
    const held: Array<{ eventId: string; reason: string }> = []
    for (const e of events) {
      const key = StateKeys.event(r.device, e.eventId)
      this.stats.events++
      if (g.events.has(key)) {
        this.stats.duplicateEvents++
        continue
      }
      g.events.add(key)
      g.ops.push(putBytes(key, textBytes(r.reportId)))
      if (e.kind === 'play' && e.seconds === 0) {
        // Nothing was heard (a fetch that failed, a device that stopped at once): a play that failed is not a play —
        // not counted against the licence, not settled, not on any statement (issue 11, finding 6).
        held.push({ eventId: e.eventId, reason: 'not-heard' })
        this.stats.playsNotHeard++
        continue
      }
      if (e.purchaseId !== null) {
        countUse(g, r.device, e, g.uses.get(e.purchaseId) ?? (await this.#use(g, e.purchaseId, r.account)))
      }
      if (e.kind !== 'play') continue
      const hold =
        this.#behaviour(g, dev, account, r, e) ??
        this.#licensed(r, e, records) ??
        (await this.#admit(g, e, records.get(e.licence!) as ResolvedRecords, r.account))
      if (hold !== null) {
        held.push({ eventId: e.eventId, reason: hold.reason })
        this.#hold(g, r, e, hold)
        continue
      }
      this.#settle(g, e, records.get(e.licence!) as ResolvedRecords)
    }
    return held
  }

  /** The behaviour checks; a play that passes them counts toward the device's and account's state. */
  #behaviour(g: Group, dev: DeviceRow, account: AccountPlaysRow, r: ChainReport, e: StoredEvent): Hold | null {
    const start = e.startedAt
    const end = start + e.seconds * 1000
    if (end > r.created + PLAY_OVERLAP_TOLERANCE_MS) {
      return {
        reason: 'faster-than-real-time',
        detail: `the play ends at ${end}, after the report was made (${r.created})`,
      }
    }
    if (start < dev.lastEnd - PLAY_OVERLAP_TOLERANCE_MS) {
      return {
        reason: 'faster-than-real-time',
        detail: `the play starts at ${start}, before the device's previous play ended (${dev.lastEnd})`,
      }
    }
    // The rate is counted on this clearinghouse's clock, when the plays arrive: start times a device claims (which it
    // may back-date to spread plays over past hours) gain it nothing (issue 11, finding 2).
    const due = Math.max(dev.playsDueAt ?? 0, g.now) + PLAY_INTERVAL_MS
    if (due - g.now > PLAY_BURST_MS) {
      return {
        reason: 'too-many-plays',
        detail: `more than ${MAX_PLAYS_PER_DEVICE_HOUR} plays an hour arrived from this device (on the clearinghouse's clock)`,
      }
    }
    const limit = this.#d.network.body.policy.deviceLimit
    const others = account.devices.filter(
      (d) => d.device !== r.device && d.start < end && d.end > start + PLAY_OVERLAP_TOLERANCE_MS,
    ).length
    if (others + 1 > limit) {
      return {
        reason: 'too-many-devices',
        detail: `${others + 1} devices of the account playing at once (limit ${limit})`,
      }
    }
    dev.lastStart = start
    dev.lastEnd = end
    dev.playsDueAt = due
    g.touchedDevices.add(r.device)
    const mine = account.devices.find((d) => d.device === r.device)
    if (mine !== undefined) {
      mine.start = start
      mine.end = end
    } else {
      account.devices.push({ device: r.device, start, end })
      if (account.devices.length > MAX_TRACKED_DEVICES_PER_ACCOUNT) {
        account.devices.sort((a, b) => b.end - a.end)
        account.devices.length = MAX_TRACKED_DEVICES_PER_ACCOUNT
      }
    }
    g.touchedAccounts.add(r.account)
    return null
  }

  #licensed(r: ChainReport, e: StoredEvent, records: Map<string, Resolved>): Hold | null {
    if (e.purchaseId === null || e.licence === null) {
      return { reason: 'unlicensed', detail: 'a play without a purchase and licence' }
    }
    const resolved = records.get(e.licence)
    if (resolved === undefined || 'missing' in resolved) {
      return { reason: 'record-missing', detail: resolved?.missing ?? `licence ${e.licence} is not known` }
    }
    return checkLicence(e, r.device, r.account, resolved.licence, this.#d.trust)
  }

  /**
   * Bound a licensed play by its licence before it is paid: it must start after the licence was issued, and the
   * purchase's plays admitted so far plus this one must stay within the licence's rules (`plays`, `playSeconds`,
   * `notAfter`, the rental window), evaluated by the same function the player uses. Then the retailer's credit limit,
   * if one applies. Admits the play (counts it for the purchase) or says why it is held.
   */
  async #admit(g: Group, e: StoredEvent, resolved: ResolvedRecords, account: string): Promise<Hold | null> {
    const licence = resolved.licence
    if (e.startedAt + this.#d.network.caps.clockSkewMs < licence.body.created) {
      return {
        reason: 'before-licence',
        detail: `the play starts at ${e.startedAt}, before its licence was issued (${licence.body.created})`,
      }
    }
    let rules = this.#rules.get(licence)
    if (rules === undefined) {
      rules = settlementRules(licenceRules(licence.body, this.#d.network.body.policy.ruleDefaults))
      this.#rules.set(licence, rules)
    }
    const use = g.uses.get(licence.body.purchaseId) ?? (await this.#use(g, licence.body.purchaseId, account))
    let decision = evaluate(rules, admittedState(use), { kind: 'play' }, e.startedAt)
    if (decision.allow && e.seconds > 0) {
      decision = evaluate(rules, decision.state, { kind: 'play-seconds', seconds: e.seconds }, e.startedAt)
    }
    if (!decision.allow) {
      return { reason: 'beyond-licence', detail: `${decision.reason.code}: ${decision.reason.message}` }
    }
    // Most clearinghouses set no credit limit: no promise per play then.
    const credit = this.#d.creditLimits.size === 0 ? null : await this.#credit(g, e, resolved)
    if (credit !== null) return credit
    const s = decision.state
    use.admitted = { plays: s.plays, playSeconds: s.playSeconds, firstPlayAt: s.firstPlayAt }
    g.touchedUses.add(licence.body.purchaseId)
    return null
  }

  /**
   * A retailer that pays per play may not be taken below its credit limit (`creditLimits`): the play is held
   * (`credit-limit`) until a reviewer approves it, once the retailer's account can carry it.
   */
  async #credit(g: Group, e: StoredEvent, resolved: ResolvedRecords): Promise<Hold | null> {
    if (this.#d.creditLimits.size === 0) return null
    const payer = retailerParticipant(resolved.offer.signer)
    const cost = new Map<string, bigint>()
    for (const t of this.#template(g, e, resolved).template.transfers.list()) {
      if (t.debit === payer) cost.set(t.currency, (cost.get(t.currency) ?? 0n) + t.amount)
    }
    const after = new Map<string, bigint>()
    for (const [currency, amount] of cost) {
      const limit = this.#d.creditLimits.get(currency)
      if (limit === undefined) continue
      const id = accountIdOf(payer, currency)
      let balance = g.credit.get(id)
      if (balance === undefined) {
        const known = await this.#d.ledger.getAccount(id)
        const b = known === undefined ? undefined : await this.#d.ledger.balance(id)
        balance = b === undefined ? 0n : b.creditsPosted - b.debitsPosted
      }
      if (balance - amount < -limit) {
        return {
          reason: 'credit-limit',
          detail: `paying ${amount} ${currency} would take the retailer to ${balance - amount}, below its credit limit of -${limit}`,
        }
      }
      after.set(id, balance - amount)
    }
    for (const [id, balance] of after) g.credit.set(id, balance)
    return null
  }

  /** A purchase's uses as this group sees them (loaded once per group; the cache changes only after the write). */
  async #use(g: Group, purchaseId: string, account: string): Promise<PurchaseUseRow> {
    let row = g.uses.get(purchaseId)
    if (row !== undefined) return row
    const known =
      this.#uses.get(purchaseId) ?? (await this.#d.store.get(purchaseUseRow, StateKeys.purchaseUse(purchaseId)))
    row =
      known === undefined
        ? {
            v: 1,
            account,
            used: { plays: 0, playSeconds: 0, exports: 0, burns: 0, firstPlayAt: null },
            admitted: { plays: 0, playSeconds: 0, firstPlayAt: null },
          }
        : { v: 1, account: known.account, used: { ...known.used }, admitted: { ...known.admitted } }
    g.uses.set(purchaseId, row)
    return row
  }

  /** What one purchase's devices used, as acknowledged here (for `consort/consumption`). */
  async purchaseUse(purchaseId: string): Promise<PurchaseUseRow | undefined> {
    return this.#uses.get(purchaseId) ?? (await this.#d.store.get(purchaseUseRow, StateKeys.purchaseUse(purchaseId)))
  }

  #hold(g: Group, r: ChainReport, e: StoredEvent, hold: Hold): void {
    const row: HeldRow = {
      v: 1,
      reason: hold.reason,
      detail: hold.detail,
      device: r.device,
      account: r.account,
      reportId: r.reportId,
      event: e,
      heldAt: g.now,
      attempts: 0,
    }
    const key =
      hold.reason === 'record-missing'
        ? StateKeys.heldMissing(r.device, e.eventId)
        : StateKeys.heldSuspicious(r.device, e.eventId)
    g.ops.push(put(key, row))
    if (hold.reason === 'record-missing') g.missing.push(key)
    g.playsHeld++
    this.stats.playsHeld++
    log('held play %s of device %s: %s (%s)', e.eventId, r.device, hold.reason, hold.detail)
  }

  /**
   * Every play of one track under one licence and contract moves the same amounts: settled once as a template, then
   * the template is added for each further play.
   */
  #template(g: Group, e: StoredEvent, resolved: ResolvedRecords): { key: string; template: PlayTemplate } {
    const contract = contractForPlay(resolved.contract, resolved.newest, e.startedAt)
    const key = `${g.period}|${resolved.licence.id}|${contract.id}|${e.isrc}`
    let template = this.#templates.get(key)
    if (template === undefined) {
      const batch = new SettlementBatch()
      const transfers = new TransferSum()
      const records: PlayRecords = { licence: resolved.licence, offer: resolved.offer, contract }
      const pool = settlePlay(
        e,
        records,
        { period: g.period, feeBps: this.#d.network.body.policy.clearingFeeBps, clearinghouse: this.#d.clearinghouse },
        batch,
        transfers,
      )
      template = { batch, transfers, pool }
      this.#templates.set(key, template)
    }
    return { key, template }
  }

  #settle(g: Group, e: StoredEvent, resolved: ResolvedRecords): void {
    const { key, template } = this.#template(g, e, resolved)
    g.batch.merge(template.batch, e.startedAt, g.templates.has(key))
    g.templates.add(key)
    g.transfers.merge(template.transfers)
    const pool = template.pool
    if (pool !== null) {
      const poolKey = StateKeys.plays(g.period, pool.retailer, pool.currency, pool.contractCid, pool.content)
      const known = g.pool.get(poolKey)
      if (known === undefined) g.pool.set(poolKey, { ...pool, plays: 1 })
      else known.plays++
    }
    // The DSR counts plays per licence, contract version and recording (the contract the play settled under).
    const contract = contractForPlay(resolved.contract, resolved.newest, e.startedAt)
    const tally = StateKeys.dsrPlays(g.period, resolved.licence.id.toString(), contract.id.toString(), e.isrc)
    const counted = g.dsrPlays.get(tally)
    if (counted !== undefined) counted.plays++
    else
      g.dsrPlays.set(tally, {
        v: 1,
        licence: resolved.licence.id.toString(),
        contract: contract.id.toString(),
        isrc: e.isrc,
        plays: 1,
      })
    g.playsSettled++
    this.stats.playsSettled++
  }

  /** Write a group: its own ops, its lines and counters, its journal row — one fsynced batch — then the ledger. */
  async #write(g: Group, kind: string): Promise<void> {
    const m = await this.#d.lines.materialise(g.batch)
    const ops: StoreOp[] = [...g.ops, ...m.ops]
    const poolRows = new Map<string, PlaysRow>()
    if (g.pool.size > 0) {
      const keys = [...g.pool.keys()]
      const rows = await this.#cachedRows(this.#poolRows, playsRow, keys)
      for (const [i, key] of keys.entries()) {
        const add = g.pool.get(key)!
        const before = rows[i]
        const row: PlaysRow =
          before === undefined
            ? {
                v: 1,
                plays: add.plays,
                distributor: add.distributor,
                contractCid: add.contractCid,
                content: add.content,
              }
            : { ...before, plays: before.plays + add.plays }
        poolRows.set(key, row)
        ops.push(put(key, row))
      }
    }
    const usageRows = new Map<string, UsageRow>()
    if (g.usage.size > 0) {
      const keys = [...g.usage.keys()]
      const rows = await this.#cachedRows(this.#usageRows, usageRow, keys)
      for (const [i, key] of keys.entries()) {
        const add = g.usage.get(key)!
        const before = rows[i]
        const first = before?.firstPlayAt ?? null
        const row: UsageRow = {
          v: 1,
          plays: (before?.plays ?? 0) + add.plays,
          playSeconds: (before?.playSeconds ?? 0) + add.playSeconds,
          exports: (before?.exports ?? 0) + add.exports,
          burns: (before?.burns ?? 0) + add.burns,
          firstPlayAt:
            first === null ? add.firstPlayAt : add.firstPlayAt === null ? first : Math.min(first, add.firstPlayAt),
        }
        usageRows.set(key, row)
        ops.push(put(key, row))
      }
    }
    for (const purchaseId of g.touchedUses) ops.push(put(StateKeys.purchaseUse(purchaseId), g.uses.get(purchaseId)!))
    const tallyRows = new Map<string, DsrPlaysRow>()
    if (g.dsrPlays.size > 0) {
      const keys = [...g.dsrPlays.keys()]
      const rows = await this.#cachedRows(this.#tallyRows, dsrPlaysRow, keys)
      for (const [i, key] of keys.entries()) {
        const add = g.dsrPlays.get(key)!
        const row: DsrPlaysRow = { ...add, plays: (rows[i]?.plays ?? 0) + add.plays }
        tallyRows.set(key, row)
        ops.push(put(key, row))
      }
    }
    for (const device of g.touchedDevices) ops.push(put(StateKeys.device(device), g.devices.get(device)!))
    for (const account of g.touchedAccounts) ops.push(put(StateKeys.account(account), g.accounts.get(account)!))
    const planned = g.transfers.list()
    let journalled: { n: number; entry: JournalEntry } | null = null
    if (planned.length > 0 || m.accounts.length > 0) {
      const { n, ops: journalOps, entry } = this.#intent(kind, planned, m.accounts)
      ops.push(...journalOps)
      journalled = { n, entry }
    }
    try {
      await this.#d.store.write(ops, { sync: this.#d.sync })
    } catch (err) {
      if (journalled !== null) this.#d.journal.rewind(journalled.n)
      throw err
    }
    this.#d.lines.commit(m)
    for (const [key, row] of poolRows) this.#poolRows.set(key, row)
    for (const [key, row] of usageRows) this.#usageRows.set(key, row)
    for (const [key, row] of tallyRows) this.#tallyRows.set(key, row)
    for (const purchaseId of g.touchedUses) this.#uses.set(purchaseId, g.uses.get(purchaseId)!)
    for (const device of g.touchedDevices) this.#devices.set(device, g.devices.get(device)!)
    for (const account of g.touchedAccounts) this.#accounts.set(account, g.accounts.get(account)!)
    if (g.missing.length > 0) this.#d.missing()
    if (journalled !== null) {
      // The group is durable from here on: a failure to apply its ledger batch stops the role (the journal keeps the
      // batch for the restart) but does not take back what was stored.
      try {
        const result = await this.#d.journal.apply(journalled.n, journalled.entry, { sync: false })
        if (!result.ok) {
          this.#d.fail(new ClearingFailedError(`the ledger refused the transfers of ${kind} journal ${journalled.n}`))
        }
      } catch (err) {
        this.#d.fail(err as Error)
      }
    }
  }

  /** Rows by key, from `cache` where it has them and from the store for the rest. */
  async #cachedRows<T>(
    cache: Lru<string, T>,
    schema: z.ZodType<T>,
    keys: readonly string[],
  ): Promise<Array<T | undefined>> {
    const out = new Array<T | undefined>(keys.length)
    const misses: string[] = []
    const places: number[] = []
    for (const [i, key] of keys.entries()) {
      const row = cache.get(key)
      if (row !== undefined) out[i] = row
      else {
        misses.push(key)
        places.push(i)
      }
    }
    if (misses.length > 0) {
      const rows = await this.#d.store.getMany(schema, misses)
      for (const [k, i] of places.entries()) out[i] = rows[k]
    }
    return out
  }

  #intent(kind: string, planned: PlannedTransfer[], accounts: AccountInput[]) {
    return this.#d.journal.intent((n) => ({
      kind,
      ref: `group:${n}`,
      accounts,
      transfers: planned.map((t, i) => ({
        kind: 'posted' as const,
        id: `g${n}.${i}`,
        debitAccountId: accountIdOf(t.debit, t.currency),
        creditAccountId: accountIdOf(t.credit, t.currency),
        amount: t.amount,
        code: t.code,
        reference: `group:${n}`,
      })),
      onSuccess: [],
      onFailure: [],
    }))
  }

  // ---- state ------------------------------------------------------------------------------------------------

  async #load(g: Group, items: Pending[]): Promise<void> {
    const devices = [...new Set(items.map((i) => i.report.device))].filter((d) => {
      const cached = this.#devices.get(d)
      if (cached !== undefined) g.devices.set(d, { ...cached })
      return cached === undefined
    })
    const deviceRows = await this.#d.store.getMany(
      deviceRow,
      devices.map((d) => StateKeys.device(d)),
    )
    for (const [i, d] of devices.entries()) if (deviceRows[i] !== undefined) g.devices.set(d, deviceRows[i]!)
    const accounts = [...new Set(items.map((i) => i.report.account))].filter((a) => {
      const cached = this.#accounts.get(a)
      if (cached !== undefined) g.accounts.set(a, { v: 1, devices: cached.devices.map((d) => ({ ...d })) })
      return cached === undefined
    })
    const accountRows = await this.#d.store.getMany(
      accountPlaysRow,
      accounts.map((a) => StateKeys.account(a)),
    )
    for (const [i, a] of accounts.entries()) if (accountRows[i] !== undefined) g.accounts.set(a, accountRows[i]!)
  }

  #device(g: Group, device: string, account: string): DeviceRow {
    let row = g.devices.get(device)
    if (row === undefined) {
      row = emptyDevice(account)
      g.devices.set(device, row)
    }
    return row
  }

  #account(g: Group, account: string): AccountPlaysRow {
    let row = g.accounts.get(account)
    if (row === undefined) {
      row = { v: 1, devices: [] }
      g.accounts.set(account, row)
    }
    return row
  }

  /** The licence, offer and contract in force of every play, or what is missing. */
  async #resolveRecords(events: readonly StoredEvent[]): Promise<Map<string, Resolved>> {
    const out = new Map<string, Resolved>()
    const licenceIds = [
      ...new Set(events.filter((e) => e.kind === 'play' && e.licence !== null).map((e) => e.licence!)),
    ]
    if (licenceIds.length === 0) return out
    const licences = await this.#d.records.getMany('consort/licence', licenceIds)
    const offers = await this.#d.records.getMany(
      'consort/offer',
      [...licences.values()].map((l) => l.body.offer.toString()),
    )
    const contracts = await this.#d.records.getMany(
      'consort/contract',
      [...licences.values()].map((l) => l.body.contract.toString()),
    )
    const inForce = new Map<string, SignedRecord<'consort/contract'> | undefined>()
    for (const c of contracts.values()) {
      if (!inForce.has(c.body.contractId))
        inForce.set(c.body.contractId, await this.#d.records.contractInForce(c.body.contractId))
    }
    for (const id of licenceIds) {
      const licence = licences.get(id)
      if (licence === undefined) {
        out.set(id, { missing: `licence ${id} is not known` })
        continue
      }
      const offer = offers.get(licence.body.offer.toString())
      if (offer === undefined) {
        out.set(id, { missing: `offer ${licence.body.offer} is not known` })
        continue
      }
      const named = contracts.get(licence.body.contract.toString())
      if (named === undefined) {
        out.set(id, { missing: `contract ${licence.body.contract} is not known` })
        continue
      }
      out.set(id, { licence, offer, contract: named, newest: inForce.get(named.body.contractId) })
    }
    return out
  }

  // ---- held plays -------------------------------------------------------------------------------------------

  /**
   * Try again the plays held because a record was missing: fetch what is missing, and settle those that can be now
   * (one journalled batch). Returns how many were settled.
   */
  async retryMissing(limit: number, signal?: AbortSignal): Promise<number> {
    const candidates: Array<[string, HeldRow]> = []
    for await (const entry of this.#d.store.rows(heldRow, StateKeys.heldMissingPrefix, { limit })) {
      candidates.push([entry[0], entry[1]])
    }
    if (candidates.length === 0) return 0
    for (const [, row] of candidates) {
      if (signal?.aborted === true) break
      const licence = await this.#d.records.fetch('consort/licence', row.event.licence!, signal)
      if (licence === undefined) continue
      await this.#d.records.fetch('consort/offer', licence.body.offer.toString(), signal)
      await this.#d.records.fetch('consort/contract', licence.body.contract.toString(), signal)
    }
    return this.#d.serial(async () => {
      const now = this.#d.clock.now()
      const g = new Group(now, periodOf(now))
      const keys = candidates.map(([k]) => k)
      const still = await this.#d.store.getMany(heldRow, keys)
      const records = await this.#resolveRecords(still.filter((r) => r !== undefined).map((r) => r!.event))
      let settled = 0
      for (const [i, key] of keys.entries()) {
        const row = still[i]
        if (row === undefined) continue
        const r: ChainReport = {
          reportId: row.reportId,
          device: row.device,
          account: row.account,
          created: row.heldAt,
          events: [],
        }
        const licensed = this.#licensed(r, row.event, records)
        if (licensed !== null && licensed.reason === 'record-missing') {
          g.ops.push(put(key, { ...row, attempts: row.attempts + 1 }))
          continue
        }
        const hold =
          licensed ?? (await this.#admit(g, row.event, records.get(row.event.licence!) as ResolvedRecords, row.account))
        g.ops.push(del(key))
        if (hold !== null) {
          g.ops.push(
            put(StateKeys.heldSuspicious(row.device, row.event.eventId), {
              ...row,
              reason: hold.reason,
              detail: hold.detail,
            }),
          )
          continue
        }
        this.#settle(g, row.event, records.get(row.event.licence!) as ResolvedRecords)
        settled++
      }
      await this.#write(g, 'release')
      return settled
    })
  }

  /**
   * A reviewer's verdict on a play held as suspicious: `approve` settles it (if its licence checks out; a missing
   * record moves it to the retried plays), `reject` drops it for good (its event id stays spent).
   */
  async review(
    device: string,
    eventId: string,
    verdict: 'approve' | 'reject',
  ): Promise<'settled' | 'rejected' | 'held'> {
    return this.#d.serial(async () => {
      const key = StateKeys.heldSuspicious(device, eventId)
      const row = await this.#d.store.get(heldRow, key)
      if (row === undefined) throw new NotFoundError(`no held play ${eventId} of device ${device}`)
      const now = this.#d.clock.now()
      const g = new Group(now, periodOf(now))
      g.ops.push(del(key))
      if (verdict === 'reject') {
        await this.#write(g, 'reject')
        return 'rejected'
      }
      const records = await this.#resolveRecords([row.event])
      const r: ChainReport = {
        reportId: row.reportId,
        device: row.device,
        account: row.account,
        created: now,
        events: [],
      }
      const licensed = this.#licensed(r, row.event, records)
      const hold =
        licensed ?? (await this.#admit(g, row.event, records.get(row.event.licence!) as ResolvedRecords, row.account))
      if (hold !== null) {
        const target =
          hold.reason === 'record-missing'
            ? StateKeys.heldMissing(device, eventId)
            : StateKeys.heldSuspicious(device, eventId)
        g.ops.push(put(target, { ...row, reason: hold.reason, detail: hold.detail }))
        await this.#write(g, 'review')
        return 'held'
      }
      this.#settle(g, row.event, records.get(row.event.licence!) as ResolvedRecords)
      await this.#write(g, 'approve')
      return 'settled'
    })
  }

  /** Held plays, a page at a time (`missing`: waiting for records; `suspicious`: waiting for review). */
  async listHeld(
    which: 'missing' | 'suspicious',
    limit: number,
    after?: string,
  ): Promise<Array<{ key: string; row: HeldRow }>> {
    const prefix = which === 'missing' ? StateKeys.heldMissingPrefix : StateKeys.heldSuspiciousPrefix
    const out: Array<{ key: string; row: HeldRow }> = []
    for await (const [key, row] of this.#d.store.rows(heldRow, prefix, {
      limit,
      ...(after !== undefined ? { gt: after } : {}),
    })) {
      out.push({ key, row })
    }
    return out
  }

  /** What this clearinghouse acknowledged of a device's usage: its chain head and, per purchase, its uses. */
  async usageState(device: string, limit: number) {
    const row = this.#devices.get(device) ?? (await this.#d.store.get(deviceRow, StateKeys.device(device)))
    const licences: Array<{ purchaseId: string } & Omit<UsageRow, 'v'>> = []
    const prefix = StateKeys.usagePrefix(device)
    for await (const [key, u] of this.#d.store.rows(usageRow, prefix, { limit })) {
      licences.push({
        purchaseId: key.slice(prefix.length),
        plays: u.plays,
        playSeconds: u.playSeconds,
        exports: u.exports,
        burns: u.burns,
        firstPlayAt: u.firstPlayAt,
      })
    }
    return {
      lastReport: row === undefined || row.head === null ? null : { seq: row.next - 1, id: row.head },
      licences,
    }
  }

  /** Forget cached state (after a failure: the disk is the truth). */
  reset(): void {
    this.#templates.clear()
    this.#uses.clear()
    this.#usageRows.clear()
    this.#tallyRows.clear()
    this.#poolRows.clear()
    this.#devices.clear()
    this.#accounts.clear()
    this.#d.lines.reset()
  }
}

/** The settlement of one play of a track under a licence and contract, in a period. */
interface PlayTemplate {
  batch: SettlementBatch
  transfers: TransferSum
  pool: PoolCount | null
}

/** Play templates kept: one per (licence, contract, track) in play. */
const TEMPLATE_CACHE_ENTRIES = 16_384

type ResolvedRecords = PlayRecords & { newest: SignedRecord<'consort/contract'> | undefined }
type Resolved = ResolvedRecords | { missing: string }

export type { HoldReason, Resolved as ResolvedPlay }
