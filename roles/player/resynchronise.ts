import type { UsageStateResponse } from '../../protocols/clearing/index.ts'
import { isError } from '../../protocols/errors.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import { UnknownOpError, WireErrors } from '../../protocols/rpc/errors.ts'
import { initialLicenceState, maxUsageState } from '../../protocols/usage-rules/index.ts'
import { fetchUsageState } from './account-requests.ts'
import { SYNC_DEADLINE_MS } from './constants.ts'
import type { PlayerCore } from './core.ts'
import type { DeviceRegistration } from './device.ts'
import { ENTRY_KINDS } from './entries.ts'
import { PlayerStoppedError } from './errors.ts'
import { type Library, licenceRules } from './library.ts'
import type { Licences } from './licences.ts'
import type { NewEntry } from './log.ts'
import { checkLicenceKeys } from './purchase.ts'
import { type Evidence, mergeAcknowledged, salvageEvidence } from './resync.ts'
import type { ResyncResult } from './types.ts'
import type { UsageReporter } from './usage.ts'

/**
 * Running a resync (`consort licences --resync`): rebuild the local store after it failed to verify, or whenever
 * asked. Every entry that still carries this device's signature is salvaged as evidence (`resync.ts` says what it
 * proves); each clearinghouse says what it acknowledged; each purchase's licence is fetched again from the
 * registration manager (`reissue`); the counters are restored to the most the evidence proves; undelivered reports
 * and events are kept (same report bytes, same chain position). The store is rewritten as a fresh chain, and the
 * outbox is flushed so that the clearinghouse's acknowledgement syncs the licences. README.md walks through it.
 */

export class Resynchroniser {
  readonly #core: PlayerCore
  readonly #device: DeviceRegistration
  readonly #licences: Licences
  readonly #usage: UsageReporter

  constructor(core: PlayerCore, device: DeviceRegistration, licences: Licences, usage: UsageReporter) {
    this.#core = core
    this.#device = device
    this.#licences = licences
    this.#usage = usage
  }

  async resync(options: { flush?: boolean } = {}): Promise<ResyncResult> {
    const core = this.#core
    if (!core.running) throw new PlayerStoppedError('the player is not started')
    const device = await this.#device.ensure()
    const result = await core.exclusive(() => this.#rebuild(device))
    if (options.flush !== false) {
      result.flush = await this.#usage.flush().catch((err) => ({
        built: 0,
        sent: 0,
        acknowledged: 0,
        pendingReports: core.library.reports.size,
        readyEvents: core.library.readyEvents().length,
        synced: [],
        errors: [(err as Error).message],
      }))
    }
    return result
  }

  /** Salvage, ask, fetch again and rewrite the store (the caller holds the lock). */
  async #rebuild(device: SignedRecord<'consort/device'>): Promise<ResyncResult> {
    const core = this.#core
    const c = core.components
    const { entries, unreadable } = await core.salvage()
    const decode = <T extends RecordType>(type: T, bytes: Uint8Array) => core.decode(type, bytes)
    const evidence = salvageEvidence(entries, decode, c.keys.signer.publicKey)
    for (const purchaseId of core.library.licences.keys()) evidence.purchaseIds.add(purchaseId)
    const acknowledged = await this.#acknowledgedUsage(device)
    mergeAcknowledged(evidence, acknowledged.states)
    const { restored, refused } = await this.#restore(evidence, device)
    const genesis: NewEntry = {
      kind: ENTRY_KINDS.genesis,
      data: {
        device: c.keys.signer.publicKey,
        account: core.account.signer.publicKey,
        reason: 'resync',
        note: `resynchronised: ${evidence.entries} signed entries salvaged (${evidence.chained} in chain), ${unreadable} unreadable`,
      },
    }
    await core.reset([genesis, restored.snapshot()])
    const library = core.library
    return {
      licences: [...library.licences.keys()],
      clearinghouses: acknowledged.answers,
      refused,
      salvagedEntries: evidence.entries,
      chainedEntries: evidence.chained,
      unreadableEntries: unreadable,
      restoredEvents: library.events.size,
      pendingReports: library.reports.size,
      lastReportSeq: library.lastReport?.seq ?? null,
      flush: null,
    }
  }

  /** The library the evidence proves: licences fetched again with the most uses shown, the outbox as it stood. */
  async #restore(
    evidence: Evidence,
    device: SignedRecord<'consort/device'>,
  ): Promise<{ restored: Library; refused: ResyncResult['refused'] }> {
    const core = this.#core
    const c = core.components
    const restored = core.emptyLibrary()
    restored.device = c.keys.signer.publicKey
    restored.account = core.account.signer.publicKey
    restored.deviceRecord = device
    const refused: ResyncResult['refused'] = []
    for (const purchaseId of evidence.purchaseIds) {
      try {
        const licence = await this.#licences.reissue(purchaseId, device)
        checkLicenceKeys(licence, c.keys.sealing)
        const rules = licenceRules(licence, c.network.body.policy.ruleDefaults)
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
          record: core.decode('consort/usage', report.record),
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
    return { restored, refused }
  }

  /** Ask every clearinghouse what it acknowledged of this device's usage; the most any of them says wins. */
  async #acknowledgedUsage(device: SignedRecord<'consort/device'>): Promise<{
    states: UsageStateResponse[]
    answers: ResyncResult['clearinghouses']
  }> {
    const core = this.#core
    const c = core.components
    const states: UsageStateResponse[] = []
    const answers: ResyncResult['clearinghouses'] = []
    for (const clearinghouse of c.network.body.clearinghouses) {
      try {
        const state = await fetchUsageState(c.libp2p, c.network, clearinghouse.key, c.keys.signer, device, {
          now: core.now(),
          random: c.random,
          deadlineMs: SYNC_DEADLINE_MS,
        })
        states.push(state)
        answers.push({
          name: clearinghouse.name,
          status: 'ok',
          lastReportSeq: state.lastReport?.seq ?? null,
          detail: null,
        })
      } catch (err) {
        const unsupported = isError(WireErrors.shared.decode(err), UnknownOpError)
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
}
