import { type IdentifyResult, InvalidParametersError, type Libp2p, type PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Clock } from '../clock.ts'
import { withDeadline } from '../deadline.ts'
import { rpcCall } from '../rpc/client.ts'
import { protocolId } from '../rpc/constants.ts'
import { WireErrors } from '../rpc/errors.ts'
import { registerRpc } from '../rpc/server.ts'
import type { Acceptance, TopicBus } from '../topics/bus.ts'
import type { TopicName } from '../topics/names.ts'
import { type PullResponse, pullRequest, pullResponse } from './codec.ts'
import {
  SYNC_DEADLINE_MS,
  SYNC_INTERVAL_MS,
  SYNC_MAX_PAGES_PER_RUN,
  SYNC_MAX_REQUEST_BYTES,
  SYNC_MAX_RESPONSE_BYTES,
  SYNC_MAX_SUSPECTS,
  SYNC_OPS,
  SYNC_PAGE_MESSAGES,
  SYNC_PEERS_PER_ROUND,
  SYNC_PROTOCOL,
  SYNC_REDIAL_INTERVAL_MS,
  SYNC_REDIAL_TIMEOUT_MS,
  SYNC_SUSPECT_GIVE_UP_MS,
  SYNC_TOPICS,
} from './constants.ts'
import { SyncProtocolError } from './errors.ts'
import { type SyncDb, SyncLog } from './log.ts'

const log = logger('consort:sync')

export interface SyncServiceInit {
  libp2p: Libp2p
  topics: TopicBus
  db: SyncDb
  network: string
  clock: Clock
  /** Periodic pulls (ms); 0 pulls only on new connections. */
  intervalMs?: number
}

/** What one run with one peer did. */
export interface SyncRun {
  peer: string
  pages: number
  /** Messages the peer sent that this node did not have. */
  received: number
  accepted: number
  ignored: number
  rejected: number
  error?: string
}

export interface PeerSyncState {
  peer: string
  runs: number
  accepted: number
  rejected: number
  lastRunAt: number | null
  lastError: string | null
}

/**
 * Catch-up: a node that was offline or cut off learns what it missed from its peers, at once, instead of waiting for
 * re-announcements. Every node keeps a log of the messages it accepted on the topics that matter after an absence
 * (`SyncLog`) and serves it by position (`pull`); on every new connection to a peer that speaks the protocol, and
 * every `SYNC_INTERVAL_MS` with a few peers, it pulls what that peer accepted since the last time and takes each
 * message in through the topic bus: the very checks and handlers gossip goes through, in the peer's order.
 */
export class SyncService {
  readonly log: SyncLog
  readonly #init: SyncServiceInit
  readonly #protocol: string
  readonly #running = new Map<string, Promise<SyncRun>>()
  readonly #state = new Map<string, PeerSyncState>()
  readonly #controller = new AbortController()
  #unregister: (() => Promise<void>) | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #redialTimer: ReturnType<typeof setInterval> | undefined
  /** Peers whose pull went unanswered: their connections were closed, and they are dialled afresh until they answer. */
  readonly #suspects = new Map<string, { peer: PeerId; since: number; dialling: boolean }>()
  readonly #onAccepted = (event: Event) => {
    const acceptance = (event as CustomEvent<Acceptance>).detail
    this.log.append(acceptance).catch((err) => log.error('cannot log an accepted message: %e', err))
  }
  readonly #onIdentify = (event: CustomEvent<IdentifyResult>) => {
    if (!event.detail.protocols.includes(this.#protocol)) return
    void this.syncWith(event.detail.peerId)
  }

  constructor(init: SyncServiceInit) {
    this.#init = init
    this.#protocol = protocolId(init.network, SYNC_PROTOCOL)
    this.log = new SyncLog({ db: init.db, clock: init.clock })
  }

  get protocol(): string {
    return this.#protocol
  }

  /** Serve the log and start pulling: from every peer already connected, from each new one, and periodically. */
  async start(): Promise<void> {
    await this.log.open()
    this.#init.topics.addEventListener('accepted', this.#onAccepted)
    this.#unregister = await registerRpc(
      this.#init.libp2p,
      this.#protocol,
      { [SYNC_OPS.pull]: (body) => this.#servePull(body) },
      { maxRequestBytes: SYNC_MAX_REQUEST_BYTES, deadlineMs: SYNC_DEADLINE_MS },
    )
    this.#init.libp2p.addEventListener('peer:identify', this.#onIdentify)
    const interval = this.#init.intervalMs ?? SYNC_INTERVAL_MS
    if (interval > 0) {
      this.#timer = setInterval(() => void this.round(), interval)
      this.#timer.unref?.()
    }
    this.#redialTimer = setInterval(() => void this.#redialSuspects(), SYNC_REDIAL_INTERVAL_MS)
    this.#redialTimer.unref?.()
    void this.round(Number.POSITIVE_INFINITY)
  }

  async stop(): Promise<void> {
    this.#controller.abort()
    clearInterval(this.#timer)
    clearInterval(this.#redialTimer)
    this.#init.libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.#init.topics.removeEventListener('accepted', this.#onAccepted)
    await this.#unregister?.()
    await Promise.allSettled(this.#running.values())
    await this.log.settled()
  }

  /** Per-peer counters since start. */
  peers(): PeerSyncState[] {
    return [...this.#state.values()]
  }

  /** Pull from up to `count` connected peers that speak the protocol (those not pulled from for longest first). */
  async round(count = SYNC_PEERS_PER_ROUND): Promise<SyncRun[]> {
    const candidates: PeerId[] = []
    const seen = new Set<string>()
    for (const connection of this.#init.libp2p.getConnections()) {
      const peer = connection.remotePeer
      if (seen.has(peer.toString())) continue
      seen.add(peer.toString())
      try {
        const stored = await this.#init.libp2p.peerStore.get(peer)
        if (stored.protocols.includes(this.#protocol)) candidates.push(peer)
      } catch {
        // not identified yet: its identify event will start a pull
      }
    }
    candidates.sort(
      (a, b) =>
        (this.#state.get(a.toString())?.lastRunAt ?? -1) - (this.#state.get(b.toString())?.lastRunAt ?? -1) ||
        a.toString().localeCompare(b.toString()),
    )
    return Promise.all(candidates.slice(0, count).map((peer) => this.syncWith(peer)))
  }

  /** Pull everything new from one peer (at most `SYNC_MAX_PAGES_PER_RUN` pages); one run per peer at a time. */
  syncWith(peer: PeerId): Promise<SyncRun> {
    const key = peer.toString()
    const running = this.#running.get(key)
    if (running != null) return running
    const run = this.#pull(peer).finally(() => this.#running.delete(key))
    this.#running.set(key, run)
    return run
  }

  async #pull(peer: PeerId): Promise<SyncRun> {
    const key = peer.toString()
    const run: SyncRun = { peer: key, pages: 0, received: 0, accepted: 0, ignored: 0, rejected: 0 }
    const topics = this.#init.topics.subscribedTopics().filter((t) => SYNC_TOPICS.includes(t))
    if (topics.length === 0 || this.#controller.signal.aborted) return run
    try {
      let cursor = await this.log.cursor(key)
      for (let page = 0; page < SYNC_MAX_PAGES_PER_RUN && !this.#controller.signal.aborted; page++) {
        const answer = await this.#ask(peer, {
          topics,
          epoch: cursor?.epoch ?? null,
          after: cursor?.epoch != null ? cursor.after : 0,
          limit: SYNC_PAGE_MESSAGES,
        })
        run.pages += 1
        for (const message of answer.messages) {
          if (!topics.includes(message.topic))
            throw new SyncProtocolError(`the peer sent a message on ${message.topic}, which was not asked for`)
          if (await this.log.has(message.data)) continue
          run.received += 1
          const verdict = await this.#init.topics.ingest(message.topic as TopicName, message.data, peer)
          if (verdict === 'accept') run.accepted += 1
          else if (verdict === 'ignore') run.ignored += 1
          else run.rejected += 1
        }
        // Accepted messages are logged through the bus's event; wait for that before moving the cursor past them.
        await this.log.settled()
        cursor = { epoch: answer.epoch, after: answer.next }
        await this.log.setCursor(key, cursor)
        if (!answer.more) break
      }
    } catch (err) {
      run.error = (err as Error).message
      log('pull from %s failed: %e', key, err)
      const silent = ['RpcTimeoutError', 'RpcUnreachableError'].includes((err as Error).name)
      if (silent && !this.#controller.signal.aborted) await this.#suspect(peer)
    }
    const state = this.#state.get(key) ?? {
      peer: key,
      runs: 0,
      accepted: 0,
      rejected: 0,
      lastRunAt: null,
      lastError: null,
    }
    state.runs += 1
    state.accepted += run.accepted
    state.rejected += run.rejected
    state.lastRunAt = this.#init.clock.now()
    state.lastError = run.error ?? null
    this.#state.set(key, state)
    if (run.accepted > 0 || run.rejected > 0) log('pulled from %s: %o', key, run)
    return run
  }

  /**
   * A pull went unanswered for the whole deadline: the connection is dead or wedged (a cut link keeps it open, and TCP
   * retransmits only at its next back-off once the link is back). Close it and dial afresh until the peer answers.
   */
  async #suspect(peer: PeerId): Promise<void> {
    const key = peer.toString()
    if (!this.#suspects.has(key) && this.#suspects.size >= SYNC_MAX_SUSPECTS) return
    if (!this.#suspects.has(key)) this.#suspects.set(key, { peer, since: this.#init.clock.now(), dialling: false })
    log('%s did not answer a pull: closing its connections, redialling', key)
    await this.#init.libp2p.hangUp(peer).catch((err) => log('hang up %s: %e', key, err))
  }

  async #redialSuspects(): Promise<void> {
    const now = this.#init.clock.now()
    for (const [key, suspect] of this.#suspects) {
      if (suspect.dialling) continue
      if (now - suspect.since > SYNC_SUSPECT_GIVE_UP_MS) {
        this.#suspects.delete(key)
        continue
      }
      suspect.dialling = true
      const signal = withDeadline(SYNC_REDIAL_TIMEOUT_MS, this.#controller.signal).signal
      // A fresh connection: its identify starts a pull (see #onIdentify).
      this.#init.libp2p
        .dial(suspect.peer, { signal })
        .then(() => this.#suspects.delete(key))
        .catch((err) => log('redial %s: %e', key, err))
        .finally(() => {
          suspect.dialling = false
        })
    }
  }

  async #ask(peer: PeerId, request: Parameters<typeof pullRequest.parse>[0]): Promise<PullResponse> {
    const body = await rpcCall(this.#init.libp2p, peer, this.#protocol, SYNC_OPS.pull, request, {
      deadlineMs: SYNC_DEADLINE_MS,
      maxResponseBytes: SYNC_MAX_RESPONSE_BYTES,
      signal: this.#controller.signal,
      errors: WireErrors.shared,
    })
    const parsed = pullResponse.safeParse(body)
    if (!parsed.success) throw new SyncProtocolError(`malformed pull answer: ${parsed.error.issues[0]?.message}`)
    return parsed.data
  }

  async #servePull(body: unknown): Promise<PullResponse> {
    const parsed = pullRequest.safeParse(body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new InvalidParametersError(`${issue.path.join('.') || 'request'}: ${issue.message}`)
    }
    const request = parsed.data
    const after = request.epoch === this.log.epoch ? request.after : 0
    const page = await this.log.page(request.topics, after, request.limit)
    return {
      epoch: this.log.epoch,
      messages: page.entries.map((e) => ({ topic: e.topic, data: e.data })),
      next: page.next,
      more: page.more,
    }
  }
}
