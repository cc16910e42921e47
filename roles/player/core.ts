import { logger } from '@libp2p/logger'
import { createNodeKeys, type NodeKeys } from '../../keys/keystore.ts'
import { isError } from '../../protocols/errors.ts'
import { type DecodeOptions, decodeRecordAs, type SignedRecord } from '../../protocols/records/envelope.ts'
import type { RecordType } from '../../protocols/records/registry.ts'
import { loadOrCreateAccountKeys } from './account.ts'
import { sameBytes } from './bytes.ts'
import { COMPACT_AFTER_ENTRIES } from './constants.ts'
import { ENTRY_KINDS, LibraryInconsistencyError } from './entries.ts'
import { PlayerStoppedError, StoreTamperedError } from './errors.ts'
import { type HeldLicence, Library } from './library.ts'
import { type LogEntry, type NewEntry, type SalvagedEntry, TamperEvidentLog } from './log.ts'
import type { PlayerComponents } from './store.ts'
import type { PlayerInit } from './types.ts'

/**
 * The player's core: what every other part of the player shares and none may own alone — the signed log and the
 * library it adds up to, the one lock every change of them goes through, the store's verdict (verified or
 * tampered), the account key, and the player's "now" that never goes back. Buying, playback, usage reports and
 * resync are collaborators that take this core; none of them takes another's internals, and nothing here knows
 * them (which is what keeps `roles/player` free of import cycles: see `test/unit/architecture/cycles.test.ts`).
 */

const log = logger('consort:player')

export class PlayerCore {
  readonly components: PlayerComponents
  readonly init: PlayerInit
  /** Where the player's events (`licence:added`, `store:tampered`, …) are dispatched: the role itself. */
  readonly events: EventTarget
  /**
   * Whether the role is running: set by the role once its services are up, cleared first thing in `stop()`. A use
   * asked while it is not is refused (`PlayerStoppedError`), and device registration gives up.
   */
  running = false
  readonly #log: TamperEvidentLog
  #library: Library
  #account: NodeKeys | null = null
  #tampered: StoreTamperedError | null = null
  /** The latest time this player has seen (its clock never goes back for it). */
  #seen = 0
  #serial: Promise<unknown> = Promise.resolve()

  constructor(components: PlayerComponents, init: PlayerInit, events: EventTarget) {
    this.components = components
    this.init = init
    this.events = events
    this.#log = new TamperEvidentLog({ store: components.store, signer: components.keys.signer })
    this.#library = this.#newLibrary()
  }

  /** What the log adds up to. Replaced as a whole by compaction and resync: read it anew each time, never keep it. */
  get library(): Library {
    return this.#library
  }

  /** The account keys (loaded by `open`). */
  get account(): NodeKeys {
    if (this.#account === null) throw new PlayerStoppedError('the player is not started')
    return this.#account
  }

  /** The account keys, or null before `open` (for status, which answers before start too). */
  get accountOrNull(): NodeKeys | null {
    return this.#account
  }

  /** The problem with the local store, or null when it verifies. */
  get tampered(): StoreTamperedError | null {
    return this.#tampered
  }

  /** Entries in the log (for status). */
  get entries(): number {
    return this.#log.size
  }

  /** Load the account key and open (verify) the log (the role's template checked the store's layout version). */
  async open(): Promise<void> {
    this.#account = await this.#loadAccount()
    await this.#openStore()
  }

  /** Wait for the change under way, if any (at stop). */
  async settle(): Promise<void> {
    await this.#serial.catch(() => {})
  }

  /** Load the account key again (after `consort account import`). */
  async reloadAccount(): Promise<NodeKeys> {
    this.#account = await this.#loadAccount()
    return this.#account
  }

  async #loadAccount(): Promise<NodeKeys> {
    const { init, components: c } = this
    if (init.account !== undefined) return init.account
    if (c.dataDir !== null) return await loadOrCreateAccountKeys(c.dataDir, { random: c.random })
    return this.#account ?? (await createNodeKeys(c.random))
  }

  // ---------------------------------------------------------------------------------------------------------
  // The tamper-evident store

  #newLibrary(): Library {
    return new Library({
      decode: <T extends RecordType>(type: T, bytes: Uint8Array) => this.decode(type, bytes),
      ruleDefaults: this.components.network.body.policy.ruleDefaults,
    })
  }

  /** Decode a record this player keeps or was handed (checked against the network; dated no later than now). */
  decode<T extends RecordType>(type: T, bytes: Uint8Array): SignedRecord<T> {
    return decodeRecordAs(type, bytes, this.decodeOptions())
  }

  decodeOptions(): DecodeOptions {
    // Records in the log were verified when they arrived; `now` only bounds how far in the future they may be dated.
    const c = this.components
    return { network: c.network.name, now: this.now(), caps: c.network.caps }
  }

  async #openStore(): Promise<void> {
    const c = this.components
    this.#library = this.#newLibrary()
    try {
      const entries = await this.#log.open()
      for (const entry of entries) this.#library.apply(entry)
      if (entries.length === 0) {
        if (c.credentials.device() !== undefined) {
          throw new StoreTamperedError(0, 'the store is empty but this device was registered: its entries were deleted')
        }
        await this.commit([
          {
            kind: ENTRY_KINDS.genesis,
            data: { device: c.keys.signer.publicKey, account: this.account.signer.publicKey, reason: 'new', note: '' },
          },
        ])
      } else if (this.#library.device === null || !sameBytes(this.#library.device, c.keys.signer.publicKey)) {
        throw new StoreTamperedError(0, 'the store belongs to another device')
      }
      // Plays that were under way when the node last stopped are over: close them so they get reported.
      const open = this.#library.openEvents()
      if (open.length > 0) {
        await this.commit(open.map((t) => ({ kind: ENTRY_KINDS.end, data: { eventId: t.event.eventId } })))
      }
      this.#tampered = null
    } catch (err) {
      if (isError(err, StoreTamperedError)) this.#markTampered(err)
      else if (isError(err, LibraryInconsistencyError)) this.#markTampered(new StoreTamperedError(null, err.message))
      else throw err
    }
  }

  #markTampered(err: StoreTamperedError): void {
    this.#tampered = err
    log.error('licence store refused: %s', err.message)
    this.events.dispatchEvent(new CustomEvent('store:tampered', { detail: { message: err.message } }))
  }

  /** Before each use: the store must still be exactly what was verified and written. */
  async checkStore(): Promise<void> {
    if (!this.running) throw new PlayerStoppedError('the player is not started')
    if (this.#tampered !== null) throw this.#tampered
    try {
      await this.#log.verifyUnchanged()
    } catch (err) {
      if (isError(err, StoreTamperedError)) this.#markTampered(err)
      throw err
    }
  }

  /**
   * Now, as far as this player will believe: the clock, but never earlier than the latest time its store has evidence
   * of (its entries' times, its licences' signed times). A clock set back does not reopen a rental window or an
   * offline window, nor make an expired licence valid again (issue 11).
   */
  now(): number {
    const now = Math.max(this.components.clock.now(), this.#library.timeFloor, this.#seen)
    this.#seen = now
    return now
  }

  /**
   * A use refused because a window closed (rental, expiry, offline): that moment is evidence the store keeps, so that
   * setting the clock back — now or after a restart — does not reopen the window (issue 11).
   */
  async keepTime(reason: string): Promise<void> {
    if (reason !== 'rental-expired' && reason !== 'expired' && reason !== 'offline-too-long') return
    if (this.#library.timeFloor >= this.#seen) return
    await this.exclusive(() => this.commit([{ kind: ENTRY_KINDS.clock, data: {} }])).catch((err) =>
      log('cannot keep the time a window closed: %e', err),
    )
  }

  /** Run `fn` alone: every change of the log and of the library goes through here. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn)
    this.#serial = run.catch(() => {})
    return run
  }

  /** Append entries and fold them in (the caller holds the lock, or the change needs no decision). */
  async commit(entries: NewEntry[]): Promise<void> {
    if (this.#tampered !== null) throw this.#tampered
    const written = await this.#log.append(entries, this.now())
    for (const entry of written) this.#library.apply(entry)
    if (this.#log.size > (this.init.compactAfter ?? COMPACT_AFTER_ENTRIES)) {
      const snapshot = await this.#log.compact(this.#library.snapshot(), this.now())
      const library = this.#newLibrary()
      library.apply(snapshot)
      library.history.push(...this.#library.history)
      this.#library = library
      log('log compacted at entry %d', snapshot.seq)
    }
  }

  /** Every entry still stored that carries this device's signature, wherever it sits (for a resync). */
  async salvage(): Promise<{ entries: SalvagedEntry[]; unreadable: number }> {
    return await this.#log.salvage()
  }

  /** An empty library for this player (a resync builds the one it restores in it). */
  emptyLibrary(): Library {
    return this.#newLibrary()
  }

  /**
   * Rewrite the store atomically as a fresh chain of `entries` and load it: the end of a resync (the caller holds the
   * lock). The store verifies again afterwards.
   */
  async reset(entries: NewEntry[]): Promise<void> {
    const written: LogEntry[] = await this.#log.reset(entries, this.now())
    this.#library = this.#newLibrary()
    for (const entry of written) this.#library.apply(entry)
    this.#tampered = null
  }

  /** A licence is revoked when it is, or when its receipt was withdrawn (which revokes every licence made from it). */
  isRevoked(held: HeldLicence): boolean {
    const trust = this.components.trust
    return trust.isRevoked(held.record.id) || trust.isRevoked(held.record.body.receipt)
  }
}
