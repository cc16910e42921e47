import { CID } from 'multiformats/cid'
import type { UsageStateResponse } from '../../protocols/clearing/index.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import type { UsageEvent } from '../../protocols/usage/index.ts'
import { initialUsageState, maxUsageState, type UsageState } from '../../protocols/usage-rules/index.ts'
import { ENTRY_KINDS } from './entries.ts'
import type { SalvagedEntry } from './log.ts'

/**
 * What a damaged store still proves. Every entry that carries a valid device signature was written by this device,
 * whatever happened to the chain around it, so it is evidence of a use that happened; a deleted entry is evidence
 * lost. `salvageEvidence` folds the surviving entries in order, without the rules (they may not hold across the
 * gaps), into the most the survivors prove: the purchases, the counters (a lower bound on the real use, never
 * reset below what any surviving entry shows), the usage events not yet acknowledged and the reports not yet
 * acknowledged, and the position of the usage report chain. See README.md ("Resynchronisation").
 */

export interface Evidence {
  purchaseIds: Set<string>
  /** Receipts kept with licences, by purchase id. */
  receipts: Map<string, Uint8Array>
  /** Counters by purchase id. */
  states: Map<string, UsageState>
  /** Events not acknowledged, by id. Open plays are closed (the playback they belonged to is over). */
  events: Map<string, { event: UsageEvent; report: number | null }>
  /** Reports built and not acknowledged, by seq. */
  reports: Map<number, { record: Uint8Array; events: string[]; createdAt: number }>
  lastReport: { seq: number; id: CID } | null
  /** Entries that verified, and how many of them sat in an unbroken chain. */
  entries: number
  chained: number
}

type Decode = <T extends RecordType>(type: T, bytes: Uint8Array) => SignedRecord<T>

const isMap = (v: unknown): v is Record<string, unknown> => v != null && typeof v === 'object' && !Array.isArray(v)

/** Fold what survived. `device` is this device's key (licences for others are ignored). */
export function salvageEvidence(entries: readonly SalvagedEntry[], decode: Decode, device: Uint8Array): Evidence {
  const evidence: Evidence = {
    purchaseIds: new Set(),
    receipts: new Map(),
    states: new Map(),
    events: new Map(),
    reports: new Map(),
    lastReport: null,
    entries: entries.length,
    chained: entries.filter((e) => e.chained).length,
  }
  const stateOf = (purchaseId: string, at: number): UsageState => {
    let state = evidence.states.get(purchaseId)
    if (state === undefined) {
      state = initialUsageState(at)
      evidence.states.set(purchaseId, state)
    }
    return state
  }
  const update = (purchaseId: string, at: number, change: (s: UsageState) => UsageState) => {
    const next = change(stateOf(purchaseId, at))
    // `firstPlayAt` must be null exactly when no play has been counted (counters restored across gaps may lack it)
    evidence.states.set(purchaseId, {
      ...next,
      firstPlayAt: next.plays === 0 ? null : (next.firstPlayAt ?? at),
    })
  }
  const noteReport = (seq: number, record: Uint8Array, events: string[], createdAt: number) => {
    try {
      const usage = decode('consort/usage', record)
      if (Buffer.compare(usage.body.device, device) !== 0) return
      evidence.reports.set(seq, { record, events, createdAt })
      if (evidence.lastReport === null || seq > evidence.lastReport.seq) evidence.lastReport = { seq, id: usage.id }
      for (const eventId of events) {
        const known = evidence.events.get(eventId)
        if (known !== undefined) known.report = seq
      }
    } catch {
      // an undecodable report proves nothing
    }
  }

  /** Plays whose start was seen (by event id), so that their seconds do not count them twice. */
  const startedPlays = new Set<string>()
  for (const entry of entries) {
    const data = entry.data
    if (!isMap(data)) continue
    try {
      switch (entry.kind) {
        case ENTRY_KINDS.licence: {
          const licence = decode('consort/licence', data.licence as Uint8Array)
          if (Buffer.compare(licence.body.device, device) !== 0) break
          const purchaseId = licence.body.purchaseId
          evidence.purchaseIds.add(purchaseId)
          if (data.receipt instanceof Uint8Array) evidence.receipts.set(purchaseId, data.receipt)
          stateOf(purchaseId, licence.body.created)
          break
        }
        case ENTRY_KINDS.purchase:
          if (typeof data.purchaseId === 'string') evidence.purchaseIds.add(data.purchaseId)
          break
        case ENTRY_KINDS.use: {
          const purchaseId = data.purchaseId as string
          const action = data.action as { kind: string; seconds?: number }
          if (typeof purchaseId !== 'string' || !isMap(action)) break
          evidence.purchaseIds.add(purchaseId)
          if (action.kind === 'play') {
            if (typeof (data.event as UsageEvent | null)?.eventId === 'string') {
              startedPlays.add((data.event as UsageEvent).eventId)
            }
            update(purchaseId, entry.at, (s) => ({
              ...s,
              plays: s.plays + 1,
              firstPlayAt: s.firstPlayAt === null ? entry.at : Math.min(s.firstPlayAt, entry.at),
            }))
          } else if (action.kind === 'play-seconds' && typeof action.seconds === 'number') {
            const seconds = action.seconds
            update(purchaseId, entry.at, (s) => ({ ...s, playSeconds: s.playSeconds + seconds }))
            // Seconds of a play whose start entry is gone still prove that play was started.
            if (typeof data.eventId === 'string' && !startedPlays.has(data.eventId)) {
              startedPlays.add(data.eventId)
              update(purchaseId, entry.at, (s) => ({
                ...s,
                plays: s.plays + 1,
                firstPlayAt: s.firstPlayAt === null ? entry.at : Math.min(s.firstPlayAt, entry.at),
              }))
            }
            const known = typeof data.eventId === 'string' ? evidence.events.get(data.eventId) : undefined
            if (known !== undefined) known.event = { ...known.event, seconds: known.event.seconds + seconds }
          } else if (action.kind === 'export') {
            update(purchaseId, entry.at, (s) => ({ ...s, exports: s.exports + 1 }))
          } else if (action.kind === 'burn') {
            update(purchaseId, entry.at, (s) => ({ ...s, burns: s.burns + 1 }))
          }
          const event = data.event as UsageEvent | null
          if (isMap(event) && typeof event.eventId === 'string') {
            evidence.events.set(event.eventId, { event: { ...event, seconds: event.seconds ?? 0 }, report: null })
          }
          break
        }
        case ENTRY_KINDS.preview: {
          const event = data.event as UsageEvent
          if (isMap(event) && typeof event.eventId === 'string')
            evidence.events.set(event.eventId, { event, report: null })
          break
        }
        case ENTRY_KINDS.sync:
          for (const purchaseId of (data.purchaseIds as string[]) ?? []) {
            update(purchaseId, entry.at, (s) => ({ ...s, lastSyncAt: Math.max(s.lastSyncAt, entry.at) }))
          }
          break
        case ENTRY_KINDS.restore: {
          const restored = data.state as UsageState
          if (typeof data.purchaseId === 'string' && isMap(restored)) {
            update(data.purchaseId, entry.at, (s) => maxUsageState(s, restored))
          }
          break
        }
        case ENTRY_KINDS.report:
          noteReport(data.seq as number, data.record as Uint8Array, (data.events as string[]) ?? [], entry.at)
          break
        case ENTRY_KINDS.ack: {
          const report = evidence.reports.get(data.seq as number)
          if (report === undefined) break
          for (const eventId of report.events) evidence.events.delete(eventId)
          evidence.reports.delete(data.seq as number)
          break
        }
        case ENTRY_KINDS.snapshot: {
          for (const l of (data.licences as Array<Record<string, unknown>>) ?? []) {
            const licence = decode('consort/licence', l.licence as Uint8Array)
            if (Buffer.compare(licence.body.device, device) !== 0) continue
            const purchaseId = licence.body.purchaseId
            evidence.purchaseIds.add(purchaseId)
            if (l.receipt instanceof Uint8Array) evidence.receipts.set(purchaseId, l.receipt)
            update(purchaseId, entry.at, (s) => maxUsageState(s, l.state as UsageState))
          }
          for (const e of (data.events as Array<{ event: UsageEvent; report: number | null }>) ?? []) {
            evidence.events.set(e.event.eventId, { event: e.event, report: e.report })
          }
          for (const r of (data.reports as Array<{
            seq: number
            record: Uint8Array
            events: string[]
            createdAt: number
          }>) ?? []) {
            noteReport(r.seq, r.record, r.events, r.createdAt)
          }
          const last = data.lastReport as { seq: number; id: CID } | null
          if (last != null && (evidence.lastReport === null || last.seq > evidence.lastReport.seq)) {
            evidence.lastReport = last
          }
          for (const p of (data.purchases as Array<{ purchaseId: string }>) ?? [])
            evidence.purchaseIds.add(p.purchaseId)
          break
        }
      }
    } catch {
      // a signed entry whose content no longer decodes (another network record?) proves nothing usable
    }
  }
  return evidence
}

/**
 * Raise the evidence to what the clearinghouses acknowledged (`usage-state`): counters to at least their totals,
 * the report chain to at least their last acknowledged report (reports up to it need no resending, and their
 * events are delivered).
 */
export function mergeAcknowledged(evidence: Evidence, answers: readonly UsageStateResponse[]): void {
  for (const answer of answers) {
    for (const l of answer.licences) {
      evidence.purchaseIds.add(l.purchaseId)
      const known = evidence.states.get(l.purchaseId) ?? initialUsageState(l.firstPlayAt ?? 0)
      const plays = Math.max(known.plays, l.plays)
      const firsts = [known.firstPlayAt, l.firstPlayAt].filter((t): t is number => t !== null)
      evidence.states.set(l.purchaseId, {
        ...known,
        plays,
        playSeconds: Math.max(known.playSeconds, l.playSeconds),
        exports: Math.max(known.exports, l.exports),
        burns: Math.max(known.burns, l.burns),
        firstPlayAt: plays === 0 ? null : firsts.length > 0 ? Math.min(...firsts) : known.lastSyncAt,
      })
    }
    const last = answer.lastReport
    if (last === null) continue
    for (const seq of [...evidence.reports.keys()]) {
      if (seq > last.seq) continue
      for (const eventId of evidence.reports.get(seq)!.events) evidence.events.delete(eventId)
      evidence.reports.delete(seq)
    }
    if (evidence.lastReport === null || last.seq > evidence.lastReport.seq) {
      try {
        evidence.lastReport = { seq: last.seq, id: CID.parse(last.id) }
      } catch {
        // an id that is not a CID cannot be chained to
      }
    }
  }
}
