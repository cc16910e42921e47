/**
 * The Financial Clearinghouse role: serves `/consort/<net>/clearing/1` and `/2` (purchases, usage reports, account
 * requests; `/2` only when it opens usage boxes of version 2, decision 0518), learns contracts from the `contracts` topic, ingests usage reports from the `usage` topic, and offers
 * its ledger, statements, held plays and audit to the operator through the control API (`/v1/clearinghouse/…`).
 * The work itself is done by `ClearingEngine` (engine.ts). See README.md.
 */
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { CLEARING_OPS, CONSUMPTION_OP, USAGE_STATE_OP } from '../../protocols/clearing/index.ts'
import { servedClearingProtocols } from '../../protocols/clearing/versions.ts'
import { isError } from '../../protocols/errors.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import { registerRpc } from '../../protocols/rpc/server.ts'
import type { GossipDelivery } from '../../protocols/topics/bus.ts'
import type { ControlRoute, Role, RoleComponents } from '../role.ts'
import type { RoleStore } from '../store.ts'
import { TICK_INTERVAL_MS } from './constants.ts'
import { controlRoutes } from './control.ts'
import { ClearingEngine, type ClearinghouseInit, parseInit } from './engine.ts'
import { BusyError } from './errors.ts'
import type { ClearinghouseSublevel } from './store.ts'
import type { ReportAck } from './usage/ingest.ts'

const log = logger('consort:clearinghouse:role')

/** What the clearinghouse takes from the node. */
export type ClearinghouseComponents = Pick<
  RoleComponents,
  'libp2p' | 'keys' | 'clock' | 'network' | 'topics' | 'trust' | 'records' | 'metrics'
> & { store: RoleStore<Record<string, never>, ClearinghouseSublevel> }

export class ClearinghouseRole extends EventTarget implements Role {
  readonly name = 'clearinghouse' as const
  readonly controlRoutes: readonly ControlRoute[]
  readonly #c: ClearinghouseComponents
  readonly #init: ClearinghouseInit
  #engine: ClearingEngine | undefined
  #unregister: (() => Promise<void>) | undefined
  #unsubscribe: Array<() => void> = []
  #timer: ReturnType<typeof setInterval> | undefined
  #ticking = false
  #stopped = new AbortController()

  constructor(components: ClearinghouseComponents, init: unknown = {}) {
    super()
    this.#c = components
    this.#init = parseInit(init)
    this.controlRoutes = controlRoutes(() => this.engine)
  }

  /** The engine (after `start`). */
  get engine(): ClearingEngine {
    if (this.#engine === undefined) throw new Error('the clearinghouse role is not started')
    return this.#engine
  }

  async start(): Promise<void> {
    const c = this.#c
    this.#stopped = new AbortController()
    if (!c.trust.isClearinghouse(c.keys.signer.publicKey)) {
      log('this node is not a clearinghouse of network %s: players will not seal reports to it', c.network.name)
    }
    const engine = await ClearingEngine.open(
      {
        db: c.store,
        keys: c.keys,
        clock: c.clock,
        network: c.network,
        trust: c.trust,
        fetchRecord: async (cid: CID, signal: AbortSignal) => c.records.get(cid, { signal }),
      },
      this.#init,
    )
    this.#engine = engine
    for (const type of ['clearing:report', 'clearing:captured', 'clearing:refunded', 'clearing:failed']) {
      engine.addEventListener(type, (e) =>
        this.dispatchEvent(new CustomEvent(type, { detail: (e as CustomEvent).detail })),
      )
    }
    // One handler under every version of the protocol whose usage boxes it opens (decision 0518): which versions it
    // serves is how players learn which box version to seal to it.
    const handlers: Parameters<typeof registerRpc>[2] = {
      [CLEARING_OPS.authorise]: async (body) => engine.authorise(body),
      [CLEARING_OPS.capture]: async (body) => engine.capture(body),
      [CLEARING_OPS.void]: async (body, context) => engine.void(body, context.remotePeer),
      [CLEARING_OPS.refund]: async (body) => engine.refund(body),
      [CLEARING_OPS.report]: async (body) => this.#counted(engine.reportRequest(body)),
      [CLEARING_OPS.fund]: async (body) => engine.account(body, 'fund'),
      [CLEARING_OPS.balance]: async (body) => engine.account(body, 'balance'),
      [CLEARING_OPS.statement]: async (body) => engine.account(body, 'statement'),
      [CLEARING_OPS.delivery]: async (body) => engine.delivery(body),
      [USAGE_STATE_OP]: async (body) => engine.usageState(body),
      [CONSUMPTION_OP]: async (body) => engine.consumption(body),
    }
    const unregister = await Promise.all(
      servedClearingProtocols(c.network, engine.sealVersions).map((p) => registerRpc(c.libp2p, p, handlers)),
    )
    this.#unregister = async () => {
      await Promise.all(unregister.map((u) => u()))
    }
    this.#unsubscribe.push(
      c.topics.subscribe('contracts', {
        onMessage: async (delivery: GossipDelivery) => {
          if (delivery.record.type !== 'consort/contract') return
          await engine.learnContract(delivery.record as never)
        },
      }),
      c.topics.subscribe('usage', {
        onMessage: async (delivery: GossipDelivery) => this.#onUsage(delivery),
      }),
      // A licence transfer's revocation carries the registrar's transfer: the purchase's new holder (decision 0606).
      c.topics.subscribe('revocations', {
        onMessage: async (delivery: GossipDelivery) => {
          for (const attachment of delivery.attachments) {
            if (attachment.type !== 'consort/transfer') continue
            await engine.learnTransfer(attachment as never).catch((err) => log('transfer not taken: %e', err))
          }
        },
      }),
      // Titles, artists and releases of what is settled here, for the DSR reports.
      c.topics.subscribe('catalog', {
        onMessage: async (delivery: GossipDelivery) => {
          if (delivery.record.type !== 'consort/manifest' && delivery.record.type !== 'consort/release') return
          await engine.learnCatalog(delivery.record as never)
        },
      }),
    )
    this.#unsubscribe.push(
      c.metrics.collect('consort_ledger_transfers_total', () => [{ labels: {}, value: engine.ledger.transferCount }]),
      c.metrics.collect('consort_queue_depth_items', () => [
        { labels: { queue: 'clearinghouse-reports' }, value: engine.pendingReports },
      ]),
    )
    this.#timer = setInterval(() => void this.#tick(), TICK_INTERVAL_MS)
    this.#timer.unref()
    log('started on %s', c.network.name)
  }

  async stop(): Promise<void> {
    this.#stopped.abort()
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    this.#unsubscribe = []
    await this.#unregister?.()
    this.#unregister = undefined
    await this.#engine?.close()
    this.#engine = undefined
  }

  /** Run the periodic work now (tests, operators). */
  async tick(): Promise<void> {
    await this.engine.tick(this.#stopped.signal)
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#engine === undefined) return
    this.#ticking = true
    try {
      await this.#engine.tick(this.#stopped.signal)
    } catch (err) {
      log.error('tick failed: %e', err)
    } finally {
      this.#ticking = false
    }
  }

  /**
   * A report's answer, counted by status (refused when it throws, busy when the queue is full). Refusals of reports
   * relayed on the topic are not counted: most are sealed to another clearinghouse, not faults.
   */
  async #counted(answer: Promise<ReportAck>, countRefusals = true): Promise<ReportAck> {
    try {
      const ack = await answer
      this.#c.metrics.increment('consort_usage_reports_total', { status: ack.status })
      return ack
    } catch (err) {
      const status = isError(err, BusyError) ? 'busy' : 'refused'
      if (countRefusals) this.#c.metrics.increment('consort_usage_reports_total', { status })
      throw err
    }
  }

  /** A report relayed on the usage topic: ingested like one sent directly (no one waits for its answer). */
  async #onUsage(delivery: GossipDelivery): Promise<void> {
    const device = delivery.attachments.find((a) => a.type === ('consort/device' satisfies RecordType))
    if (device === undefined || this.#engine === undefined) return
    try {
      await this.#counted(this.#engine.report(delivery.record.bytes, device.bytes), false)
    } catch (err) {
      // Sealed to another clearinghouse only, or refused: nothing to answer on a topic.
      log.trace('usage report from the topic not taken: %e', err)
    }
  }
}
