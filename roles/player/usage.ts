import { logger } from '@libp2p/logger'
import { SealSession } from '../../keys/seal.ts'
import { ClearinghouseSealVersions } from '../../protocols/clearing/versions.ts'
import { isError } from '../../protocols/errors.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import { RpcRemoteError } from '../../protocols/rpc/errors.ts'
import type { UsageEvent } from '../../protocols/usage/index.ts'
import { fetchBalance } from './account-requests.ts'
import {
  DEFAULT_FLUSH_INTERVAL_MS,
  FLUSH_AFTER_USE_MS,
  MAX_PENDING_REPORTS,
  MAX_REPORTS_PER_FLUSH,
  SYNC_DEADLINE_MS,
} from './constants.ts'
import type { PlayerCore } from './core.ts'
import type { DeviceRegistration } from './device.ts'
import { ENTRY_KINDS } from './entries.ts'
import { ClearinghouseUnavailableError } from './errors.ts'
import type { PendingReport } from './library.ts'
import { buildReport, eventsBudget, sendReport, takeForReport } from './reports.ts'
import type { FlushResult } from './types.ts'

/**
 * Usage reporting: the outbox of events on their way to the clearinghouses. A flush builds reports from the events
 * ready to report (each logged before it is sent), sends each to the clearinghouses in turn until one acknowledges
 * it, gossips it on `usage`, and — once nothing is left to deliver and a clearinghouse answered — gives the licences
 * the rules' `sync` action, which restarts their offline window. Flushes run one at a time: periodically, shortly
 * after a use, and when asked.
 */

const log = logger('consort:player:usage')

export class UsageReporter {
  readonly #core: PlayerCore
  readonly #device: DeviceRegistration
  #flushing: Promise<FlushResult> | null = null
  #timer: ReturnType<typeof setInterval> | undefined
  #soonTimer: ReturnType<typeof setTimeout> | undefined
  /** One ephemeral sealing key for a while (decision 0513), in memory only: a restart starts a new one. */
  readonly #sealing: SealSession
  /** The box version each clearinghouse announced it opens on the connections open to it (decision 0518). */
  readonly #versions: ClearinghouseSealVersions

  /** Run after each flush: delivery receipts travel with the usage (decision 0511). */
  readonly #alongside: (() => Promise<unknown>) | undefined

  constructor(core: PlayerCore, device: DeviceRegistration, alongside?: () => Promise<unknown>) {
    this.#alongside = alongside
    this.#core = core
    this.#device = device
    this.#sealing = new SealSession({ random: core.components.random, now: () => core.now() })
    this.#versions = new ClearinghouseSealVersions(core.components.libp2p, core.components.network)
  }

  /** Listen to what clearinghouses announce, and start the periodic flush (`flushIntervalMs`; none when 0). */
  start(): void {
    this.#versions.start()
    const interval = this.#core.init.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS
    if (interval <= 0) return
    this.#timer = setInterval(() => {
      this.flush().catch((err) => log('periodic flush: %s', (err as Error).message))
    }, interval)
    this.#timer.unref?.()
  }

  /** Stop the timers and listeners (first thing at stop: no flush starts after it). */
  stopTimers(): void {
    this.#versions.stop()
    clearInterval(this.#timer)
    clearTimeout(this.#soonTimer)
    this.#soonTimer = undefined
  }

  /** Wait for a flush under way, if any (last thing at stop). */
  async settle(): Promise<void> {
    await this.#flushing?.catch(() => {})
  }

  /** Usage events: waiting (open, ready, reported) and the most recent acknowledged ones. */
  list(): { pending: Array<UsageEvent & { status: string; report: number | null }>; acknowledged: UsageEvent[] } {
    const library = this.#core.library
    return {
      pending: [...library.events.values()].map((t) => ({ ...t.event, status: t.status, report: t.report })),
      acknowledged: [...library.history].reverse(),
    }
  }

  /**
   * Flush shortly after a use: soon enough that reports travel while the listener is online, late enough not to
   * compete with whatever the listener does next (several uses in a row share one flush).
   */
  soon(): void {
    if (!this.#core.running || this.#soonTimer !== undefined) return
    this.#soonTimer = setTimeout(() => {
      this.#soonTimer = undefined
      if (!this.#core.running) return
      this.flush().catch((err) => log('flush after use: %s', (err as Error).message))
    }, FLUSH_AFTER_USE_MS)
    this.#soonTimer.unref?.()
  }

  /**
   * Deliver the outbox: build reports from the events ready to report (logged before they are sent), send each
   * to the clearinghouses until one acknowledges it, gossip it on `usage`, and sync the licences that have nothing
   * left to deliver. With nothing to deliver, a clearinghouse that answers is enough to sync. One flush at a time.
   */
  async flush(options: { signal?: AbortSignal } = {}): Promise<FlushResult> {
    // A flush already under way may have started before the latest events were ready: wait for it, then run anew.
    while (this.#flushing !== null) await this.#flushing.catch(() => {})
    const flush = this.#flush(options.signal)
      .then(async (result) => {
        await this.#alongside?.().catch((err) => log('delivery receipts: %s', (err as Error).message))
        return result
      })
      .finally(() => {
        if (this.#flushing === flush) this.#flushing = null
      })
    this.#flushing = flush
    return await flush
  }

  async #flush(signal?: AbortSignal): Promise<FlushResult> {
    const core = this.#core
    const result: FlushResult = {
      built: 0,
      sent: 0,
      acknowledged: 0,
      pendingReports: 0,
      readyEvents: 0,
      synced: [],
      errors: [],
    }
    await core.checkStore()
    const clearinghouses = core.components.network.body.clearinghouses
    if (clearinghouses.length === 0) throw new ClearinghouseUnavailableError('the network lists no clearinghouse')
    const device = this.#device.current() ?? (await this.#device.ensure())
    result.built = await core.exclusive(() => this.#build())
    const pending = [...core.library.reports.values()].sort((a, b) => a.seq - b.seq).slice(0, MAX_REPORTS_PER_FLUSH)
    let contacted = false
    for (const report of pending) {
      const delivered = await this.#deliver(report, device, result, signal)
      if (delivered !== 'unanswered') contacted = true
      if (delivered !== 'acknowledged') break
    }
    if (pending.length === 0) contacted = await this.#reconnect(result, signal)
    if (contacted && core.library.reports.size === 0) {
      await core.exclusive(async () => {
        const inSync = core.library.licencesInSync()
        if (inSync.length === 0) return
        await core.commit([{ kind: ENTRY_KINDS.sync, data: { purchaseIds: inSync } }])
        result.synced = inSync
      })
    }
    result.pendingReports = core.library.reports.size
    result.readyEvents = core.library.readyEvents().length
    return result
  }

  /** Build reports from the events ready now (the caller holds the lock); returns how many were built. */
  async #build(): Promise<number> {
    const core = this.#core
    const c = core.components
    const budget = eventsBudget(c.network)
    let built = 0
    while (core.library.reports.size < MAX_PENDING_REPORTS) {
      const ready = core.library.readyEvents(core.now())
      if (ready.length === 0) break
      const events = takeForReport(ready, budget)
      const last = core.library.lastReport
      const seq = last === null ? 0 : last.seq + 1
      const record = buildReport({
        network: c.network,
        device: c.keys.signer,
        account: core.library.account ?? core.account.signer.publicKey,
        seq,
        prev: last?.id ?? null,
        events,
        now: core.now(),
        random: c.random,
        session: this.#sealing,
        // Each clearinghouse's box in the newest version it announced it opens; version 1 to one not heard from.
        sealVersion: (clearinghouse) => this.#versions.sealVersion(clearinghouse.key),
      })
      await core.commit([
        { kind: ENTRY_KINDS.report, data: { seq, record: record.bytes, events: events.map((e) => e.eventId) } },
      ])
      built++
    }
    return built
  }

  /**
   * Send one report to the clearinghouses in turn until one acknowledges it, then gossip it. Answers whether it was
   * acknowledged, refused by every clearinghouse that answered (`answered`), or not answered at all.
   */
  async #deliver(
    report: PendingReport,
    device: SignedRecord<'consort/device'>,
    result: FlushResult,
    signal: AbortSignal | undefined,
  ): Promise<'acknowledged' | 'answered' | 'unanswered'> {
    const core = this.#core
    const c = core.components
    const licences = this.#licencesOf(report.events)
    let outcome: 'acknowledged' | 'answered' | 'unanswered' = 'unanswered'
    for (const clearinghouse of c.network.body.clearinghouses) {
      if (signal?.aborted === true) break
      result.sent++
      try {
        const { status, unpaid } = await sendReport(
          c.libp2p,
          c.network,
          clearinghouse.key,
          report.record,
          device,
          signal,
          licences,
          this.#versions,
        )
        outcome = 'answered'
        for (const u of unpaid) log('report %d: play %s not paid: %s', report.seq, u.eventId, u.reason)
        await core.exclusive(() =>
          core.commit([{ kind: ENTRY_KINDS.ack, data: { seq: report.seq, clearinghouse: clearinghouse.key, status } }]),
        )
        result.acknowledged++
        core.events.dispatchEvent(
          new CustomEvent('usage:acknowledged', {
            detail: { seq: report.seq, status, clearinghouse: clearinghouse.name },
          }),
        )
        outcome = 'acknowledged'
        break
      } catch (err) {
        if (isError(err, RpcRemoteError)) outcome = 'answered'
        result.errors.push(`${clearinghouse.name}: report ${report.seq}: ${(err as Error).message}`)
      }
    }
    // Gossiped after the direct delivery, which carries the licences: the clearinghouse that acknowledges it bounds
    // its plays at once; the others learn it from the topic (and the licences by CID).
    c.topics
      .publish('usage', report.record, [device])
      .catch((err) => log('gossip of report %d: %s', report.seq, err.message))
    return outcome
  }

  /** Nothing to deliver: one clearinghouse that answers is the reconnection the offline rule asks for. */
  async #reconnect(result: FlushResult, signal: AbortSignal | undefined): Promise<boolean> {
    const core = this.#core
    const c = core.components
    for (const clearinghouse of c.network.body.clearinghouses) {
      try {
        await fetchBalance(c.libp2p, c.network, clearinghouse.key, core.account.signer, {
          now: core.now(),
          random: c.random,
          deadlineMs: SYNC_DEADLINE_MS,
          ...(signal !== undefined ? { signal } : {}),
        })
        return true
      } catch (err) {
        if (isError(err, RpcRemoteError)) return true
        result.errors.push(`${clearinghouse.name}: ${(err as Error).message}`)
      }
    }
    return false
  }

  /** The licences the events of a report were used under (sent with it, so that its plays are bounded at once). */
  #licencesOf(eventIds: readonly string[]): SignedRecord<'consort/licence'>[] {
    const library = this.#core.library
    const out = new Map<string, SignedRecord<'consort/licence'>>()
    for (const eventId of eventIds) {
      const purchaseId = library.events.get(eventId)?.event.purchaseId
      const held = purchaseId == null ? undefined : library.licences.get(purchaseId)
      if (held !== undefined) out.set(held.record.id.toString(), held.record)
    }
    return [...out.values()]
  }
}
