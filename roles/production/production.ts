import { readFile, stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import type { Helia } from '@helia/interface'
import type { Libp2p } from '@libp2p/interface'
import { InvalidParametersError, NotFoundError } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { z } from 'zod'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { Random } from '../../keys/random.ts'
import type { Clock } from '../../protocols/clock.ts'
import { isError } from '../../protocols/errors.ts'
import { icpnKey, isIcpn } from '../../protocols/identifiers/index.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import type { SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import { MAX_SEGMENT_BYTES, MIN_SEGMENT_BYTES } from '../../protocols/records/types/manifest.ts'
import type { TopicBus } from '../../protocols/topics/bus.ts'
import type { ControlRoute, Credentials, Role } from '../role.ts'
import { type AnnounceCounts, Announcer, noAnnouncements } from './announce.ts'
import {
  DEFAULT_PAGE_SIZE,
  DEFAULT_PREVIEW_MS,
  DEFAULT_REANNOUNCE_MS,
  MAX_PAGE_SIZE,
  MAX_REANNOUNCE_RECORDS,
} from './constants.ts'
import { contractFromCreate, contractFromUpdate, contractRevokeSchema } from './contracts.ts'
import {
  ErnFormatError,
  type ErnMessage,
  ErnValidationError,
  MAX_ERN_MESSAGE_BYTES,
  parseErn,
  releaseKeys,
} from './ddex/index.ts'
import { type PriceTiers, planFromErn } from './ern-plan.ts'
import { ContractRevokedError, ImportRefusedError, ProductionStoppedError } from './errors.ts'
import { EscrowOutbox } from './escrow.ts'
import { type Job, JobQueue } from './jobs.ts'
import { DEFAULT_SEGMENT_BYTES, MAX_SEAL_WORKERS, SealPool } from './packaging/index.ts'
import type { ImportPlan } from './plan.ts'
import { type ContractResult, Publisher, type PublishProgress, type PublishResult } from './publisher.ts'
import { planFromDescription } from './release-json.ts'
import { productionRoutes } from './routes.ts'
import { defaultSampleAudio, sampleDescription } from './sample.ts'
import { type ContractState, type ProductionRoleStore, ProductionState, type ReleaseState } from './state.ts'

const log = logger('consort:production')

/** The components the production role uses (a subset of `RoleComponents`). */
export interface ProductionComponents {
  libp2p: Libp2p
  helia: Helia
  /** Its store (`PRODUCTION_LAYOUT`), opened with its version checked before `start()`. */
  store: ProductionRoleStore
  keys: NodeKeys
  clock: Clock
  random: Random
  network: NetworkContext
  topics: TopicBus
  records: RecordStore
  credentials: Credentials
}

/** Settings of the role (`roleOptions.production`), with their defaults. */
export const productionInit = z.strictObject({
  /**
   * Worker threads that seal and hash segments while packaging (decision 0201): `auto` is one per core (at most
   * `MAX_SEAL_WORKERS`), 0 seals on the calling thread with AES on libuv's thread pool (decision 0109; simulations).
   */
  packagingWorkers: z.union([z.number().int().min(0).max(64), z.literal('auto')]).default('auto'),
  /** Plaintext segment size in bytes (16 KiB to 1 MiB; default 256 KiB). */
  segmentSize: z.number().int().min(MIN_SEGMENT_BYTES).max(MAX_SEGMENT_BYTES).default(DEFAULT_SEGMENT_BYTES),
  /** DDEX price tiers (`PriceCode` / `PriceRangeType`) → wholesale prices, for deals that name a tier, not a price. */
  priceTiers: z
    .record(
      z.string().min(1).max(64),
      z
        .array(
          z.strictObject({
            currency: z.string().length(3),
            amount: z.string(),
            per: z.enum(['unit', 'play']).optional(),
          }),
        )
        .max(32),
    )
    .default({}),
  /** The distributor's share of subscription / ad-supported revenue for deals that carry no price. */
  revenueShareBps: z.number().int().min(0).max(10_000).nullable().default(null),
  /** The party hand-made contracts pay (100 %, to this node's key) when they name no splits. */
  party: z.string().min(1).max(128).default('label'),
  /** Interval of re-announcing active records on their topics and in the DHT; 0 turns it off. */
  reannounceIntervalMs: z.number().int().min(0).default(DEFAULT_REANNOUNCE_MS),
  /** Publish the built-in sample release when the role starts (the devnet). */
  publishSampleOnStart: z.boolean().default(false),
  /** The sample's audio file (default: the shared fixtures' one-second FLAC, else a synthesized tone). */
  sampleAudio: z.string().min(1).optional(),
})
export type ProductionInit = z.input<typeof productionInit>

/** Where an ERN import takes its message and audio from. */
export interface ErnImport {
  /** The message file, or `xml` the message itself. */
  ern?: string
  xml?: string
  audioDir?: string | null
  synthesizeMissing?: boolean
  /** Refuse the message for ERN warnings too (default: accepted, reported and recorded with the release). */
  strict?: boolean
}

export interface DescriptionImport {
  release: unknown
  /** Directory relative track files are resolved against. */
  baseDir?: string | null
  synthesizeMissing?: boolean
}

function ernRefusal(err: unknown): never {
  if (isError(err, ErnValidationError) || (err as Error).name === 'ErnValidationError') {
    const e = err as ErnValidationError
    const issues = e.issues.map((i) => ({ path: i.path, value: i.value, message: `${i.severity}: ${i.message}` }))
    if (e.omittedIssues > 0) issues.push({ path: '/', value: '', message: `${e.omittedIssues} more issues not listed` })
    throw new ImportRefusedError(issues)
  }
  if (isError(err, ErnFormatError) || (err as Error).name === 'ErnFormatError') {
    throw new ImportRefusedError([{ path: '/', value: '', message: (err as Error).message }])
  }
  throw err
}

/**
 * The production role: DDEX releases (and JSON descriptions) in, encrypted once, published. See README.md.
 * Events: `published` (detail: `PublishResult`), `contract` (detail: `ContractResult`).
 */
export class ProductionRole extends EventTarget implements Role {
  readonly name = 'production' as const
  readonly controlRoutes: readonly ControlRoute[]
  readonly #c: ProductionComponents
  readonly #init: z.output<typeof productionInit>
  readonly #state: ProductionState
  readonly #jobs: JobQueue
  #escrow: EscrowOutbox | undefined
  #publisher: Publisher | undefined
  /** Packaging's worker threads while the role runs (none with `packagingWorkers: 0`). */
  #sealPool: SealPool | undefined
  #reannounce: ReturnType<typeof setInterval> | undefined

  constructor(components: ProductionComponents, init: Record<string, unknown> = {}) {
    super()
    const parsed = productionInit.safeParse(init)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new InvalidParametersError(`roleOptions.production.${issue.path.join('.')}: ${issue.message}`)
    }
    this.#c = components
    this.#init = parsed.data
    this.#state = new ProductionState(components.store)
    this.#jobs = new JobQueue(components.clock, components.random)
    this.controlRoutes = productionRoutes(this)
  }

  get publisher(): Publisher {
    if (this.#publisher == null) throw new ProductionStoppedError('the production role is not started')
    return this.#publisher
  }

  get state(): ProductionState {
    return this.#state
  }

  get jobs(): JobQueue {
    return this.#jobs
  }

  /** Packaging worker threads alive now: started on the first track of more than a run, none once stopped. */
  get packagingThreads(): number {
    return this.#sealPool?.threads ?? 0
  }

  async start(): Promise<void> {
    const c = this.#c
    this.#escrow = new EscrowOutbox({
      state: this.#state,
      libp2p: c.libp2p,
      network: c.network,
      credentials: c.credentials,
      clock: c.clock,
      random: c.random,
      signer: c.keys.signer,
    })
    const previewSeconds = c.network.body.policy.ruleDefaults.previewSeconds
    const workers =
      this.#init.packagingWorkers === 'auto'
        ? Math.min(availableParallelism(), MAX_SEAL_WORKERS)
        : this.#init.packagingWorkers
    this.#sealPool = workers > 0 ? new SealPool({ workers }) : undefined
    this.#publisher = new Publisher({
      state: this.#state,
      helia: c.helia,
      records: c.records,
      keys: c.keys,
      clock: c.clock,
      random: c.random,
      network: c.network,
      credentials: c.credentials,
      announcer: new Announcer({ topics: c.topics, credentials: c.credentials, libp2p: c.libp2p }),
      escrow: this.#escrow,
      segmentSize: this.#init.segmentSize,
      sealPool: this.#sealPool,
      defaultPreviewMs: previewSeconds != null && previewSeconds > 0 ? previewSeconds * 1000 : DEFAULT_PREVIEW_MS,
    })
    // Deposits left from before a restart are resumed at once.
    this.#escrow.start()
    if (this.#init.reannounceIntervalMs > 0) {
      this.#reannounce = setInterval(() => {
        this.reannounce().catch((err) => log.error('re-announcing failed: %e', err))
      }, this.#init.reannounceIntervalMs)
      this.#reannounce.unref?.()
    }
    if (this.#init.publishSampleOnStart) {
      this.publishSample().catch((err) => log.error('publishing the sample release failed: %e', err))
    }
    log('started (segment size %d, %d packaging workers)', this.#init.segmentSize, workers)
  }

  async stop(): Promise<void> {
    if (this.#reannounce != null) clearInterval(this.#reannounce)
    this.#reannounce = undefined
    await this.#jobs.idle()
    await this.#escrow?.stop()
    // Imports have ended (`jobs.idle`): the packaging workers have nothing in flight and end with the role.
    await this.#sealPool?.close()
    this.#sealPool = undefined
    this.#publisher = undefined
    this.#escrow = undefined
  }

  // -- imports ----------------------------------------------------------------------------------------------------

  /** Queue an import; the job is returned at once (its `done` settles with the result). */
  submit(
    makePlan: () => Promise<ImportPlan>,
    kind = 'publish',
  ): { job: Job<PublishProgress, PublishResult>; done: Promise<PublishResult> } {
    return this.#jobs.submit<PublishProgress, PublishResult>(kind, async (report) => {
      const plan = await makePlan()
      const result = await this.publisher.publish(plan, { onProgress: report })
      this.dispatchEvent(new CustomEvent('published', { detail: result }))
      return result
    })
  }

  /** Import an ERN message: new release, update or takedown. Throws `ImportRefusedError` listing every problem. */
  async publishErn(request: ErnImport): Promise<PublishResult> {
    return this.submitErn(request).done
  }

  submitErn(request: ErnImport): { job: Job<PublishProgress, PublishResult>; done: Promise<PublishResult> } {
    return this.submit(async () => this.#planErn(request))
  }

  async #planErn(request: ErnImport): Promise<ImportPlan> {
    let xml = request.xml
    if (xml == null) {
      if (request.ern == null) throw new InvalidParametersError('ern: give the message file (or xml)')
      const info = await stat(request.ern).catch(() => null)
      if (info == null || !info.isFile()) throw new InvalidParametersError(`ern: no such file ${request.ern}`)
      if (info.size > MAX_ERN_MESSAGE_BYTES) {
        throw new ImportRefusedError([
          { path: '/', value: '', message: `${info.size} bytes, more than ${MAX_ERN_MESSAGE_BYTES}` },
        ])
      }
      xml = await readFile(request.ern, 'utf8')
    }
    let message: ErnMessage
    try {
      message = parseErn(xml, { strict: request.strict ?? false })
    } catch (err) {
      ernRefusal(err)
    }
    const keys = [
      ...message.releases.filter((r) => r.isMain).flatMap((r) => releaseKeys(r.ids)),
      ...message.purgedReleases.flatMap((ids) => releaseKeys(ids)),
    ]
    const known = await this.publisher.knownKeys(keys)
    const audioDir = request.audioDir ?? (request.ern != null ? path.dirname(request.ern) : null)
    return planFromErn(message, {
      audioDir,
      synthesizeMissing: request.synthesizeMissing ?? false,
      isKnown: (key) => known.has(key),
      priceTiers: this.#init.priceTiers as PriceTiers,
      revenueShareBps: this.#init.revenueShareBps,
      labelKey: null,
    })
  }

  /** Import a JSON release description (README.md gives its schema). */
  async publishDescription(request: DescriptionImport): Promise<PublishResult> {
    return this.submitDescription(request).done
  }

  submitDescription(request: DescriptionImport): {
    job: Job<PublishProgress, PublishResult>
    done: Promise<PublishResult>
  } {
    return this.submit(async () => this.#planDescription(request))
  }

  #planDescription(request: DescriptionImport): ImportPlan {
    return planFromDescription(request.release, {
      baseDir: request.baseDir ?? process.cwd(),
      synthesizeMissing: request.synthesizeMissing ?? false,
      now: this.#c.clock.now(),
      labelKey: this.#c.keys.signer.publicKey,
    })
  }

  /** Publish the built-in sample release (the devnet calls this, or sets `publishSampleOnStart`). */
  async publishSample(options: { audioFile?: string | null } = {}): Promise<PublishResult> {
    return this.submitSample(options).done
  }

  submitSample(options: { audioFile?: string | null } = {}): {
    job: Job<PublishProgress, PublishResult>
    done: Promise<PublishResult>
  } {
    const audio = options.audioFile ?? this.#init.sampleAudio ?? defaultSampleAudio()
    return this.submitDescription({ release: sampleDescription(audio), synthesizeMissing: true })
  }

  /** Take a release down by any of its keys (`icpn:…`, `grid:…`, `isrc:…`), as a purge message would. */
  async takedown(key: string, reason = 'taken down by the distributor'): Promise<PublishResult> {
    return this.submit(async () => ({
      source: `takedown ${key}`,
      releases: [
        {
          path: key,
          keys: [normaliseReleaseKey(key)],
          action: 'takedown' as const,
          reason,
          icpn: null,
          grid: null,
          title: null,
          artists: [],
          type: 'Release',
          label: null,
          genre: null,
          releaseDate: null,
          tracks: [],
          deals: [],
        },
      ],
      issues: [],
      warnings: [],
      synthesizeMissing: false,
    })).done
  }

  // -- contracts by hand ------------------------------------------------------------------------------------------

  async createContract(input: unknown): Promise<ContractResult & { announced: AnnounceCounts }> {
    return this.#jobs.run('contract', async () => {
      const made = contractFromCreate(input, {
        now: this.#c.clock.now(),
        labelKey: this.#c.keys.signer.publicKey,
        party: this.#init.party,
        random: this.#c.random,
      })
      if ((await this.#state.getContract(made.contractId)) != null) {
        throw new InvalidParametersError(`contractId: ${made.contractId} exists already (update it instead)`)
      }
      const result = await this.publisher.putContract(made.contractId, made.terms, made.content)
      this.dispatchEvent(new CustomEvent('contract', { detail: result }))
      return result
    })
  }

  async updateContract(contractId: string, changes: unknown): Promise<ContractResult & { announced: AnnounceCounts }> {
    return this.#jobs.run('contract', async () => {
      const state = await this.#contractState(contractId)
      if (state.status === 'revoked') throw new ContractRevokedError(`contract ${contractId} is revoked`)
      const current = await this.#c.records.getAs('consort/contract', state.record, { offline: true })
      const { content, terms } = contractFromUpdate(current.body, changes)
      const result = await this.publisher.putContract(contractId, terms, content)
      this.dispatchEvent(new CustomEvent('contract', { detail: result }))
      return result
    })
  }

  async revokeContract(
    contractId: string,
    input: unknown = {},
  ): Promise<{ contractId: string; revocations: unknown[]; announced: AnnounceCounts }> {
    const parsed = contractRevokeSchema.safeParse(input ?? {})
    if (!parsed.success) throw new InvalidParametersError(`reason: ${parsed.error.issues[0]?.message}`)
    return this.#jobs.run('contract', async () => {
      const state = await this.#contractState(contractId)
      if (state.status === 'revoked')
        return {
          contractId,
          revocations: state.revocation == null ? [] : [state.revocation],
          announced: noAnnouncements(),
        }
      const result = await this.publisher.revokeContract(state, parsed.data.reason)
      return { contractId, ...result }
    })
  }

  async #contractState(contractId: string): Promise<ContractState> {
    const state = await this.#state.getContract(contractId)
    if (state == null) throw new NotFoundError(`no contract ${contractId}`)
    return state
  }

  /** A contract's state and its current record. */
  async contract(contractId: string): Promise<{ state: ContractState; record: SignedRecord<'consort/contract'> }> {
    const state = await this.#contractState(contractId)
    return { state, record: await this.#c.records.getAs('consort/contract', state.record, { offline: true }) }
  }

  async contracts(options: { after?: string; limit?: number } = {}): Promise<ContractState[]> {
    return this.#state.listContracts(options.after, pageSize(options.limit))
  }

  async releases(options: { after?: string; limit?: number } = {}): Promise<ReleaseState[]> {
    return this.#state.listReleases(options.after, pageSize(options.limit))
  }

  async release(key: string): Promise<ReleaseState> {
    const state = (await this.#state.getRelease(key)) ?? (await this.#state.findRelease([normaliseReleaseKey(key)]))
    if (state == null) throw new NotFoundError(`no release ${key}`)
    return state
  }

  // -- escrow and announcements -----------------------------------------------------------------------------------

  /** Attempt every waiting escrow deposit now. */
  async flushEscrow(): Promise<{ delivered: number; pending: number }> {
    if (this.#escrow == null) throw new ProductionStoppedError('the production role is not started')
    return this.#escrow.flush()
  }

  async pendingEscrow() {
    if (this.#escrow == null) throw new ProductionStoppedError('the production role is not started')
    return (await this.#escrow.pending()).map((e) => ({
      id: e.id,
      registrar: e.registrar,
      escrows: e.escrows.length,
      attempts: e.attempts,
      created: e.created,
      lastError: e.lastError,
    }))
  }

  /** Announce every active release, manifest and contract again (bounded per round). */
  async reannounce(): Promise<AnnounceCounts> {
    const counts = noAnnouncements()
    const announcer = new Announcer({
      topics: this.#c.topics,
      credentials: this.#c.credentials,
      libp2p: this.#c.libp2p,
    })
    const catalog: SignedRecord[] = []
    const contracts: SignedRecord[] = []
    let budget = MAX_REANNOUNCE_RECORDS
    for (const release of await this.#state.listReleases(undefined, MAX_REANNOUNCE_RECORDS)) {
      if (release.status !== 'active' || budget <= 0) continue
      for (const isrc of release.tracks) {
        const track = await this.#state.getTrack(isrc)
        if (track?.status === 'active' && budget-- > 0)
          catalog.push(await this.#c.records.getAs('consort/manifest', track.manifest, { offline: true }))
      }
      if (release.record != null && budget-- > 0)
        catalog.push(await this.#c.records.getAs('consort/release', release.record, { offline: true }))
    }
    for (const contract of await this.#state.listContracts(undefined, MAX_REANNOUNCE_RECORDS)) {
      if (contract.status === 'active' && budget-- > 0)
        contracts.push(await this.#c.records.getAs('consort/contract', contract.record, { offline: true }))
    }
    await announcer.gossip('catalog', catalog, counts)
    await announcer.gossip('contracts', contracts, counts)
    await announcer.putLatest(catalog, counts)
    return counts
  }
}

/** A release key as the state keeps it: an ICPN in its GTIN-14 form (so UPC, EAN and GTIN-14 all find it). */
export function normaliseReleaseKey(key: string): string {
  if (key.startsWith('icpn:') && isIcpn(key.slice(5))) return `icpn:${icpnKey(key.slice(5))}`
  return key
}

function pageSize(limit: number | undefined): number {
  if (limit == null || !Number.isSafeInteger(limit) || limit < 1) return DEFAULT_PAGE_SIZE
  return Math.min(limit, MAX_PAGE_SIZE)
}
