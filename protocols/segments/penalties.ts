import type { Clock } from '../clock.ts'

/**
 * Peers caught serving bad blocks. A fetch drops such a peer at once; the penalty book remembers it so that
 * the next fetches (on the same node) do not ask it again until its ban runs out. Bans grow with repeat
 * offences. The book is bounded: the least recently penalised peers are forgotten first.
 */
export interface PeerPenalty {
  peer: string
  badBlocks: number
  /** Clock time (ms) until which the peer is not asked. */
  bannedUntil: number
}

export interface PeerPenaltiesInit {
  /** First ban. An hour outlasts any fetch, so a bad seeder is not retried within one listening session. */
  banMs?: number
  /** Longest ban (bans double with each offence up to this). */
  maxBanMs?: number
  maxPeers?: number
}

export const DEFAULT_BAN_MS = 60 * 60 * 1000
export const DEFAULT_MAX_BAN_MS = 7 * 24 * 60 * 60 * 1000
/** Peers remembered; beyond this the oldest entries go (an attacker with many identities gains nothing by it). */
export const DEFAULT_MAX_PENALISED_PEERS = 4096

export class PeerPenalties {
  readonly #clock: Clock
  readonly #banMs: number
  readonly #maxBanMs: number
  readonly #maxPeers: number
  readonly #entries = new Map<string, PeerPenalty>()

  constructor(clock: Clock, init: PeerPenaltiesInit = {}) {
    this.#clock = clock
    this.#banMs = init.banMs ?? DEFAULT_BAN_MS
    this.#maxBanMs = init.maxBanMs ?? DEFAULT_MAX_BAN_MS
    this.#maxPeers = init.maxPeers ?? DEFAULT_MAX_PENALISED_PEERS
  }

  /** Record a bad block from `peer` and ban it. */
  penalise(peer: string): PeerPenalty {
    const previous = this.#entries.get(peer)
    const badBlocks = (previous?.badBlocks ?? 0) + 1
    const ban = Math.min(this.#maxBanMs, this.#banMs * 2 ** Math.min(badBlocks - 1, 30))
    const entry = { peer, badBlocks, bannedUntil: this.#clock.now() + ban }
    this.#entries.delete(peer)
    this.#entries.set(peer, entry)
    while (this.#entries.size > this.#maxPeers) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
    return { ...entry }
  }

  isBanned(peer: string): boolean {
    const entry = this.#entries.get(peer)
    return entry != null && entry.bannedUntil > this.#clock.now()
  }

  get(peer: string): PeerPenalty | undefined {
    const entry = this.#entries.get(peer)
    return entry == null ? undefined : { ...entry }
  }

  list(): PeerPenalty[] {
    return [...this.#entries.values()].map((e) => ({ ...e }))
  }
}
