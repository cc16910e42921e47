import { InvalidParametersError } from '@libp2p/interface'
/**
 * The clearinghouse without its network: the ledger and the role's state on one LevelDB sublevel, and every
 * operation the role offers (purchases, usage reports, account requests, statements, audit). The role (index.ts)
 * wires it to libp2p, the topics and the control API; a test or a lean process can run it on its own.
 *
 * Every state change goes through one queue (`serial`), so that at most one journalled batch is pending at a time
 * and the caches never see two changes interleave. At open, journalled batches a crash left behind are replayed and
 * top-ups whose charge was asked are completed before anything else runs.
 */

import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import { Lru } from '../../keys/lru.ts'
import { SEAL_BOX_VERSIONS, type SealBoxVersion } from '../../keys/seal.ts'
import type { AccountRequest } from '../../protocols/clearing/account.ts'
import { verifyConsumptionRequest } from '../../protocols/clearing/consumption.ts'
import {
  accountRequest,
  authoriseRequest,
  captureRequest,
  consumptionRequest,
  type DeliveryResponse,
  deliveryRequest,
  MAX_REPORT_LICENCES,
  MAX_USAGE_STATE_LICENCES,
  refundRequest,
  reportRequest,
  type UsageStateResponse,
  usageStateRequest,
  voidRequest,
} from '../../protocols/clearing/index.ts'
import { verifyUsageStateRequest } from '../../protocols/clearing/usage-state.ts'
import type { Clock } from '../../protocols/clock.ts'
import { isCurrency } from '../../protocols/identifiers/currencies.ts'
import { MAX_RECORD_MESSAGE_BYTES, parseMessage } from '../../protocols/messages.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import { VerifiedRecords } from '../../protocols/records/verified.ts'
import type { CertificateTrust } from '../../protocols/trust/trust.ts'
import { Accounts } from './accounts.ts'
import { type AuditReport, auditClearinghouse } from './audit.ts'
import {
  ACCOUNT_REQUEST_MAX_AGE_MS,
  ATTACHED_LICENCE_ENTRIES,
  AUTHORISATION_TTL_MS,
  DEVICE_RECORD_CACHE_ENTRIES,
  HELD_RETRY_INTERVAL_MS,
  MAX_HELD_RETRY_PER_TICK,
  MAX_PENDING_REPORTS,
  STATE_VERSION,
} from './constants.ts'
import { Deliveries } from './delivery.ts'
import { CatalogFacts } from './dsr/catalog.ts'
import { DsrExport } from './dsr/export.ts'
import {
  BusyError,
  ClearingFailedError,
  ClearingStoppedError,
  InvalidClearingInitError,
  NotPermittedError,
  ReportInvalidError,
  StateCorruptError,
} from './errors.ts'
import { type PaymentGateway, TestPaymentGateway } from './gateway.ts'
import { Journal } from './journal.ts'
import { type Ledger, type LedgerStore, openLedger } from './ledger/ledger.ts'
import type { TransferPage } from './ledger/types.ts'
import { Periods } from './periods.ts'
import { Purchases } from './purchases.ts'
import { RecordBook, type RecordFetcher } from './records.ts'
import { Referrals } from './referrals.ts'
import { LineBook } from './settlement.ts'
import { numberRow, StateKeys } from './state.ts'
import { Statements } from './statements.ts'
import { put, type StateLevel, StateStore } from './store.ts'
import { Ingest, type ReportAck } from './usage/ingest.ts'
import { Verifier } from './usage/pool.ts'
import { reportIdOf, type VerifiedReport } from './usage/verify.ts'

const log = logger('consort:clearinghouse')

/** The account a transferred purchase is held by now, and the transfer's `seq` (docs/decisions/0606). */
const holderKey = (purchaseId: string) => `th/${purchaseId}`
const holderRow = z
  .object({ v: z.literal(1), account: z.string().regex(/^[0-9a-f]{64}$/), seq: z.number().int().min(1) })
  .strict()

/** The role's settings (`roleOptions.clearinghouse` in config.json): plain data, every field optional. */
export const clearinghouseInit = z
  .object({
    /** How long an authorisation reserves the buyer's money (ms). */
    authorisationTtlMs: z
      .number()
      .int()
      .min(1000)
      .max(31 * 24 * 3600_000)
      .optional(),
    /** Verification threads: 0 verifies on the main thread; `auto` starts one per core when reports queue up. */
    verifyWorkers: z.union([z.number().int().min(0).max(64), z.literal('auto')]).optional(),
    /**
     * The usage box versions it opens and announces (default both, `[1, 2]`; decision 0518): with `[1]` it serves only
     * `clearing/1` and refuses boxes of version 2, as a clearinghouse released before decision 0515 does. Version 1 is
     * always opened: every player that has not heard this clearinghouse announce version 2 seals version 1 to it.
     */
    sealVersions: z
      .array(z.union([z.literal(1), z.literal(2)]))
      .min(1)
      .max(2)
      .refine((versions) => versions.includes(1), 'version 1 must be opened (players seal it until they hear more)')
      .optional(),
    /** fsync every state write (default true; tests may turn it off). */
    sync: z.boolean().optional(),
    /** The payment gateway: the built-in test gateway (the default on test networks) or none. */
    gateway: z.enum(['test', 'none']).optional(),
    /** Run the test gateway even on a network not marked as a test network. */
    allowTestGateway: z.boolean().optional(),
    /**
     * The most a retailer paying per play may owe, per ISO 4217 currency, in minor units (`{ "EUR": "5000" }`): a
     * play that would take it lower is held (`credit-limit`) instead of paid. Absent: no limit.
     */
    creditLimits: z
      .record(z.string(), z.union([z.string().regex(/^\d{1,19}$/), z.number().int().nonnegative()]))
      .refine((limits) => Object.keys(limits).every(isCurrency), 'a key is not an ISO 4217 currency code')
      .optional(),
  })
  .strict()
export type ClearinghouseInit = z.infer<typeof clearinghouseInit>

/** Where the ledger and the state live: the role's store (its declared sublevels), or its sublevel when opened offline. */
export interface EngineSublevels {
  sublevel(name: 'ledger' | 'state', options: { valueEncoding: 'view' }): unknown
}

export interface EngineComponents {
  /** The role's own store or sublevel: the ledger and the state live in sublevels of it. */
  db: EngineSublevels
  keys: Pick<NodeKeys, 'signer' | 'sealing'>
  clock: Clock
  network: NetworkContext
  trust: CertificateTrust
  /** Fetches a record by CID over the network (absent: only what the clearinghouse kept is known). */
  fetchRecord?: RecordFetcher
  /** A gateway other than the built-in ones (tests, integrations). */
  gateway?: PaymentGateway
}

export function parseInit(init: unknown): ClearinghouseInit {
  const result = clearinghouseInit.safeParse(init ?? {})
  if (!result.success) {
    const issue = result.error.issues[0]!
    throw new InvalidClearingInitError(`clearinghouse.${issue.path.join('.')}: ${issue.message}`)
  }
  return result.data
}

export class ClearingEngine extends EventTarget {
  readonly ledger: Ledger
  readonly store: StateStore
  readonly records: RecordBook
  readonly statements: Statements
  /** What the catalog says of the content settled here, and the DSR reports built from it. */
  readonly catalog: CatalogFacts
  readonly dsr: DsrExport
  readonly purchases: Purchases
  /** Referral credits of purchases made through a share (decision 0512). */
  readonly referrals: Referrals
  readonly accounts: Accounts
  /** Paid delivery: players' delivery receipts settled (decision 0511). */
  readonly deliveries: Deliveries
  readonly ingest: Ingest
  readonly periods: Periods
  readonly verifier: Verifier
  /**
   * The licences players attach to their reports, by the SHA-256 of their bytes: a device sends the licence of its
   * plays with every report, and its signature is checked once (docs/threat-model.md, "Records verified once").
   */
  readonly attachedLicences = new VerifiedRecords(ATTACHED_LICENCE_ENTRIES)
  readonly network: NetworkContext
  /** The usage box versions it opens, and announces by the clearing protocol versions it serves (decision 0518). */
  readonly sealVersions: readonly SealBoxVersion[]
  readonly gateway: PaymentGateway | null
  readonly #c: EngineComponents
  readonly #journal: Journal
  readonly #ledgerStore: LedgerStore
  /** What never changes about a device registration: its CID and whether a registrar of the network signed it. */
  readonly #registrationFacts = new Lru<string, { cid: CID; registrar: boolean; learnt: boolean }>(
    DEVICE_RECORD_CACHE_ENTRIES,
  )
  #tail: Promise<unknown> = Promise.resolve()
  #failed: Error | null = null
  #closed = false
  #inFlight = 0
  #lastRetry = 0
  #missing = false

  private constructor(
    c: EngineComponents,
    init: ClearinghouseInit,
    ledger: Ledger,
    ledgerStore: LedgerStore,
    store: StateStore,
  ) {
    super()
    this.#c = c
    this.ledger = ledger
    this.#ledgerStore = ledgerStore
    this.store = store
    this.network = c.network
    this.sealVersions = init.sealVersions ?? [...SEAL_BOX_VERSIONS]
    const sync = init.sync ?? true
    const serial = <T>(fn: () => Promise<T>) => this.#serial(fn)
    const fail = (err: Error) => this.#fail(err)
    const decodeOptions = () => ({ network: c.network.name, now: c.clock.now(), caps: c.network.caps })
    this.gateway = c.gateway ?? gatewayFor(c.network.name, init)
    this.#journal = new Journal(store, ledger)
    this.records = new RecordBook(store, decodeOptions, c.fetchRecord)
    const lines = new LineBook(store)
    this.statements = new Statements(store, c.network, c.clock, c.keys.signer)
    this.catalog = new CatalogFacts(store)
    this.dsr = new DsrExport({
      store,
      records: this.records,
      statements: this.statements,
      catalog: this.catalog,
      trust: c.trust,
      network: c.network,
      clock: c.clock,
      clearinghouse: c.keys.signer.publicKey,
    })
    const common = { store, journal: this.#journal, records: this.records, lines, clock: c.clock, serial, sync }
    this.referrals = new Referrals({ store, records: this.records, trust: c.trust, network: c.network })
    this.purchases = new Purchases({
      ...common,
      ledger,
      referrals: this.referrals,
      trust: c.trust,
      network: c.network,
      clearinghouse: c.keys.signer.publicKey,
      signer: c.keys.signer,
      authorisationTtlMs: init.authorisationTtlMs ?? AUTHORISATION_TTL_MS,
    })
    this.accounts = new Accounts({
      ...common,
      ledger,
      statements: this.statements,
      network: c.network,
      gateway: this.gateway,
    })
    this.deliveries = new Deliveries({
      ...common,
      trust: c.trust,
      network: c.network,
      purchases: this.purchases,
    })
    this.ingest = new Ingest({
      ...common,
      ledger,
      creditLimits: new Map(
        Object.entries(init.creditLimits ?? {}).map(([currency, amount]) => [currency, BigInt(amount)]),
      ),
      trust: c.trust,
      network: c.network,
      clearinghouse: c.keys.signer.publicKey,
      fail,
      missing: () => {
        this.#missing = true
      },
      // Verified on worker threads, reports in flight will reach the ingest soon: a group may wait for them. Verified
      // here, a report is queued in the same turn it came in, and there is nothing to wait for.
      verifying: () => (this.verifier.workers > 0 ? this.#inFlight : 0),
    })
    this.periods = new Periods({ ...common, fail })
    this.verifier = new Verifier(
      {
        network: c.network.name,
        caps: c.network.caps,
        recipient: c.keys.signer.publicKey,
        sealingPublicKey: c.keys.sealing.publicKey,
        sealingPrivateKey: c.keys.sealing.privateKey,
        sealVersions: this.sealVersions,
      },
      init.verifyWorkers ?? 'auto',
      () => c.clock.now(),
    )
  }

  /** Open (or create) the clearinghouse's state on `db`, replaying what a crash left behind. */
  static async open(c: EngineComponents, init: unknown = {}): Promise<ClearingEngine> {
    const options = parseInit(init)
    const sync = options.sync ?? true
    const ledgerStore = c.db.sublevel('ledger', { valueEncoding: 'view' }) as unknown as LedgerStore
    const stateLevel = c.db.sublevel('state', { valueEncoding: 'view' }) as unknown as StateLevel
    const store = new StateStore(stateLevel, sync)
    const version = await store.get(numberRow, StateKeys.version)
    if (version === undefined) await store.write([put(StateKeys.version, STATE_VERSION)], { sync: true })
    else if (version !== STATE_VERSION) {
      throw new StateCorruptError(StateKeys.version, `state layout ${version}, this code reads ${STATE_VERSION}`)
    }
    const ledger = await openLedger(ledgerStore, { clock: c.clock, sync })
    const engine = new ClearingEngine(c, options, ledger, ledgerStore, store)
    await engine.#journal.open()
    const replayed = await engine.#journal.recover()
    if (replayed > 0) log('replayed %d journalled batches', replayed)
    const completed = await engine.accounts.recover()
    if (completed > 0) log('completed %d top-ups', completed)
    return engine
  }

  get key(): Uint8Array {
    return this.#c.keys.signer.publicKey
  }

  get failed(): Error | null {
    return this.#failed
  }

  // ---- purchases ----------------------------------------------------------------------------------------------

  async authorise(body: unknown): Promise<{ authorisation: string; expiresAt: number }> {
    this.#assertRunning()
    return this.purchases.authorise(parseMessage(authoriseRequest, body, 'request'))
  }

  async capture(body: unknown): Promise<{ captured: true; payment: Uint8Array }> {
    this.#assertRunning()
    const result = await this.purchases.capture(parseMessage(captureRequest, body, 'request'))
    this.dispatchEvent(
      new CustomEvent('clearing:captured', { detail: { purchaseId: (body as { purchaseId: string }).purchaseId } }),
    )
    return result
  }

  async void(body: unknown, caller?: PeerId): Promise<{ voided: boolean }> {
    this.#assertRunning()
    return this.purchases.void(parseMessage(voidRequest, body, 'request'), caller)
  }

  async refund(body: unknown): Promise<{ refunded: true }> {
    this.#assertRunning()
    const result = await this.purchases.refund(parseMessage(refundRequest, body, 'request'))
    this.dispatchEvent(
      new CustomEvent('clearing:refunded', { detail: { purchaseId: (body as { purchaseId: string }).purchaseId } }),
    )
    return result
  }

  /** Reports being verified or waiting to be stored (bounded by MAX_PENDING_REPORTS). */
  get pendingReports(): number {
    return this.#inFlight + this.ingest.pending
  }

  // ---- usage --------------------------------------------------------------------------------------------------

  /** A `report` request body: `{ usage, device, licences? }` record bytes. */
  async reportRequest(body: unknown): Promise<ReportAck> {
    const { usage, device, licences } = wellFormedReport(body) ?? parseMessage(reportRequest, body, 'request')
    if (licences !== undefined) await this.#keepLicences(licences)
    return this.report(usage, device)
  }

  /**
   * Keep the licences a report came with (a registrar's signature is all they need), so that its plays are bounded by
   * them at once. One that does not decode or is not a registrar's is ignored: the play then waits for the licence
   * fetched by CID, as without attachments.
   */
  async #keepLicences(licences: readonly Uint8Array[]): Promise<void> {
    const options = { network: this.network.name, now: this.#c.clock.now(), caps: this.network.caps }
    for (const bytes of licences) {
      try {
        const licence = this.attachedLicences.decode(bytes, options)
        if (licence.type !== 'consort/licence') throw new Error(`a ${licence.type} record, not a licence`)
        if (!this.#c.trust.isRegistrar(licence.signer)) continue
        if ((await this.records.get('consort/licence', licence.id.toString())) === undefined) {
          await this.records.keep(licence)
          // Plays held for want of it (its report came by gossip first) are tried again at the next tick.
          this.#missing = true
        }
      } catch (err) {
        log('a licence attached to a report is ignored: %e', err)
      }
    }
  }

  /**
   * Verify, store and settle one usage report; resolves once it is durably stored. A replay is answered
   * `duplicate` (from memory when recent, without verifying it again).
   */
  async report(usage: Uint8Array, device: Uint8Array): Promise<ReportAck> {
    this.#assertRunning()
    const reportId = reportIdOf(usage)
    if (this.ingest.recentlyStored(reportId)) return { reportId, status: 'duplicate' }
    if (this.#inFlight + this.ingest.pending >= MAX_PENDING_REPORTS) {
      throw new BusyError(`${MAX_PENDING_REPORTS} reports are waiting; try again later`)
    }
    this.#inFlight++
    let verified: VerifiedReport
    try {
      verified = await this.verifier.verify(reportId, usage, device, this.#inFlight + this.ingest.pending)
      this.#checkRegistration(verified)
    } finally {
      this.#inFlight--
      // A group gathering reports stops waiting for this one if it was the last in flight (a refused one never comes).
      this.ingest.verified()
    }
    const ack = await this.ingest.submit(verified)
    this.dispatchEvent(new CustomEvent('clearing:report', { detail: ack }))
    return ack
  }

  /** The registrar, revocation and validity checks of a report's device registration (main thread: trust). */
  #checkRegistration(r: VerifiedReport): void {
    const reg = r.registration
    const trust = this.#c.trust
    let known = this.#registrationFacts.get(reg.id)
    if (known === undefined) {
      known = { cid: CID.parse(reg.id), registrar: trust.isRegistrar(Buffer.from(reg.signer, 'hex')), learnt: false }
      this.#registrationFacts.set(reg.id, known)
    }
    if (!known.registrar) {
      throw new ReportInvalidError('device: not registered by a registration manager of the network')
    }
    if (trust.isRevoked(known.cid)) throw new ReportInvalidError(`device: registration ${reg.id} is revoked`)
    if (r.created < reg.notBefore || r.created >= reg.notAfter) {
      throw new ReportInvalidError(`device: the registration was not valid when the report was made (${r.created})`)
    }
    if (!known.learnt) {
      // Learn it, so that the usage topic's validator knows the device too (verified again here, once).
      const record = decodeRecordAs('consort/device', r.deviceBytes, {
        network: this.network.name,
        now: this.#c.clock.now(),
        caps: this.network.caps,
      })
      trust.learnDevice(record)
      known.learnt = true
    }
  }

  /**
   * `usage-state`: a device reads back what this clearinghouse acknowledged of its usage (signed by the device,
   * with its registration), so that a player whose store was damaged never gives back uses already reported.
   */
  async usageState(body: unknown): Promise<UsageStateResponse> {
    this.#assertRunning()
    const request = parseMessage(usageStateRequest, body, 'request')
    if (!verifyUsageStateRequest(request)) throw new ReportInvalidError('sig: the device did not sign this request')
    this.#deviceRequest(request.request, request.device)
    return this.ingest.usageState(toHex(request.request.device), MAX_USAGE_STATE_LICENCES)
  }

  /**
   * `consumption`: what this clearinghouse acknowledged of one purchase's uses over every device of its account, as a
   * signed `consort/consumption` (zero uses for a purchase it knows nothing of), to a device of that account only.
   */
  async consumption(body: unknown): Promise<{ consumption: Uint8Array }> {
    this.#assertRunning()
    const request = parseMessage(consumptionRequest, body, 'request')
    if (!verifyConsumptionRequest(request)) throw new ReportInvalidError('sig: the device did not sign this request')
    const registration = this.#deviceRequest(request.request, request.device)
    const account = toHex(registration.body.account)
    const purchaseId = request.request.purchaseId
    if (request.transfer !== undefined) await this.learnTransfer(this.#decodeTransfer(request.transfer), purchaseId)
    const purchase = await this.purchases.get(purchaseId)
    const use = await this.ingest.purchaseUse(purchaseId)
    const holder = await this.store.get(holderRow, holderKey(purchaseId))
    const owner = holder?.account ?? purchase?.account ?? use?.account
    if (owner !== undefined && owner !== account) {
      throw new NotPermittedError(`purchase ${purchaseId} belongs to another account`)
    }
    const used = use?.used ?? { plays: 0, playSeconds: 0, exports: 0, burns: 0, firstPlayAt: null }
    const record = signRecord(
      'consort/consumption',
      {
        network: this.network.name,
        created: this.#c.clock.now(),
        purchaseId,
        account: registration.body.account,
        plays: used.plays,
        playSeconds: used.playSeconds,
        exports: used.exports,
        burns: used.burns,
        firstPlayAt: used.firstPlayAt,
      },
      this.#c.keys.signer,
      this.network.caps,
    )
    return { consumption: record.bytes }
  }

  /**
   * A registrar's `consort/transfer` of a purchase (docs/decisions/0606): from then on its uses are answered to the
   * receiving account. Only a higher `seq` than the one known moves the holder; a transfer from an account that is not
   * the holder known here is refused.
   */
  async learnTransfer(
    transfer: SignedRecord<'consort/transfer'>,
    purchaseId = transfer.body.purchaseId,
  ): Promise<void> {
    if (!this.#c.trust.isRegistrar(transfer.signer)) {
      throw new ReportInvalidError('transfer: not signed by a registration manager of the network')
    }
    if (transfer.body.purchaseId !== purchaseId) throw new ReportInvalidError('transfer: of another purchase')
    await this.#serial(async () => {
      const known = await this.store.get(holderRow, holderKey(purchaseId))
      if (known !== undefined && known.seq >= transfer.body.seq) return
      const purchase = await this.purchases.get(purchaseId)
      const previous = known?.account ?? purchase?.account
      if (previous !== undefined && previous !== toHex(transfer.body.from)) {
        throw new NotPermittedError(`transfer: purchase ${purchaseId} is not held by the giving account here`)
      }
      await this.store.write(
        [put(holderKey(purchaseId), { v: 1, account: toHex(transfer.body.to), seq: transfer.body.seq })],
        {
          sync: true,
        },
      )
    })
  }

  #decodeTransfer(bytes: Uint8Array): SignedRecord<'consort/transfer'> {
    try {
      return decodeRecordAs('consort/transfer', bytes, {
        network: this.network.name,
        now: this.#c.clock.now(),
        caps: this.network.caps,
      })
    } catch (err) {
      throw new ReportInvalidError(`transfer: ${(err as Error).message}`)
    }
  }

  /** A device-signed request's freshness, network and registration (a registrar's, unrevoked, for that device). */
  #deviceRequest(
    fields: { network: string; device: Uint8Array; created: number },
    deviceBytes: Uint8Array,
  ): SignedRecord<'consort/device'> {
    if (fields.network !== this.network.name) throw new ReportInvalidError(`request.network: not ${this.network.name}`)
    const now = this.#c.clock.now()
    if (Math.abs(fields.created - now) > ACCOUNT_REQUEST_MAX_AGE_MS) {
      throw new InvalidParametersError('request.created: too far from now')
    }
    let registration: SignedRecord<'consort/device'>
    try {
      registration = decodeRecordAs('consort/device', deviceBytes, {
        network: this.network.name,
        now,
        caps: this.network.caps,
      })
    } catch (err) {
      throw new ReportInvalidError(`device: ${(err as Error).message}`)
    }
    const trust = this.#c.trust
    if (!trust.isRegistrar(registration.signer) || trust.isRevoked(registration.id)) {
      throw new ReportInvalidError('device: not a current registration by a registrar of the network')
    }
    if (toHex(registration.body.device) !== toHex(fields.device)) {
      throw new ReportInvalidError('device: the registration is for another device')
    }
    return registration
  }

  // ---- delivery -----------------------------------------------------------------------------------------------

  /** `delivery`: settle a player's delivery receipt once (decision 0511). */
  async delivery(body: unknown): Promise<DeliveryResponse> {
    this.#assertRunning()
    return this.deliveries.settle(parseMessage(deliveryRequest, body, 'request'))
  }

  // ---- contracts and records ----------------------------------------------------------------------------------

  async learnContract(contract: SignedRecord<'consort/contract'>): Promise<void> {
    if (!contract.signer.every((b, i) => b === contract.body.distributor[i])) return
    await this.records.learnContract(contract)
    if (this.#missing === false) this.#missing = true
  }

  /** A manifest or release from the `catalog` topic: kept for the DSR reports' titles, artists and releases. */
  async learnCatalog(record: SignedRecord<'consort/manifest'> | SignedRecord<'consort/release'>): Promise<void> {
    await this.catalog.learn(record)
  }

  // ---- accounts -----------------------------------------------------------------------------------------------

  /** A signed account request (`fund`, `balance`, `statement`); `op` must match the request's own. */
  async account(body: unknown, op?: 'fund' | 'balance' | 'statement'): Promise<unknown> {
    this.#assertRunning()
    const request: AccountRequest = parseMessage(accountRequest, body, 'request')
    if (op !== undefined && request.request.op !== op) {
      throw new InvalidClearingInitError(`request.op: ${request.request.op} sent as ${op}`)
    }
    return this.accounts.handle(request)
  }

  // ---- operator -----------------------------------------------------------------------------------------------

  async transfers(query: { accountId?: string; after?: number; limit: number }): Promise<TransferPage> {
    return this.ledger.transfers(query)
  }

  async audit(): Promise<AuditReport> {
    return this.#serial(() => auditClearinghouse(this.store, this.ledger, this.#ledgerStore))
  }

  /** Periodic work: expire authorisations, close finished periods, retry held plays. */
  async tick(signal?: AbortSignal): Promise<void> {
    if (this.#closed || this.#failed !== null) return
    await this.purchases.expire()
    await this.periods.closeDue()
    const now = this.#c.clock.now()
    if (this.#missing || now - this.#lastRetry >= HELD_RETRY_INTERVAL_MS) {
      this.#missing = false
      this.#lastRetry = now
      await this.ingest.retryMissing(MAX_HELD_RETRY_PER_TICK, signal)
    }
  }

  /** Wait until every report submitted so far is committed. */
  async flush(): Promise<void> {
    await this.ingest.flush()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await this.ingest.flush().catch(() => {})
    this.#closed = true
    await this.#tail.catch(() => {})
    await this.verifier.close()
    await this.ledger.close()
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  #assertRunning(): void {
    if (this.#closed) throw new ClearingStoppedError('the clearinghouse is stopped')
    if (this.#failed !== null)
      throw new ClearingFailedError(`the clearinghouse stopped after a failure: ${this.#failed.message}`)
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#failed !== null) {
        throw new ClearingFailedError(`the clearinghouse stopped after a failure: ${this.#failed.message}`)
      }
      return fn()
    })
    this.#tail = run.catch(() => {})
    return run
  }

  #fail(err: Error): void {
    if (this.#failed !== null) return
    this.#failed = err
    this.ingest.reset()
    log.error('clearinghouse stopped: %e', err)
    this.dispatchEvent(new CustomEvent('clearing:failed', { detail: err }))
  }
}

function gatewayFor(network: string, init: ClearinghouseInit): PaymentGateway | null {
  const choice = init.gateway ?? 'test'
  if (choice === 'none') return null
  try {
    return new TestPaymentGateway(network, { allowOnAnyNetwork: init.allowTestGateway === true })
  } catch (err) {
    // Explicitly asked for: refuse to start. The default: run without a gateway.
    if (init.gateway === 'test') throw err
    log('no payment gateway: %s', (err as Error).message)
    return null
  }
}

/**
 * A `report` request that `reportRequest`'s schema accepts, checked by hand (every report comes this way; the schema's
 * parse made a copy and a dozen objects per report). Anything else is `undefined`: the schema then names what is wrong.
 */
function wellFormedReport(
  body: unknown,
): { usage: Uint8Array; device: Uint8Array; licences?: Uint8Array[] } | undefined {
  if (typeof body !== 'object' || body === null || Object.getPrototypeOf(body) !== Object.prototype) return undefined
  for (const key in body) if (key !== 'usage' && key !== 'device' && key !== 'licences') return undefined
  const { usage, device, licences } = body as Record<string, unknown>
  if (!isRecordBytes(usage) || !isRecordBytes(device)) return undefined
  if (licences === undefined) return { usage, device }
  if (!Array.isArray(licences) || licences.length > MAX_REPORT_LICENCES || !licences.every(isRecordBytes)) {
    return undefined
  }
  return { usage, device, licences }
}

function isRecordBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length > 0 && v.length <= MAX_RECORD_MESSAGE_BYTES
}
