import type { Clock } from '../clock.ts'
import { MAX_TALLY_ENTRIES, MAX_TALLY_ENTRIES_PER_PEER, TALLY_TTL_MS } from './constants.ts'

export interface TallyInit {
  maxEntries?: number
  maxEntriesPerPeer?: number
  ttlMs?: number
}

interface PeerTally {
  /** CID (string) → bytes written and when, for blocks not yet acknowledged. */
  readonly blocks: Map<string, { bytes: number; at: number }>
}

/** What `claim` confirms: the blocks of those named that were served to the peer, each counted once. */
export interface Confirmed {
  blocks: number
  bytes: number
}

/**
 * The serving side's memory of what it wrote to whom: one entry per (peer, block) written and not yet
 * acknowledged. A block is acknowledged at most once per time it was served, so a player cannot collect two
 * acknowledgements for one delivery; a block served again (a re-download) may be acknowledged again. Bounded in
 * entries overall and per peer (the oldest peer, then the oldest entries, are forgotten first) and in age.
 */
export class ServedTally {
  readonly #clock: Clock
  readonly #maxEntries: number
  readonly #maxPerPeer: number
  readonly #ttlMs: number
  /** Insertion order is the order peers were first served: the oldest is forgotten first. */
  readonly #peers = new Map<string, PeerTally>()
  #entries = 0

  constructor(clock: Clock, init: TallyInit = {}) {
    this.#clock = clock
    this.#maxEntries = init.maxEntries ?? MAX_TALLY_ENTRIES
    this.#maxPerPeer = init.maxEntriesPerPeer ?? MAX_TALLY_ENTRIES_PER_PEER
    this.#ttlMs = init.ttlMs ?? TALLY_TTL_MS
  }

  get entries(): number {
    return this.#entries
  }

  /** One block written in full to `peer`. */
  served(peer: string, cid: string, bytes: number): void {
    let tally = this.#peers.get(peer)
    if (tally === undefined) {
      tally = { blocks: new Map() }
      this.#peers.set(peer, tally)
    }
    const known = tally.blocks.get(cid)
    if (known !== undefined) {
      // Served twice before an acknowledgement (an end-game copy): the player counts the block once.
      known.at = this.#clock.now()
      return
    }
    if (tally.blocks.size >= this.#maxPerPeer) {
      const oldest = tally.blocks.keys().next().value as string
      tally.blocks.delete(oldest)
      this.#entries--
    }
    tally.blocks.set(cid, { bytes, at: this.#clock.now() })
    this.#entries++
    while (this.#entries > this.#maxEntries) this.#forgetOldestPeer(peer)
  }

  /**
   * Confirm and forget the blocks of `cids` that were served to `peer` within the time to live. Blocks not served
   * to it (or already acknowledged) are not counted.
   */
  claim(peer: string, cids: Iterable<string>): Confirmed {
    const tally = this.#peers.get(peer)
    if (tally === undefined) return { blocks: 0, bytes: 0 }
    const oldest = this.#clock.now() - this.#ttlMs
    let blocks = 0
    let bytes = 0
    for (const cid of cids) {
      const entry = tally.blocks.get(cid)
      if (entry === undefined) continue
      tally.blocks.delete(cid)
      this.#entries--
      if (entry.at < oldest) continue
      blocks++
      bytes += entry.bytes
    }
    if (tally.blocks.size === 0) this.#peers.delete(peer)
    return { blocks, bytes }
  }

  #forgetOldestPeer(keep: string): void {
    for (const [peer, tally] of this.#peers) {
      if (peer === keep && this.#peers.size > 1) continue
      const oldest = tally.blocks.keys().next().value as string | undefined
      if (oldest === undefined) {
        this.#peers.delete(peer)
        return
      }
      tally.blocks.delete(oldest)
      this.#entries--
      if (tally.blocks.size === 0) this.#peers.delete(peer)
      return
    }
  }
}
