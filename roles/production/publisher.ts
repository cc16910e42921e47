import type { Helia } from '@helia/interface'
import * as dagCbor from '@ipld/dag-cbor'
import { logger } from '@libp2p/logger'
import type { CID } from 'multiformats/cid'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { toHex } from '../../keys/hex.ts'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { Random } from '../../keys/random.ts'
import { open, seal } from '../../keys/seal.ts'
import type { Clock } from '../../protocols/clock.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import type { RecordStore } from '../../protocols/records/store.ts'
import { MAX_REVOCATION_TARGETS, type RevocableKind } from '../../protocols/records/types/revocation.ts'
import type { Credentials } from '../role.ts'
import type { AnnounceCounts, Announcer } from './announce.ts'
import { scanAudio } from './audio/index.ts'
import { contractBody, dealContent, dealContractId, manifestBody, releaseBody, releaseContent } from './bodies.ts'
import { applyChange, Change } from './change.ts'
import { MAX_RECORDED_WARNINGS, SELF_SEAL_CONTEXT } from './constants.ts'
import { type ImportIssue, ImportRefusedError } from './errors.ts'
import type { DeliveryCounts, EscrowKey, EscrowOutbox } from './escrow.ts'
import { type PreviewFields, packageAudio, packagePreview, type SealPool } from './packaging/index.ts'
import type { DealPlan, ImportPlan } from './plan.ts'
import { type ContractState, type ProductionState, type ReleaseState, type TrackState, withHistory } from './state.ts'
import { type CheckedRelease, type CheckedTrack, loadAudio, sha256, validatePlan } from './validate.ts'

const log = logger('consort:production:publisher')

export type PublishProgress =
  | { phase: 'validating'; done: number; total: number }
  | {
      phase: 'packaging'
      release: string
      track: number
      tracks: number
      isrc: string
      segment: number
      segments: number
    }
  | { phase: 'committing' }
  | { phase: 'announcing' }
  | { phase: 'done' }

export interface TrackResult {
  isrc: string
  title: string
  manifest: CID
  seq: number
  /** A new manifest version was signed. */
  changed: boolean
  /** The segments and content key of the previous version were reused (the audio did not change). */
  audioReused: boolean
  keyId: Uint8Array
  codec: string
  durationMs: number
  segments: number
  preview: { startMs: number; durationMs: number; codec: string } | null
  synthesized: boolean
}

export interface ContractResult {
  contractId: string
  record: CID
  seq: number
  changed: boolean
}

export type ReleaseAction = 'new' | 'update' | 'unchanged' | 'takedown' | 'not-found'

export interface ReleaseResult {
  key: string
  action: ReleaseAction
  reason: string
  title: string | null
  /** The `consort/release` record, null when the release has no ICPN/GRid (its tracks stand alone). */
  release: CID | null
  seq: number
  tracks: TrackResult[]
  contracts: ContractResult[]
  revoked: Array<{ kind: RevocableKind; id: CID }>
  revocations: CID[]
}

export interface PublishResult {
  source: string
  releases: ReleaseResult[]
  warnings: ImportIssue[]
  announced: AnnounceCounts
  escrow: DeliveryCounts & { deposits: number }
}

export interface PublisherDeps {
  state: ProductionState
  helia: Helia
  records: RecordStore
  keys: NodeKeys
  clock: Clock
  random: Random
  network: NetworkContext
  credentials: Credentials
  announcer: Announcer
  escrow: EscrowOutbox
  segmentSize: number
  /** Packaging's worker threads (decision 0201); without them segments are sealed on this thread (0109). */
  sealPool?: SealPool | undefined
  defaultPreviewMs: number
}

export interface PublishOptions {
  signal?: AbortSignal
  onProgress?(progress: PublishProgress): void
}

/** The fields of a versioned record that make a new version: everything but `created` and `seq`. */
function sameContent(a: object, b: object): boolean {
  const strip = (body: object) => {
    const { created: _created, seq: _seq, ...rest } = body as Record<string, unknown>
    return rest
  }
  return bytesEqual(dagCbor.encode(strip(a)), dagCbor.encode(strip(b)))
}

/** The terms of a contract, without the content and ids the caller supplies. */
export type ContractTerms = Omit<DealPlan, 'path' | 'localId' | 'content' | 'wholeRelease'>

/**
 * Imports: check everything, then package, sign, commit, announce and escrow. Also the takedowns and the
 * revocations that updates imply. One import at a time (the role serialises them).
 */
export class Publisher {
  readonly #d: PublisherDeps

  constructor(deps: PublisherDeps) {
    this.#d = deps
  }

  get deps(): PublisherDeps {
    return this.#d
  }

  /** Run an import plan. Throws `ImportRefusedError` (nothing written) when anything in it is wrong. */
  async publish(plan: ImportPlan, options: PublishOptions = {}): Promise<PublishResult> {
    const { releases, warnings } = await validatePlan(plan, {
      network: this.#d.network.name,
      segmentSize: this.#d.segmentSize,
      defaultPreviewMs: this.#d.defaultPreviewMs,
      onTrack: (done, total) => options.onProgress?.({ phase: 'validating', done, total }),
    })
    const cert = this.#d.credentials.cert()
    if (cert == null || !cert.body.roles.includes('production')) {
      warnings.push({
        path: '/',
        value: '',
        message: 'this node holds no production certificate: peers will refuse its records until it is certified',
      })
    }
    const change = new Change(this.#d.state.batch())
    const results: ReleaseResult[] = []
    for (const release of releases) {
      options.signal?.throwIfAborted()
      results.push(
        release.plan.action === 'takedown'
          ? await this.#takedown(release, change, warnings)
          : await this.#publishRelease(release, change, warnings, options),
      )
    }
    options.onProgress?.({ phase: 'committing' })
    const applied = await applyChange(change, this.#d, options.signal)
    options.onProgress?.({ phase: 'done' })
    for (const r of results) log('%s %s: %s (%s)', plan.source, r.key, r.action, r.reason)
    return { source: plan.source, releases: results, warnings, ...applied }
  }

  /** The release keys any of `keys` already belongs to (for classifying a message before planning it). */
  async knownKeys(keys: readonly string[]): Promise<Set<string>> {
    const known = new Set<string>()
    for (const key of keys) if ((await this.#d.state.releaseKeyOf(key)) != null) known.add(key)
    return known
  }

  #sign<T extends Parameters<typeof signRecord>[0]>(
    type: T,
    body: Parameters<typeof signRecord<T>>[1],
  ): SignedRecord<T> {
    return signRecord(type, body, this.#d.keys.signer, this.#d.network.caps)
  }

  #selfSeal(contentKey: Uint8Array, keyId: Uint8Array): Uint8Array {
    return seal(this.#d.keys.sealing.publicKey, contentKey, `${SELF_SEAL_CONTEXT}/${toHex(keyId)}`, this.#d.random)
  }

  #selfOpen(track: TrackState): Uint8Array {
    return open(this.#d.keys.sealing, track.sealedKey, `${SELF_SEAL_CONTEXT}/${toHex(track.keyId)}`)
  }

  /** What the release was made from: equal digests, nothing to do. */
  #digest(release: CheckedRelease): Uint8Array {
    const { plan } = release
    return sha256(
      dagCbor.encode({
        segmentSize: this.#d.segmentSize,
        release: {
          keys: plan.keys,
          icpn: plan.icpn,
          grid: plan.grid,
          title: plan.title,
          artists: plan.artists,
          type: plan.type,
          label: plan.label,
          genre: plan.genre,
          releaseDate: plan.releaseDate,
        },
        tracks: release.tracks.map((t) => ({
          isrc: t.isrc,
          title: t.title,
          version: t.plan.version,
          artists: t.artists,
          genre: t.plan.genre,
          label: t.plan.label,
          year: t.plan.year,
          audio: t.sha256,
          clip: t.clip,
        })),
        deals: plan.deals.map(({ path: _path, ...deal }) => deal),
      }),
    )
  }

  async #publishRelease(
    release: CheckedRelease,
    change: Change,
    warnings: readonly ImportIssue[],
    options: PublishOptions,
  ): Promise<ReleaseResult> {
    const { plan } = release
    const existing = await this.#d.state.findRelease(plan.keys)
    const key = existing?.key ?? plan.keys[0]!
    const digest = this.#digest(release)
    if (existing != null && existing.status === 'active' && bytesEqual(existing.digest, digest)) {
      return this.#unchanged(existing)
    }
    const now = this.#d.clock.now()
    const action: ReleaseAction = existing == null ? 'new' : 'update'
    const escrowKeys: EscrowKey[] = []
    const tracks: TrackResult[] = []
    const manifests: Array<{ isrc: string; manifest: CID }> = []
    for (const [i, track] of release.tracks.entries()) {
      options.signal?.throwIfAborted()
      const result = await this.#publishTrack(release, track, key, change, escrowKeys, (segment, segments) =>
        options.onProgress?.({
          phase: 'packaging',
          release: key,
          track: i + 1,
          tracks: release.tracks.length,
          isrc: track.isrc,
          segment,
          segments,
        }),
      )
      tracks.push(result)
      manifests.push({ isrc: track.isrc, manifest: result.manifest })
    }

    // The release record, when the release has an ICPN or GRid.
    let record: SignedRecord<'consort/release'> | null = null
    let recordId = existing?.record ?? null
    let seq = existing == null ? 0 : existing.seq + 1
    if (releaseContent(plan) != null) {
      const candidate = this.#sign('consort/release', releaseBody(this.#d.network.name, now, seq, plan, manifests))
      const current =
        existing?.record == null
          ? null
          : await this.#d.records.getAs('consort/release', existing.record, { offline: true })
      if (current != null && existing?.status === 'active' && sameContent(current.body, candidate.body)) {
        seq = current.body.seq
      } else {
        record = candidate
        recordId = candidate.id
        change.blocks.push(candidate)
        change.catalog.push(candidate)
        change.latest.push(candidate)
        change.pinFlat.push(candidate.id)
      }
    } else {
      recordId = null
    }

    // Contracts: one per deal and commercial model, superseding the release's earlier versions by contract id.
    const isrcs = release.tracks.map((t) => t.isrc)
    const contracts: ContractResult[] = []
    for (const deal of plan.deals) {
      const contractId = dealContractId(key, deal)
      contracts.push(await this.#contractFor(contractId, deal, dealContent(deal, plan, isrcs), key, change, now))
    }
    const revoked: Array<{ kind: RevocableKind; id: CID }> = []
    const kept = new Set(contracts.map((c) => c.contractId))
    for (const contractId of existing?.contracts ?? []) {
      if (kept.has(contractId)) continue
      const state = await this.#d.state.getContract(contractId)
      if (state == null || state.status !== 'active') continue
      revoked.push(...state.history.map((id) => ({ kind: 'contract' as const, id })))
      change.batch.putContract({ ...state, status: 'revoked' })
    }
    // Tracks the release no longer lists are withdrawn unless another active release lists them.
    for (const isrc of existing?.tracks ?? []) {
      if (isrcs.includes(isrc)) continue
      revoked.push(...(await this.#releaseTrack(isrc, key, change)))
    }
    const revocations = this.#revoke(revoked, `superseded by an update of ${key}`, change)

    if (escrowKeys.length > 0) {
      const entries = this.#d.escrow.entries(`${key}/${seq}/${now}`, escrowKeys, record)
      for (const entry of entries) {
        change.batch.putOutbox(entry)
        change.deposits.push(entry.id)
      }
    }
    const state: ReleaseState = {
      key,
      aliases: [...new Set([...(existing?.aliases ?? []), ...plan.keys])],
      title: plan.title ?? key,
      seq,
      record: recordId,
      history: recordId == null ? (existing?.history ?? []) : withHistory(existing?.history ?? [], recordId),
      tracks: isrcs,
      contracts: contracts.map((c) => c.contractId),
      digest,
      status: 'active',
      updated: now,
      warnings: warnings.slice(0, MAX_RECORDED_WARNINGS).map(({ path, value, message }) => ({ path, value, message })),
    }
    change.batch.putRelease(state)
    return {
      key,
      action,
      reason: plan.reason,
      title: plan.title,
      release: recordId,
      seq,
      tracks,
      contracts,
      revoked,
      revocations,
    }
  }

  async #publishTrack(
    release: CheckedRelease,
    track: CheckedTrack,
    releaseKey: string,
    change: Change,
    escrowKeys: EscrowKey[],
    onSegment: (segment: number, segments: number) => void,
  ): Promise<TrackResult> {
    const now = this.#d.clock.now()
    const previous = await this.#d.state.getTrack(track.isrc)
    const previousManifest =
      previous == null ? null : await this.#d.records.getAs('consort/manifest', previous.manifest, { offline: true })
    const sameAudio =
      previous != null && bytesEqual(previous.audio, track.sha256) && previous.segmentSize === this.#d.segmentSize
    let contentKey: Uint8Array
    let keyId: Uint8Array
    let segments: CID[]
    let byteSize: number
    let preview: PreviewFields | null
    let audioReused = false
    if (sameAudio && previous != null && previousManifest != null) {
      contentKey = this.#selfOpen(previous)
      keyId = previous.keyId
      segments = previousManifest.body.segments
      byteSize = previousManifest.body.byteSize
      audioReused = true
      const sameClip =
        previous.clip.startMs === track.clip.startMs && previous.clip.durationMs === track.clip.durationMs
      preview = sameClip
        ? previousManifest.body.preview
        : await this.#preview(track, await this.#audio(track), onSegment)
    } else {
      const audio = await this.#audio(track)
      const packaged = await packageAudio(this.#d.helia.blockstore, audio, {
        segmentSize: this.#d.segmentSize,
        random: this.#d.random,
        pool: this.#d.sealPool,
        onSegment: ({ segment, segments }) => onSegment(segment, segments),
      })
      contentKey = packaged.contentKey
      keyId = packaged.keyId
      segments = packaged.segments
      byteSize = packaged.byteSize
      preview = await this.#preview(track, audio, onSegment)
    }
    const seq = previous == null ? 0 : previous.seq + 1
    const candidate = this.#sign(
      'consort/manifest',
      manifestBody(this.#d.network.name, now, seq, {
        isrc: track.isrc,
        title: track.title,
        artists: track.artists,
        track: track.plan,
        release: release.plan,
        durationMs: track.probe.durationMs,
        codec: track.probe.codec,
        mime: track.probe.mime,
        byteSize,
        segmentSize: this.#d.segmentSize,
        segments,
        keyId,
        preview,
      }),
    )
    let manifest: SignedRecord<'consort/manifest'> = candidate
    const unchanged =
      previous != null &&
      previousManifest != null &&
      previous.status === 'active' &&
      sameContent(previousManifest.body, candidate.body)
    if (unchanged) {
      manifest = previousManifest
    } else {
      change.blocks.push(candidate)
      change.catalog.push(candidate)
      change.latest.push(candidate)
      change.pinDeep.push(candidate.id)
      if (previousManifest != null && !previousManifest.id.equals(candidate.id)) change.unpin.push(previousManifest.id)
      escrowKeys.push({ isrc: track.isrc, manifest: candidate, contentKey })
    }
    change.batch.putTrack({
      isrc: track.isrc,
      seq: manifest.body.seq,
      manifest: manifest.id,
      history: withHistory(previous?.history ?? [], manifest.id),
      audio: track.sha256,
      segmentSize: this.#d.segmentSize,
      clip: track.clip,
      keyId,
      sealedKey: audioReused && previous != null ? previous.sealedKey : this.#selfSeal(contentKey, keyId),
      releases: [...new Set([...(previous?.releases ?? []), releaseKey])],
      status: 'active',
    })
    return {
      isrc: track.isrc,
      title: track.title,
      manifest: manifest.id,
      seq: manifest.body.seq,
      changed: !unchanged,
      audioReused,
      keyId,
      codec: manifest.body.codec,
      durationMs: manifest.body.durationMs,
      segments: manifest.body.segments.length,
      preview:
        manifest.body.preview == null
          ? null
          : {
              startMs: manifest.body.preview.startMs,
              durationMs: manifest.body.preview.durationMs,
              codec: manifest.body.preview.codec,
            },
      synthesized: track.origin.kind === 'synth',
    }
  }

  /** The audio bytes again, checked to be the ones validated. */
  async #audio(track: CheckedTrack): Promise<Uint8Array> {
    const bytes = await loadAudio(track.origin)
    if (!bytesEqual(sha256(bytes), track.sha256)) {
      throw new ImportRefusedError([
        {
          path: `${track.plan.path}/File`,
          value: track.plan.audio.uri ?? '',
          message: 'the file changed while it was being imported',
        },
      ])
    }
    return bytes
  }

  async #preview(
    track: CheckedTrack,
    audio: Uint8Array,
    onSegment: (segment: number, segments: number) => void,
  ): Promise<PreviewFields> {
    const scanned = scanAudio(audio, track.plan.audio.uri ?? track.isrc)
    const { fields } = await packagePreview(this.#d.helia.blockstore, scanned, track.clip, {
      segmentSize: this.#d.segmentSize,
      random: this.#d.random,
      pool: this.#d.sealPool,
      onSegment: ({ segment, segments }) => onSegment(segment, segments),
    })
    return fields
  }

  async #contractFor(
    contractId: string,
    deal: ContractTerms,
    content: string[],
    releaseKey: string | null,
    change: Change,
    now: number,
  ): Promise<ContractResult> {
    const previous = await this.#d.state.getContract(contractId)
    const seq = previous == null ? 0 : previous.seq + 1
    const candidate = this.#sign(
      'consort/contract',
      contractBody(this.#d.network.name, now, seq, contractId, this.#d.keys.signer.publicKey, deal, content),
    )
    if (previous != null && previous.status === 'active') {
      const current = await this.#d.records.getAs('consort/contract', previous.record, { offline: true })
      if (sameContent(current.body, candidate.body)) {
        return { contractId, record: previous.record, seq: previous.seq, changed: false }
      }
    }
    change.blocks.push(candidate)
    change.contracts.push(candidate)
    change.pinFlat.push(candidate.id)
    const state: ContractState = {
      contractId,
      seq,
      record: candidate.id,
      history: withHistory(previous?.history ?? [], candidate.id),
      status: 'active',
      origin: releaseKey == null ? 'manual' : 'release',
      release: releaseKey,
      revocation: null,
    }
    change.batch.putContract(state)
    return { contractId, record: candidate.id, seq, changed: true }
  }

  /** Sign a contract made by hand (or a new version of one): `contract create` / `contract update`. */
  async putContract(
    contractId: string,
    deal: ContractTerms,
    content: string[],
  ): Promise<ContractResult & { announced: AnnounceCounts }> {
    const change = new Change(this.#d.state.batch())
    const result = await this.#contractFor(contractId, deal, content, null, change, this.#d.clock.now())
    const applied = await applyChange(change, this.#d)
    return { ...result, announced: applied.announced }
  }

  /** Revoke a contract (all its versions) on the revocations topic. */
  async revokeContract(
    state: ContractState,
    reason: string,
  ): Promise<{ revocations: CID[]; announced: AnnounceCounts }> {
    const change = new Change(this.#d.state.batch())
    const revocations = this.#revoke(
      state.history.map((id) => ({ kind: 'contract' as const, id })),
      reason,
      change,
    )
    change.batch.putContract({ ...state, status: 'revoked', revocation: revocations[0] ?? null })
    const applied = await applyChange(change, this.#d)
    return { revocations, announced: applied.announced }
  }

  /** Withdraw a track from `releaseKey`; revoke its manifests when no other active release lists it. */
  async #releaseTrack(
    isrc: string,
    releaseKey: string,
    change: Change,
  ): Promise<Array<{ kind: RevocableKind; id: CID }>> {
    const track = await this.#d.state.getTrack(isrc)
    if (track == null) return []
    const others = track.releases.filter((r) => r !== releaseKey)
    let stillListed = false
    for (const other of others) {
      if ((await this.#d.state.getRelease(other))?.status === 'active') stillListed = true
    }
    if (stillListed) {
      change.batch.putTrack({ ...track, releases: others })
      return []
    }
    change.batch.putTrack({ ...track, releases: others, status: 'withdrawn' })
    return track.status === 'active' ? track.history.map((id) => ({ kind: 'manifest' as const, id })) : []
  }

  /** Sign the revocations of `targets` (in chunks of `MAX_REVOCATION_TARGETS`) into the change. */
  #revoke(targets: Array<{ kind: RevocableKind; id: CID }>, reason: string, change: Change): CID[] {
    const ids: CID[] = []
    for (let i = 0; i < targets.length; i += MAX_REVOCATION_TARGETS) {
      const record = this.#sign('consort/revocation', {
        network: this.#d.network.name,
        created: this.#d.clock.now(),
        targets: targets.slice(i, i + MAX_REVOCATION_TARGETS),
        reason: reason.slice(0, 512),
      })
      change.blocks.push(record)
      change.revocations.push(record)
      ids.push(record.id)
    }
    return ids
  }

  async #takedown(release: CheckedRelease, change: Change, warnings: ImportIssue[]): Promise<ReleaseResult> {
    const { plan } = release
    const existing = await this.#d.state.findRelease(plan.keys)
    const base = { tracks: [], contracts: [], revoked: [], revocations: [], title: plan.title, reason: plan.reason }
    if (existing == null) {
      warnings.push({
        path: plan.path,
        value: plan.keys.join(' '),
        message: 'takedown of a release this node never published: nothing to do',
      })
      return { ...base, key: plan.keys[0] ?? '', action: 'not-found', release: null, seq: 0 }
    }
    if (existing.status === 'withdrawn') {
      return { ...base, key: existing.key, action: 'unchanged', release: existing.record, seq: existing.seq }
    }
    const targets: Array<{ kind: RevocableKind; id: CID }> = []
    for (const contractId of existing.contracts) {
      const state = await this.#d.state.getContract(contractId)
      if (state == null || state.status !== 'active') continue
      targets.push(...state.history.map((id) => ({ kind: 'contract' as const, id })))
      change.batch.putContract({ ...state, status: 'revoked' })
    }
    targets.push(...existing.history.map((id) => ({ kind: 'release' as const, id })))
    for (const isrc of existing.tracks) targets.push(...(await this.#releaseTrack(isrc, existing.key, change)))
    const revocations = this.#revoke(targets, `${plan.reason}: ${existing.title} is taken down`, change)
    change.batch.putRelease({ ...existing, status: 'withdrawn', updated: this.#d.clock.now() })
    return {
      ...base,
      key: existing.key,
      action: 'takedown',
      release: existing.record,
      seq: existing.seq,
      revoked: targets,
      revocations,
    }
  }

  async #unchanged(existing: ReleaseState): Promise<ReleaseResult> {
    const tracks: TrackResult[] = []
    for (const isrc of existing.tracks) {
      const track = await this.#d.state.getTrack(isrc)
      if (track == null) continue
      const manifest = await this.#d.records.getAs('consort/manifest', track.manifest, { offline: true })
      tracks.push({
        isrc,
        title: manifest.body.title,
        manifest: track.manifest,
        seq: track.seq,
        changed: false,
        audioReused: true,
        keyId: track.keyId,
        codec: manifest.body.codec,
        durationMs: manifest.body.durationMs,
        segments: manifest.body.segments.length,
        preview:
          manifest.body.preview == null
            ? null
            : {
                startMs: manifest.body.preview.startMs,
                durationMs: manifest.body.preview.durationMs,
                codec: manifest.body.preview.codec,
              },
        synthesized: false,
      })
    }
    const contracts: ContractResult[] = []
    for (const contractId of existing.contracts) {
      const state = await this.#d.state.getContract(contractId)
      if (state != null) contracts.push({ contractId, record: state.record, seq: state.seq, changed: false })
    }
    return {
      key: existing.key,
      action: 'unchanged',
      reason: 'the same release was published before',
      title: existing.title,
      release: existing.record,
      seq: existing.seq,
      tracks,
      contracts,
      revoked: [],
      revocations: [],
    }
  }
}
