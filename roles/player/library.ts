import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { toHex } from '../../keys/hex.ts'
import { type PurchaseOrder, purchaseOrder } from '../../protocols/purchase/order.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import type { UsageEvent } from '../../protocols/usage/index.ts'
import {
  evaluate,
  initialLicenceState,
  maxUsageState,
  type NetworkRuleDefaults,
  type ResolvedRules,
  licenceRules as rulesOfLicence,
  type UsageAction,
  type UsageState,
} from '../../protocols/usage-rules/index.ts'
import { MAX_TRACKED_PURCHASES, MAX_USAGE_HISTORY } from './constants.ts'
import { ENTRY_DATA, ENTRY_KINDS, inconsistent as fail, parseEntryData as parse } from './entries.ts'
import type { LogEntry, NewEntry } from './log.ts'

/**
 * What the player's log adds up to: the licences this device holds and their usage counters, the usage events
 * and where each stands on its way to the clearinghouses, the chain of usage reports, and pending purchases.
 * `apply` folds one verified log entry in; it re-runs the shared rules function for every use, so a log that
 * records a use the rules would not allow does not load. The entry kinds and their data are listed in README.md.
 */

export interface HeldLicence {
  readonly purchaseId: string
  readonly record: SignedRecord<'consort/licence'>
  readonly receipt: Uint8Array | null
  readonly rules: ResolvedRules
  state: UsageState
  readonly addedAt: number
}

export type EventStatus = 'open' | 'ready' | 'reported' | 'acknowledged'

export interface TrackedEvent {
  event: UsageEvent
  status: EventStatus
  /** The report (seq) that carries it, once reported. */
  report: number | null
}

export interface PendingReport {
  readonly seq: number
  readonly record: SignedRecord<'consort/usage'>
  readonly events: readonly string[]
  readonly createdAt: number
  /** Clearinghouses (hex keys) that acknowledged it, and how. */
  readonly acks: Map<string, 'settled' | 'held' | 'duplicate'>
}

export interface TrackedPurchase {
  readonly purchaseId: string
  readonly offer: CID
  readonly certification: CID
  readonly content: readonly string[]
  readonly order: PurchaseOrder
  status: 'pending' | 'failed' | 'complete'
  failure: { code: string; message: string } | null
  readonly createdAt: number
}

export interface LibraryContext {
  /** Decode and verify a record stored in the log. */
  decode<T extends RecordType>(type: T, bytes: Uint8Array): SignedRecord<T>
  ruleDefaults: NetworkRuleDefaults
}

/** The rules a licence is used under (the shared reading of `protocols/usage-rules/licence.ts`). */
export function licenceRules(record: SignedRecord<'consort/licence'>, defaults: NetworkRuleDefaults): ResolvedRules {
  return rulesOfLicence(record.body, defaults)
}

export class Library {
  readonly #ctx: LibraryContext
  device: Uint8Array | null = null
  account: Uint8Array | null = null
  deviceRecord: SignedRecord<'consort/device'> | null = null
  readonly licences = new Map<string, HeldLicence>()
  /** Events not yet acknowledged, by id. */
  readonly events = new Map<string, TrackedEvent>()
  /** Acknowledged events, most recent last, bounded. */
  readonly history: UsageEvent[] = []
  /** Reports built and not yet acknowledged by any clearinghouse, by seq. */
  readonly reports = new Map<number, PendingReport>()
  lastReport: { seq: number; id: CID } | null = null
  readonly purchases = new Map<string, TrackedPurchase>()
  /** Entries folded in since the log was opened or compacted. */
  entries = 0
  /**
   * The latest time this store has evidence of: its entries' times (written on a clock that never went back) and the
   * signed times of its licences (the registrar's `created`, the clearinghouse statement's `asOf`). The player never
   * evaluates a rule at an earlier time, so setting the device's clock back regains nothing (issue 11).
   */
  timeFloor = 0

  constructor(ctx: LibraryContext) {
    this.#ctx = ctx
  }

  /** Fold one verified entry in. Throws `LibraryInconsistencyError` when the entry cannot follow the ones before. */
  apply(entry: LogEntry): void {
    this.entries++
    if (entry.at > this.timeFloor) this.timeFloor = entry.at
    switch (entry.kind) {
      case ENTRY_KINDS.genesis: {
        const data = parse(ENTRY_DATA.genesis, entry)
        if (this.device !== null) fail(entry, 'a second genesis')
        this.device = data.device
        this.account = data.account
        return
      }
      case ENTRY_KINDS.device: {
        const { record } = parse(ENTRY_DATA.device, entry)
        const device = this.#decode(entry, 'consort/device', record)
        if (this.device === null || toHex(device.body.device) !== toHex(this.device)) fail(entry, 'another device')
        this.deviceRecord = device
        this.account = device.body.account
        return
      }
      case ENTRY_KINDS.purchase: {
        const data = parse(ENTRY_DATA.purchase, entry)
        const order = this.#order(entry, data.order)
        this.#trackPurchase({
          purchaseId: data.purchaseId,
          offer: data.offer,
          certification: data.certification,
          content: data.content,
          order,
          status: 'pending',
          failure: null,
          createdAt: entry.at,
        })
        return
      }
      case ENTRY_KINDS.purchaseFailed: {
        const data = parse(ENTRY_DATA.purchaseFailed, entry)
        const purchase = this.purchases.get(data.purchaseId)
        if (purchase === undefined) fail(entry, `unknown purchase ${data.purchaseId}`)
        purchase.status = 'failed'
        purchase.failure = { code: data.code, message: data.message }
        return
      }
      case ENTRY_KINDS.licence: {
        const data = parse(ENTRY_DATA.licence, entry)
        const record = this.#decode(entry, 'consort/licence', data.licence)
        if (this.device === null || toHex(record.body.device) !== toHex(this.device))
          fail(entry, 'a licence for another device')
        const purchaseId = record.body.purchaseId
        const known = this.licences.get(purchaseId)
        // A licence starts from the uses its purchase had consumed when it was signed (`used`, on a reissue), and
        // never gives back a use this store counted.
        const fromLicence = initialLicenceState(record.body)
        this.licences.set(purchaseId, {
          purchaseId,
          record,
          receipt: data.receipt ?? known?.receipt ?? null,
          rules: licenceRules(record, this.#ctx.ruleDefaults),
          state: known === undefined ? fromLicence : maxUsageState(known.state, fromLicence),
          addedAt: known?.addedAt ?? entry.at,
        })
        this.#signedTime(record)
        const purchase = this.purchases.get(purchaseId)
        if (purchase !== undefined) purchase.status = 'complete'
        return
      }
      case ENTRY_KINDS.use: {
        const data = parse(ENTRY_DATA.use, entry)
        const held = this.licences.get(data.purchaseId)
        if (held === undefined) fail(entry, `no licence for purchase ${data.purchaseId}`)
        const decision = evaluate(held.rules, held.state, data.action as UsageAction, entry.at)
        if (!decision.allow) fail(entry, `the rules deny it: ${decision.reason.code}`)
        if (data.action.kind === 'play-seconds') {
          const tracked = data.eventId === null ? undefined : this.events.get(data.eventId)
          if (tracked === undefined || tracked.status !== 'open') fail(entry, 'play-seconds of no open play')
          tracked.event = { ...tracked.event, seconds: tracked.event.seconds + data.action.seconds }
        } else {
          const event = data.event
          if (event === null || event.kind !== data.action.kind || event.purchaseId !== data.purchaseId) {
            fail(entry, 'a use without its event')
          }
          if (this.events.has(event.eventId)) fail(entry, `event ${event.eventId} repeats`)
          this.events.set(event.eventId, {
            event,
            status: event.kind === 'play' ? 'open' : 'ready',
            report: null,
          })
        }
        held.state = decision.state
        return
      }
      case ENTRY_KINDS.end: {
        const { eventId } = parse(ENTRY_DATA.end, entry)
        const tracked = this.events.get(eventId)
        if (tracked === undefined || tracked.status !== 'open') fail(entry, `no open event ${eventId}`)
        tracked.status = 'ready'
        return
      }
      case ENTRY_KINDS.preview: {
        const { event } = parse(ENTRY_DATA.preview, entry)
        if (this.events.has(event.eventId)) fail(entry, `event ${event.eventId} repeats`)
        this.events.set(event.eventId, { event, status: 'ready', report: null })
        return
      }
      case ENTRY_KINDS.report: {
        const data = parse(ENTRY_DATA.report, entry)
        const record = this.#decode(entry, 'consort/usage', data.record)
        const expectedSeq = this.lastReport === null ? 0 : this.lastReport.seq + 1
        if (data.seq !== expectedSeq || record.body.seq !== data.seq) fail(entry, `report ${data.seq} out of order`)
        const prev = record.body.prev ?? null
        if ((prev === null) !== (this.lastReport === null) || (prev !== null && !prev.equals(this.lastReport!.id))) {
          fail(entry, `report ${data.seq} does not link to the previous one`)
        }
        for (const eventId of data.events) {
          const tracked = this.events.get(eventId)
          if (tracked === undefined || tracked.status !== 'ready') fail(entry, `event ${eventId} is not ready`)
          tracked.status = 'reported'
          tracked.report = data.seq
        }
        this.reports.set(data.seq, {
          seq: data.seq,
          record,
          events: data.events,
          createdAt: entry.at,
          acks: new Map(),
        })
        this.lastReport = { seq: data.seq, id: record.id }
        return
      }
      case ENTRY_KINDS.ack: {
        const data = parse(ENTRY_DATA.ack, entry)
        const report = this.reports.get(data.seq)
        if (report === undefined) return // acknowledged again by another clearinghouse after it was done: nothing to do
        report.acks.set(toHex(data.clearinghouse), data.status)
        for (const eventId of report.events) {
          const tracked = this.events.get(eventId)
          if (tracked === undefined) continue
          this.events.delete(eventId)
          this.history.push(tracked.event)
        }
        if (this.history.length > MAX_USAGE_HISTORY) this.history.splice(0, this.history.length - MAX_USAGE_HISTORY)
        this.reports.delete(data.seq)
        return
      }
      case ENTRY_KINDS.sync: {
        const { purchaseIds } = parse(ENTRY_DATA.sync, entry)
        for (const purchaseId of purchaseIds) {
          const held = this.licences.get(purchaseId)
          if (held === undefined) fail(entry, `no licence for purchase ${purchaseId}`)
          const decision = evaluate(held.rules, held.state, { kind: 'sync' }, entry.at)
          if (!decision.allow) fail(entry, `sync denied: ${decision.reason.code}`)
          held.state = decision.state
        }
        return
      }
      case ENTRY_KINDS.restore: {
        const data = parse(ENTRY_DATA.restore, entry)
        const held = this.licences.get(data.purchaseId)
        if (held === undefined) fail(entry, `no licence for purchase ${data.purchaseId}`)
        held.state = data.state
        return
      }
      case ENTRY_KINDS.snapshot: {
        this.#loadSnapshot(entry)
        return
      }
      case ENTRY_KINDS.clock: {
        parse(ENTRY_DATA.clock, entry)
        return
      }
      default:
        fail(entry, 'unknown kind')
    }
  }

  /** Licences that hold a key for this ISRC, oldest first. */
  licencesFor(isrc: string): HeldLicence[] {
    return [...this.licences.values()]
      .filter((l) => l.record.body.keys.some((k) => k.isrc === isrc))
      .sort((a, b) => a.addedAt - b.addedAt)
  }

  /**
   * Events ready to report at `now`, oldest first. A play or preview is reported only once it could have been heard
   * in real time (`startedAt + seconds` has passed): audio decrypted faster than it plays (into a file, or buffered
   * by a browser) is not reported as played before it could have been, which clearinghouses hold as suspicious.
   */
  readyEvents(now: number = Number.MAX_SAFE_INTEGER): UsageEvent[] {
    return [...this.events.values()]
      .filter((t) => t.status === 'ready' && t.event.startedAt + t.event.seconds * 1000 <= now)
      .map((t) => t.event)
      .sort((a, b) => a.startedAt - b.startedAt || a.eventId.localeCompare(b.eventId))
  }

  openEvents(): TrackedEvent[] {
    return [...this.events.values()].filter((t) => t.status === 'open')
  }

  /** Licences with nothing waiting to be delivered (every event of theirs acknowledged, or still playing). */
  licencesInSync(): string[] {
    const waiting = new Set<string>()
    for (const tracked of this.events.values()) {
      if (tracked.status !== 'open' && tracked.event.purchaseId !== null) waiting.add(tracked.event.purchaseId)
    }
    return [...this.licences.keys()].filter((p) => !waiting.has(p))
  }

  /** The log entries that rebuild this state, for compaction (one `snapshot`) and for a fresh chain. */
  snapshot(): NewEntry {
    return {
      kind: ENTRY_KINDS.snapshot,
      data: {
        device: this.device,
        account: this.account,
        deviceRecord: this.deviceRecord?.bytes ?? null,
        licences: [...this.licences.values()].map((l) => ({
          licence: l.record.bytes,
          receipt: l.receipt,
          state: l.state,
          addedAt: l.addedAt,
        })),
        events: [...this.events.values()].map((t) => ({ event: t.event, status: t.status, report: t.report })),
        reports: [...this.reports.values()].map((r) => ({
          seq: r.seq,
          record: r.record.bytes,
          events: [...r.events],
          createdAt: r.createdAt,
        })),
        lastReport: this.lastReport,
        purchases: [...this.purchases.values()]
          .filter((p) => p.status !== 'complete')
          .map((p) => ({
            purchaseId: p.purchaseId,
            offer: p.offer,
            certification: p.certification,
            content: [...p.content],
            order: dagCbor.encode(p.order),
            status: p.status,
            failure: p.failure,
            createdAt: p.createdAt,
          })),
      },
    }
  }

  #loadSnapshot(entry: LogEntry): void {
    // (the snapshot's own time moved the floor already; what it replaced had no later time)
    const data = parse(ENTRY_DATA.snapshot, entry)
    this.device = data.device
    this.account = data.account
    this.deviceRecord = data.deviceRecord === null ? null : this.#decode(entry, 'consort/device', data.deviceRecord)
    this.licences.clear()
    for (const l of data.licences) {
      const record = this.#decode(entry, 'consort/licence', l.licence)
      this.#signedTime(record)
      this.licences.set(record.body.purchaseId, {
        purchaseId: record.body.purchaseId,
        record,
        receipt: l.receipt,
        rules: licenceRules(record, this.#ctx.ruleDefaults),
        state: l.state,
        addedAt: l.addedAt,
      })
    }
    this.events.clear()
    for (const e of data.events)
      this.events.set(e.event.eventId, { event: e.event, status: e.status, report: e.report })
    this.reports.clear()
    for (const r of data.reports) {
      this.reports.set(r.seq, {
        seq: r.seq,
        record: this.#decode(entry, 'consort/usage', r.record),
        events: r.events,
        createdAt: r.createdAt,
        acks: new Map(),
      })
    }
    this.lastReport = data.lastReport
    this.purchases.clear()
    for (const p of data.purchases) {
      this.#trackPurchase({
        purchaseId: p.purchaseId,
        offer: p.offer,
        certification: p.certification,
        content: p.content,
        order: this.#order(entry, p.order),
        status: p.status,
        failure: p.failure,
        createdAt: p.createdAt,
      })
    }
    this.entries = 1
  }

  /** A licence's signed times move the floor: its issue, and the consumption statement it carries. */
  #signedTime(record: SignedRecord<'consort/licence'>): void {
    this.timeFloor = Math.max(this.timeFloor, record.body.created, record.body.used?.asOf ?? 0)
  }

  #decode<T extends RecordType>(entry: LogEntry, type: T, bytes: Uint8Array): SignedRecord<T> {
    try {
      return this.#ctx.decode(type, bytes)
    } catch (err) {
      fail(entry, `${type}: ${(err as Error).message}`)
    }
  }

  #order(entry: LogEntry, bytes: Uint8Array): PurchaseOrder {
    let value: unknown
    try {
      value = dagCbor.decode(bytes)
    } catch (err) {
      fail(entry, `order: ${(err as Error).message}`)
    }
    const result = purchaseOrder.safeParse(value)
    if (!result.success) fail(entry, `order: ${result.error.issues[0]?.message ?? 'invalid'}`)
    return result.data
  }

  #trackPurchase(purchase: TrackedPurchase): void {
    this.purchases.set(purchase.purchaseId, purchase)
    if (this.purchases.size <= MAX_TRACKED_PURCHASES) return
    // Forget the oldest purchase that is no longer pending (completed ones live on as licences).
    for (const [id, p] of this.purchases) {
      if (p.status !== 'pending') {
        this.purchases.delete(id)
        return
      }
    }
  }
}
