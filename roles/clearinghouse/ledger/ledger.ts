/**
 * The clearinghouse's double-entry ledger on a LevelDB sublevel. Design (after TigerBeetle): accounts with four
 * balances; immutable transfers whose caller-chosen id is the idempotency key; two-phase transfers resolved
 * exactly once (post, void or expiry); linked chains that succeed or fail whole; every call one atomic write
 * batch; invariants asserted before every write; state read back from disk on open. See README.md.
 */
import { logger } from '@libp2p/logger'
import type { AbstractBatchOperation, AbstractBatchOptions, AbstractLevel } from 'abstract-level'
import type { Clock } from '../../../protocols/clock.ts'
import { systemClock } from '../../../protocols/clock.ts'
import { type AuditReader, auditLedger } from './audit.ts'
import {
  decodeAccount,
  decodeBalance,
  decodeIdValue,
  decodeInt,
  decodeResolution,
  decodeTransfer,
  EMPTY,
  encodeAccount,
  encodeBalance,
  encodeIdValue,
  encodeInt,
  encodeResolution,
  encodeTransfer,
  Keys,
  Prefix,
  pad,
  parseExpiryKey,
  parseIdKey,
  parseLogKey,
  prefixRange,
  type Resolution,
} from './codec.ts'
import { LEDGER_VERSION, MAX_BALANCE, MAX_EXPIRE_PER_BATCH, MAX_PAGE_SIZE, MAX_TRANSFER_AMOUNT } from './constants.ts'
import {
  AccountNotFoundError,
  InvalidClockError,
  InvalidQueryError,
  InvariantViolationError,
  LedgerClosedError,
  LedgerCorruptError,
  LedgerFailedError,
  LedgerVersionError,
} from './errors.ts'
import type {
  Account,
  AccountOutcome,
  AuditViolation,
  Balance,
  PendingState,
  PendingStatus,
  Transfer,
  TransferOutcome,
  TransferPage,
  TransferQuery,
  TransferResultCode,
} from './types.ts'
import { TransferResult } from './types.ts'
import {
  checkBatch,
  checkId,
  type NormalizedAccount,
  type NormalizedTransfer,
  normalizeAccount,
  normalizeTransfers,
} from './validate.ts'

const log = logger('consort:clearinghouse:ledger')

/**
 * The sublevel the ledger owns (nobody else writes into it). Any key/value encodings: the ledger passes its own
 * (`utf8` keys, `view` values) on every operation.
 */
// biome-ignore lint/suspicious/noExplicitAny: the ledger sets encodings per operation, so any sublevel fits
export type LedgerStore = AbstractLevel<any, any, any>

export interface LedgerInit {
  /** Where timestamps and expiry come from. Default: the system clock. */
  clock?: Clock
  /**
   * Write every batch with `sync: true` (fsync of LevelDB's log before the call returns), so an acknowledged
   * transfer survives a power cut, not only a process crash. Default true; turn off only in tests.
   */
  sync?: boolean
  /**
   * At open, check that the books balance per currency, that every account has a balance row and that the log's
   * sequence matches; refuse to open (LedgerCorruptError) otherwise. Default true. Open with false only to run
   * `audit()` on a damaged store.
   */
  verifyOnOpen?: boolean
}

const ENC = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

type Op = AbstractBatchOperation<LedgerStore, string, Uint8Array>

/** A pending transfer that is neither posted, voided nor expired: what the in-memory cache keeps of it. */
interface OpenPending {
  id: string
  debitAccountId: string
  creditAccountId: string
  amount: bigint
  currency: string
  expiresAt: number
}

const ZERO: Balance = Object.freeze({ debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n })
const BALANCE_FIELDS = ['debitsPosted', 'creditsPosted', 'debitsPending', 'creditsPending'] as const

function copyBalance(b: Balance): Balance {
  return {
    debitsPosted: b.debitsPosted,
    creditsPosted: b.creditsPosted,
    debitsPending: b.debitsPending,
    creditsPending: b.creditsPending,
  }
}

function copyAccount(a: Account): Account {
  return { ...a, flags: { ...a.flags } }
}

function addBalances(a: Balance, b: Balance): Balance {
  return {
    debitsPosted: a.debitsPosted + b.debitsPosted,
    creditsPosted: a.creditsPosted + b.creditsPosted,
    debitsPending: a.debitsPending + b.debitsPending,
    creditsPending: a.creditsPending + b.creditsPending,
  }
}

function subBalances(a: Balance, b: Balance): Balance {
  return {
    debitsPosted: a.debitsPosted - b.debitsPosted,
    creditsPosted: a.creditsPosted - b.creditsPosted,
    debitsPending: a.debitsPending - b.debitsPending,
    creditsPending: a.creditsPending - b.creditsPending,
  }
}

function overflows(b: Balance): boolean {
  return BALANCE_FIELDS.some((f) => b[f] > MAX_BALANCE)
}

/** Which limit of its flags a balance breaks, if any (pending amounts count against the limit). */
export function limitBreach(account: Account, b: Balance): 'exceeds_credits' | 'exceeds_debits' | null {
  if (account.flags.debitsMustNotExceedCredits && b.debitsPosted + b.debitsPending > b.creditsPosted) {
    return 'exceeds_credits'
  }
  if (account.flags.creditsMustNotExceedDebits && b.creditsPosted + b.creditsPending > b.debitsPosted) {
    return 'exceeds_debits'
  }
  return null
}

function sameAccount(a: Account, n: NormalizedAccount): boolean {
  return (
    a.currency === n.currency &&
    a.kind === n.kind &&
    a.owner === n.owner &&
    a.flags.debitsMustNotExceedCredits === n.flags.debitsMustNotExceedCredits &&
    a.flags.creditsMustNotExceedDebits === n.flags.creditsMustNotExceedDebits
  )
}

/**
 * The changes one call makes, held in memory until they are checked and written as one batch. Linked chains
 * roll back through an undo log; nothing here touches the ledger's caches, which change only after the write.
 */
class Staging {
  readonly now: number
  readonly baseSeq: number
  seq: number
  readonly balances = new Map<string, Balance>()
  /** New transfers of this batch, in `seq` order. */
  readonly transfers = new Map<string, Transfer>()
  /** Pending transfers created by this batch. */
  readonly opened = new Map<string, OpenPending>()
  /** Pending transfers resolved by this batch (post, void, expiry). */
  readonly resolutions = new Map<string, Resolution>()
  readonly #base: LedgerState
  readonly #stored: Map<string, Transfer>
  readonly #storedResolutions: Map<string, Resolution>
  readonly #undo: Array<() => void> = []

  constructor(
    base: LedgerState,
    now: number,
    stored: Map<string, Transfer> = new Map(),
    storedResolutions: Map<string, Resolution> = new Map(),
  ) {
    this.#base = base
    this.now = now
    this.baseSeq = base.seq
    this.seq = base.seq
    this.#stored = stored
    this.#storedResolutions = storedResolutions
  }

  balance(accountId: string): Balance {
    const b = this.balances.get(accountId) ?? this.#base.balances.get(accountId)
    if (b === undefined) throw new InvariantViolationError(`account ${accountId} has no balance`)
    return b
  }

  setBalance(accountId: string, b: Balance): void {
    const prev = this.balances.get(accountId)
    this.balances.set(accountId, b)
    this.#undo.push(() => {
      if (prev === undefined) this.balances.delete(accountId)
      else this.balances.set(accountId, prev)
    })
  }

  /** A transfer by id: created in this batch or read from the store before it started. */
  transfer(id: string): Transfer | undefined {
    return this.transfers.get(id) ?? this.#stored.get(id)
  }

  addTransfer(t: Transfer): void {
    this.transfers.set(t.id, t)
    this.seq = t.seq
    this.#undo.push(() => {
      this.transfers.delete(t.id)
      this.seq = t.seq - 1
    })
  }

  open(pendingId: string): OpenPending | undefined {
    if (this.resolutions.has(pendingId)) return undefined
    return this.opened.get(pendingId) ?? this.#base.open.get(pendingId)
  }

  addOpen(p: OpenPending): void {
    this.opened.set(p.id, p)
    this.#undo.push(() => this.opened.delete(p.id))
  }

  resolve(r: Resolution): void {
    this.resolutions.set(r.pendingId, r)
    this.#undo.push(() => this.resolutions.delete(r.pendingId))
  }

  pendingState(pendingId: string): PendingState {
    const r = this.resolutions.get(pendingId)
    if (r !== undefined) return r.state
    if (this.opened.has(pendingId) || this.#base.open.has(pendingId)) return 'pending'
    const stored = this.#storedResolutions.get(pendingId)
    if (stored !== undefined) return stored.state
    throw new LedgerCorruptError(`pending transfer ${pendingId} is neither open nor resolved`)
  }

  /** The pending transfer as it was open: created in this batch or open before it. */
  wasOpen(pendingId: string): OpenPending | undefined {
    return this.opened.get(pendingId) ?? this.#base.open.get(pendingId)
  }

  mark(): number {
    return this.#undo.length
  }

  rollback(mark: number): void {
    while (this.#undo.length > mark) this.#undo.pop()?.()
  }

  get empty(): boolean {
    return this.balances.size === 0 && this.transfers.size === 0 && this.resolutions.size === 0
  }
}

/** What the caches hold; they mirror the store and change only after a successful write. */
interface LedgerState {
  readonly accounts: Map<string, Account>
  readonly balances: Map<string, Balance>
  /** Per currency, the sums of all accounts' balances. */
  readonly totals: Map<string, Balance>
  readonly open: Map<string, OpenPending>
  seq: number
}

export class Ledger {
  readonly #store: LedgerStore
  readonly #clock: Clock
  readonly #sync: boolean
  readonly #state: LedgerState
  #earliestExpiry: number | null = null
  #earliestStale = true
  #tail: Promise<unknown> = Promise.resolve()
  #closed = false
  #failed: Error | null = null

  private constructor(store: LedgerStore, clock: Clock, sync: boolean, state: LedgerState) {
    this.#store = store
    this.#clock = clock
    this.#sync = sync
    this.#state = state
  }

  /** Transfers committed over the ledger's whole life (the sequence number of the last one). */
  get transferCount(): number {
    return this.#state.seq
  }

  /** Opens the ledger on `store`, reading its whole state back (accounts, balances, open pendings, sequence). */
  static async open(store: LedgerStore, init: LedgerInit = {}): Promise<Ledger> {
    const clock = init.clock ?? systemClock
    const verify = init.verifyOnOpen ?? true
    if (store.status === 'opening') await store.open()
    const versionBytes = await store.get<string, Uint8Array>(Keys.version, ENC)
    if (versionBytes === undefined) {
      for await (const key of store.keys<string>({ keyEncoding: 'utf8', limit: 1 })) {
        throw new LedgerVersionError(`none, but the store holds ${JSON.stringify(key)}`, LEDGER_VERSION)
      }
      await store.batch<string, Uint8Array>(
        [
          { type: 'put', key: Keys.version, value: encodeInt(LEDGER_VERSION) },
          { type: 'put', key: Keys.seq, value: encodeInt(0) },
        ],
        { ...ENC, sync: init.sync ?? true } as AbstractBatchOptions<string, Uint8Array>,
      )
    } else {
      const version = decodeInt(Keys.version, versionBytes)
      if (version !== LEDGER_VERSION) throw new LedgerVersionError(version, LEDGER_VERSION)
    }

    const state: LedgerState = {
      accounts: new Map(),
      balances: new Map(),
      totals: new Map(),
      open: new Map(),
      seq: 0,
    }
    const seqBytes = await store.get<string, Uint8Array>(Keys.seq, ENC)
    if (seqBytes === undefined) throw new LedgerCorruptError(`${Keys.seq} is missing`)
    state.seq = decodeInt(Keys.seq, seqBytes)

    for await (const [key, value] of store.iterator<string, Uint8Array>({ ...prefixRange(Prefix.account), ...ENC })) {
      const account = decodeAccount(key, value)
      if (account.id !== parseIdKey(key, Prefix.account)) throw new LedgerCorruptError(`${key} holds ${account.id}`)
      state.accounts.set(account.id, account)
    }
    for await (const [key, value] of store.iterator<string, Uint8Array>({ ...prefixRange(Prefix.balance), ...ENC })) {
      const id = parseIdKey(key, Prefix.balance)
      const account = state.accounts.get(id)
      if (account === undefined) {
        if (verify) throw new LedgerCorruptError(`balance row ${key} has no account`)
        continue
      }
      const balance = decodeBalance(key, value)
      state.balances.set(id, balance)
      state.totals.set(account.currency, addBalances(state.totals.get(account.currency) ?? ZERO, balance))
    }
    for (const account of state.accounts.values()) {
      if (!state.balances.has(account.id)) {
        if (verify) throw new LedgerCorruptError(`account ${account.id} has no balance row`)
        state.balances.set(account.id, ZERO)
        state.totals.set(account.currency, state.totals.get(account.currency) ?? ZERO)
      }
    }

    const expiring: Array<{ expiresAt: number; pendingId: string }> = []
    for await (const key of store.keys<string>({ ...prefixRange(Prefix.expiry), keyEncoding: 'utf8' })) {
      expiring.push(parseExpiryKey(key))
    }
    const pendingRows = await store.getMany<string, Uint8Array>(
      expiring.map((e) => Keys.transfer(e.pendingId)),
      ENC,
    )
    for (const [i, e] of expiring.entries()) {
      const bytes = pendingRows[i]
      const key = Keys.transfer(e.pendingId)
      if (bytes === undefined) {
        if (verify) throw new LedgerCorruptError(`open pending ${e.pendingId} has no transfer row`)
        continue
      }
      const t = decodeTransfer(key, bytes)
      if (verify && (t.kind !== 'pending' || t.expiresAt !== e.expiresAt)) {
        throw new LedgerCorruptError(`expiry index entry for ${e.pendingId} does not match its transfer`)
      }
      state.open.set(t.id, {
        id: t.id,
        debitAccountId: t.debitAccountId,
        creditAccountId: t.creditAccountId,
        amount: t.amount,
        currency: t.currency,
        expiresAt: e.expiresAt,
      })
    }

    if (verify) {
      for (const [currency, total] of state.totals) {
        if (total.debitsPosted !== total.creditsPosted || total.debitsPending !== total.creditsPending) {
          throw new LedgerCorruptError(`the ${currency} books do not balance`)
        }
      }
      let lastSeq = 0
      for await (const key of store.keys<string>({
        ...prefixRange(Prefix.log),
        keyEncoding: 'utf8',
        reverse: true,
        limit: 1,
      })) {
        lastSeq = parseLogKey(key)
      }
      if (lastSeq !== state.seq) throw new LedgerCorruptError(`${Keys.seq} is ${state.seq}, the log ends at ${lastSeq}`)
    }
    log('opened: %d accounts, %d open pending transfers, seq %d', state.accounts.size, state.open.size, state.seq)
    return new Ledger(store, clock, init.sync ?? true, state)
  }

  /** Waits for calls in progress; later calls throw LedgerClosedError. The store stays open (its owner closes it). */
  async close(): Promise<void> {
    this.#closed = true
    await this.#tail
  }

  // ---- accounts ---------------------------------------------------------------------------------------------

  /**
   * Creates accounts, atomically. Per item: `ok`, `exists` (same id and fields: success) or
   * `exists_with_different_fields`. Malformed input throws before anything is written.
   */
  async createAccounts(accounts: readonly unknown[]): Promise<AccountOutcome[]> {
    const list = checkBatch('accounts', accounts).map((a, i) => normalizeAccount(`accounts[${i}]`, a))
    return this.#exclusive(async () => {
      const now = this.#now()
      const created = new Map<string, Account>()
      const results: AccountOutcome[] = []
      for (const [index, n] of list.entries()) {
        const existing = created.get(n.id) ?? this.#state.accounts.get(n.id)
        if (existing !== undefined) {
          results.push({
            index,
            id: n.id,
            result: sameAccount(existing, n) ? 'exists' : 'exists_with_different_fields',
          })
          continue
        }
        created.set(n.id, { ...n, flags: { ...n.flags }, timestamp: now })
        results.push({ index, id: n.id, result: 'ok' })
      }
      if (created.size === 0) return results
      const ops: Op[] = []
      for (const a of created.values()) {
        ops.push({ type: 'put', key: Keys.account(a.id), value: encodeAccount(a) })
        ops.push({ type: 'put', key: Keys.balance(a.id), value: encodeBalance(ZERO) })
      }
      await this.#write(ops)
      for (const a of created.values()) {
        this.#state.accounts.set(a.id, a)
        this.#state.balances.set(a.id, ZERO)
        if (!this.#state.totals.has(a.currency)) this.#state.totals.set(a.currency, ZERO)
      }
      log('created %d accounts', created.size)
      return results
    })
  }

  async getAccount(id: string): Promise<Account | undefined> {
    checkId('id', id)
    return this.#exclusive(async () => {
      const a = this.#state.accounts.get(id)
      return a === undefined ? undefined : copyAccount(a)
    })
  }

  /** An account's balances, after expiring any reservation whose time has come. */
  async balance(id: string): Promise<Balance> {
    checkId('id', id)
    return this.#exclusive(async () => {
      await this.#expireIfDue()
      const b = this.#state.balances.get(id)
      if (b === undefined) throw new AccountNotFoundError(id)
      return copyBalance(b)
    })
  }

  // ---- transfers --------------------------------------------------------------------------------------------

  /**
   * Applies transfers in order, as one atomic write. Per item: `ok`, `exists` (same id and fields were applied
   * before: success) or a code naming why it was refused (see TransferResult). A transfer with `linked: true`
   * succeeds or fails together with the next one; a chain whose items are all `ok`/`exists` succeeds, otherwise
   * none of its new transfers is applied: the failing item reports its reason, the others `linked_event_failed`.
   * Malformed input throws a typed error naming the field before anything is applied.
   */
  async createTransfers(transfers: readonly unknown[]): Promise<TransferOutcome[]> {
    const list = normalizeTransfers(transfers)
    if (list.length === 0) return []
    return this.#exclusive(async () => {
      const now = this.#now()
      const ids = new Set<string>()
      const pendingIds = new Set<string>()
      for (const n of list) {
        ids.add(n.id)
        if (n.pendingId !== null) {
          ids.add(n.pendingId)
          pendingIds.add(n.pendingId)
        }
      }
      const stored = await this.#readTransfers([...ids])
      const resolvedIds = [...pendingIds].filter(
        (id) => !this.#state.open.has(id) && stored.get(id)?.kind === 'pending',
      )
      const storedResolutions = await this.#readResolutions(resolvedIds)
      const s = new Staging(this.#state, now, stored, storedResolutions)

      // Time first: reservations whose time has come are released before anything else looks at balances.
      await this.#stageDueExpiries(s)
      for (const id of pendingIds) {
        const p = s.open(id)
        if (p !== undefined && p.expiresAt <= now) this.#stageExpiry(s, p)
      }

      const results: TransferOutcome[] = new Array(list.length)
      let start = 0
      while (start < list.length) {
        let end = start
        while (list[end]?.linked === true) end++
        const mark = s.mark()
        let failed = -1
        let reason: TransferResultCode = TransferResult.ok
        for (let i = start; i <= end; i++) {
          const n = list[i]!
          const result = this.#apply(s, n)
          results[i] = { index: i, id: n.id, result }
          if (result !== 'ok' && result !== 'exists') {
            failed = i
            reason = result
            break
          }
        }
        if (failed >= 0 && end > start) {
          s.rollback(mark)
          for (let i = start; i <= end; i++) {
            const n = list[i]!
            results[i] = { index: i, id: n.id, result: i === failed ? reason : TransferResult.linkedEventFailed }
          }
        }
        start = end + 1
      }
      await this.#commit(s)
      return results
    })
  }

  async getTransfer(id: string): Promise<Transfer | undefined> {
    checkId('id', id)
    return this.#exclusive(async () => (await this.#readTransfers([id])).get(id))
  }

  /** The state of a pending transfer (after expiring any whose time has come), or undefined if `id` is not one. */
  async pendingStatus(id: string): Promise<PendingStatus | undefined> {
    checkId('id', id)
    return this.#exclusive(async () => {
      await this.#expireIfDue()
      const t = (await this.#readTransfers([id])).get(id)
      if (t === undefined || t.kind !== 'pending' || t.expiresAt === null) return undefined
      if (this.#state.open.has(id)) {
        return {
          pendingId: id,
          state: 'pending',
          expiresAt: t.expiresAt,
          resolvedBy: null,
          postedAmount: 0n,
          resolvedAt: null,
        }
      }
      const r = (await this.#readResolutions([id])).get(id)
      if (r === undefined) throw new LedgerCorruptError(`pending transfer ${id} is neither open nor resolved`)
      return {
        pendingId: id,
        state: r.state,
        expiresAt: t.expiresAt,
        resolvedBy: r.transferId,
        postedAmount: r.postedAmount,
        resolvedAt: r.timestamp,
      }
    })
  }

  /**
   * A page of transfers in log order (oldest first), all of them or those of one account, after the cursor
   * `after` (a `seq`; the previous page's `next`). `limit` is 1..MAX_PAGE_SIZE.
   */
  async transfers(query: TransferQuery): Promise<TransferPage> {
    if (typeof query !== 'object' || query === null) throw new InvalidQueryError('query', query, 'must be an object')
    const { accountId, after = 0, limit } = query
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new InvalidQueryError('query.limit', limit, `must be an integer in 1..${MAX_PAGE_SIZE}`)
    }
    if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0) {
      throw new InvalidQueryError('query.after', after, 'must be a non-negative integer (a seq)')
    }
    if (accountId !== undefined) checkId('query.accountId', accountId)
    return this.#exclusive(async () => {
      let range: { gt: string; lt: string }
      if (accountId === undefined) {
        range = { gt: Keys.log(after), lt: prefixRange(Prefix.log).lt }
      } else {
        if (!this.#state.accounts.has(accountId)) throw new AccountNotFoundError(accountId)
        range = { gt: Keys.accountIndex(accountId, after), lt: prefixRange(Keys.accountIndexPrefix(accountId)).lt }
      }
      const ids: string[] = []
      for await (const [key, value] of this.#store.iterator<string, Uint8Array>({ ...range, ...ENC, limit })) {
        ids.push(decodeIdValue(key, value))
      }
      const found = await this.#readTransfers(ids)
      const transfers: Transfer[] = []
      for (const id of ids) {
        const t = found.get(id)
        if (t === undefined) throw new LedgerCorruptError(`transfer ${id} is indexed but missing`)
        transfers.push(t)
      }
      const last = transfers.at(-1)
      return { transfers, next: transfers.length === limit && last !== undefined ? last.seq : null }
    })
  }

  /**
   * Releases the reservations of pending transfers whose timeout has passed (at most MAX_EXPIRE_PER_BATCH per
   * call; call again while it returns that many). Returns how many expired.
   */
  async expirePending(): Promise<number> {
    return this.#exclusive(async () => this.#expireDue())
  }

  /**
   * Recomputes every balance from the transfer log on disk and checks it against the stored balances, the
   * caches, the indexes and every invariant. Returns what is wrong, naming accounts, transfers and keys; empty
   * means clean. Reads everything: O(transfers) time, O(accounts + pending transfers) memory.
   */
  async audit(): Promise<AuditViolation[]> {
    return this.#exclusive(async () => {
      const reader: AuditReader = {
        get: (key) => this.#store.get<string, Uint8Array>(key, ENC),
        getMany: (keys) => this.#store.getMany<string, Uint8Array>(keys, ENC),
        entries: (range) => this.#store.iterator<string, Uint8Array>({ ...range, ...ENC }),
      }
      return auditLedger(reader, {
        accounts: this.#state.accounts,
        balances: this.#state.balances,
        open: new Map([...this.#state.open].map(([id, p]) => [id, p.expiresAt])),
        seq: this.#state.seq,
      })
    })
  }

  // ---- internals --------------------------------------------------------------------------------------------

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new LedgerClosedError())
    const run = this.#tail.then(() => {
      if (this.#failed !== null) throw new LedgerFailedError(this.#failed)
      return fn()
    })
    this.#tail = run.catch(() => {})
    return run
  }

  #now(): number {
    const now = this.#clock.now()
    if (!Number.isSafeInteger(now) || now < 0) throw new InvalidClockError(now)
    return now
  }

  async #readTransfers(ids: string[]): Promise<Map<string, Transfer>> {
    const out = new Map<string, Transfer>()
    if (ids.length === 0) return out
    const rows = await this.#store.getMany<string, Uint8Array>(
      ids.map((id) => Keys.transfer(id)),
      ENC,
    )
    for (const [i, id] of ids.entries()) {
      const bytes = rows[i]
      if (bytes !== undefined) out.set(id, decodeTransfer(Keys.transfer(id), bytes))
    }
    return out
  }

  async #readResolutions(ids: string[]): Promise<Map<string, Resolution>> {
    const out = new Map<string, Resolution>()
    if (ids.length === 0) return out
    const rows = await this.#store.getMany<string, Uint8Array>(
      ids.map((id) => Keys.resolution(id)),
      ENC,
    )
    for (const [i, id] of ids.entries()) {
      const bytes = rows[i]
      if (bytes !== undefined) out.set(id, decodeResolution(Keys.resolution(id), bytes))
    }
    return out
  }

  #apply(s: Staging, n: NormalizedTransfer): TransferResultCode {
    const existing = s.transfer(n.id)
    if (existing !== undefined)
      return this.#same(s, existing, n) ? TransferResult.exists : TransferResult.existsWithDifferentFields
    return n.kind === 'posted' || n.kind === 'pending' ? this.#applyNew(s, n) : this.#applyResolution(s, n)
  }

  /** Does a retry carry the same fields as the transfer that was applied under its id? */
  #same(s: Staging, t: Transfer, n: NormalizedTransfer): boolean {
    if (t.kind !== n.kind || t.code !== n.code || t.reference !== n.reference || t.userData !== n.userData) return false
    switch (n.kind) {
      case 'posted':
      case 'pending':
        return (
          t.debitAccountId === n.debitAccountId &&
          t.creditAccountId === n.creditAccountId &&
          t.amount === n.amount &&
          t.timeoutMs === n.timeoutMs
        )
      case 'post_pending': {
        if (t.pendingId === null || t.pendingId !== n.pendingId) return false
        // An omitted amount means "all of it": compare with the pending amount.
        const asked = n.amount ?? s.transfer(t.pendingId)?.amount
        return asked === t.amount
      }
      case 'void_pending':
        return t.pendingId === n.pendingId
    }
  }

  #applyNew(s: Staging, n: NormalizedTransfer): TransferResultCode {
    const debit = this.#state.accounts.get(n.debitAccountId!)
    if (debit === undefined) return TransferResult.debitAccountNotFound
    const credit = this.#state.accounts.get(n.creditAccountId!)
    if (credit === undefined) return TransferResult.creditAccountNotFound
    if (debit.currency !== credit.currency) return TransferResult.accountsMustHaveSameCurrency
    const amount = n.amount!
    const pending = n.kind === 'pending'
    const d = s.balance(debit.id)
    const c = s.balance(credit.id)
    const dNew = pending
      ? { ...d, debitsPending: d.debitsPending + amount }
      : { ...d, debitsPosted: d.debitsPosted + amount }
    const cNew = pending
      ? { ...c, creditsPending: c.creditsPending + amount }
      : { ...c, creditsPosted: c.creditsPosted + amount }
    if (overflows(dNew) || overflows(cNew)) return TransferResult.overflowsBalance
    if (limitBreach(debit, dNew) !== null) return TransferResult.exceedsCredits
    if (limitBreach(credit, cNew) !== null) return TransferResult.exceedsDebits
    s.setBalance(debit.id, dNew)
    s.setBalance(credit.id, cNew)
    const expiresAt = pending ? s.now + n.timeoutMs! : null
    s.addTransfer({
      id: n.id,
      kind: n.kind,
      debitAccountId: debit.id,
      creditAccountId: credit.id,
      amount,
      currency: debit.currency,
      code: n.code,
      reference: n.reference,
      userData: n.userData,
      pendingId: null,
      timeoutMs: n.timeoutMs,
      expiresAt,
      timestamp: s.now,
      seq: s.seq + 1,
    })
    if (pending) {
      s.addOpen({
        id: n.id,
        debitAccountId: debit.id,
        creditAccountId: credit.id,
        amount,
        currency: debit.currency,
        expiresAt: expiresAt!,
      })
    }
    return TransferResult.ok
  }

  #applyResolution(s: Staging, n: NormalizedTransfer): TransferResultCode {
    const p = s.transfer(n.pendingId!)
    if (p === undefined) return TransferResult.pendingTransferNotFound
    if (p.kind !== 'pending') return TransferResult.pendingTransferNotPending
    switch (s.pendingState(p.id)) {
      case 'posted':
        return TransferResult.pendingTransferAlreadyPosted
      case 'voided':
        return TransferResult.pendingTransferAlreadyVoided
      case 'expired':
        return TransferResult.pendingTransferExpired
      case 'pending':
        break
    }
    if (p.expiresAt === null || p.expiresAt <= s.now) {
      throw new InvariantViolationError(`pending transfer ${p.id} is due but was not expired first`)
    }
    const post = n.kind === 'post_pending'
    const posted = post ? (n.amount ?? p.amount) : 0n
    if (posted > p.amount) return TransferResult.exceedsPendingTransferAmount
    const debit = this.#state.accounts.get(p.debitAccountId)
    const credit = this.#state.accounts.get(p.creditAccountId)
    if (debit === undefined || credit === undefined) {
      throw new InvariantViolationError(`pending transfer ${p.id} names an account that does not exist`)
    }
    const d = s.balance(debit.id)
    const c = s.balance(credit.id)
    const dNew = { ...d, debitsPending: d.debitsPending - p.amount, debitsPosted: d.debitsPosted + posted }
    const cNew = { ...c, creditsPending: c.creditsPending - p.amount, creditsPosted: c.creditsPosted + posted }
    if (overflows(dNew) || overflows(cNew)) return TransferResult.overflowsBalance
    if (limitBreach(debit, dNew) !== null) return TransferResult.exceedsCredits
    if (limitBreach(credit, cNew) !== null) return TransferResult.exceedsDebits
    s.setBalance(debit.id, dNew)
    s.setBalance(credit.id, cNew)
    s.addTransfer({
      id: n.id,
      kind: n.kind,
      debitAccountId: debit.id,
      creditAccountId: credit.id,
      amount: post ? posted : p.amount,
      currency: p.currency,
      code: n.code,
      reference: n.reference,
      userData: n.userData,
      pendingId: p.id,
      timeoutMs: null,
      expiresAt: null,
      timestamp: s.now,
      seq: s.seq + 1,
    })
    s.resolve({
      pendingId: p.id,
      state: post ? 'posted' : 'voided',
      transferId: n.id,
      postedAmount: posted,
      timestamp: s.now,
    })
    return TransferResult.ok
  }

  #stageExpiry(s: Staging, p: OpenPending): void {
    const d = s.balance(p.debitAccountId)
    const c = s.balance(p.creditAccountId)
    s.setBalance(p.debitAccountId, { ...d, debitsPending: d.debitsPending - p.amount })
    s.setBalance(p.creditAccountId, { ...c, creditsPending: c.creditsPending - p.amount })
    s.resolve({ pendingId: p.id, state: 'expired', transferId: null, postedAmount: 0n, timestamp: s.now })
  }

  /** Stages the expiry of up to MAX_EXPIRE_PER_BATCH due pending transfers, oldest deadline first. */
  async #stageDueExpiries(s: Staging): Promise<void> {
    if (!this.#anyDue(s.now)) return
    const range = { gte: Prefix.expiry, lt: `${Prefix.expiry}${pad(s.now + 1)}` }
    for await (const key of this.#store.keys<string>({ ...range, keyEncoding: 'utf8', limit: MAX_EXPIRE_PER_BATCH })) {
      const { pendingId } = parseExpiryKey(key)
      const p = s.open(pendingId)
      if (p === undefined) throw new LedgerCorruptError(`expiry index ${key} names no open pending transfer`)
      this.#stageExpiry(s, p)
    }
  }

  async #expireDue(): Promise<number> {
    const s = new Staging(this.#state, this.#now())
    await this.#stageDueExpiries(s)
    await this.#commit(s)
    return s.resolutions.size
  }

  async #expireIfDue(): Promise<void> {
    if (this.#anyDue(this.#now())) await this.#expireDue()
  }

  #anyDue(now: number): boolean {
    if (this.#earliestStale) {
      let earliest: number | null = null
      for (const p of this.#state.open.values()) if (earliest === null || p.expiresAt < earliest) earliest = p.expiresAt
      this.#earliestExpiry = earliest
      this.#earliestStale = false
    }
    return this.#earliestExpiry !== null && this.#earliestExpiry <= now
  }

  /**
   * Checks every invariant on the staged changes, writes them as one batch, then updates the caches. A failed
   * check throws InvariantViolationError and writes nothing.
   */
  async #commit(s: Staging): Promise<void> {
    if (s.empty) return
    const totals = this.#assertInvariants(s)
    const ops: Op[] = []
    for (const t of s.transfers.values()) {
      ops.push({ type: 'put', key: Keys.transfer(t.id), value: encodeTransfer(t) })
      const idValue = encodeIdValue(t.id)
      ops.push({ type: 'put', key: Keys.log(t.seq), value: idValue })
      ops.push({ type: 'put', key: Keys.accountIndex(t.debitAccountId, t.seq), value: idValue })
      ops.push({ type: 'put', key: Keys.accountIndex(t.creditAccountId, t.seq), value: idValue })
    }
    for (const p of s.opened.values()) {
      if (!s.resolutions.has(p.id)) ops.push({ type: 'put', key: Keys.expiry(p.expiresAt, p.id), value: EMPTY })
    }
    for (const r of s.resolutions.values()) {
      ops.push({ type: 'put', key: Keys.resolution(r.pendingId), value: encodeResolution(r) })
      const before = this.#state.open.get(r.pendingId)
      if (before !== undefined) ops.push({ type: 'del', key: Keys.expiry(before.expiresAt, r.pendingId) })
    }
    for (const [id, b] of s.balances) ops.push({ type: 'put', key: Keys.balance(id), value: encodeBalance(b) })
    if (s.seq !== s.baseSeq) ops.push({ type: 'put', key: Keys.seq, value: encodeInt(s.seq) })
    await this.#write(ops)

    const state = this.#state
    for (const [id, b] of s.balances) state.balances.set(id, b)
    for (const [currency, total] of totals) state.totals.set(currency, total)
    for (const p of s.opened.values()) {
      if (s.resolutions.has(p.id)) continue
      state.open.set(p.id, p)
      if (!this.#earliestStale && (this.#earliestExpiry === null || p.expiresAt < this.#earliestExpiry)) {
        this.#earliestExpiry = p.expiresAt
      }
    }
    for (const id of s.resolutions.keys()) {
      const before = state.open.get(id)
      if (before === undefined) continue
      state.open.delete(id)
      if (before.expiresAt === this.#earliestExpiry) this.#earliestStale = true
    }
    state.seq = s.seq
    log.trace('committed %d transfers, %d resolutions, seq %d', s.transfers.size, s.resolutions.size, s.seq)
  }

  async #write(ops: Op[]): Promise<void> {
    try {
      await this.#store.batch<string, Uint8Array>(ops, { ...ENC, sync: this.#sync } as AbstractBatchOptions<
        string,
        Uint8Array
      >)
    } catch (err) {
      // Whether the batch reached the disk is unknown: the caches may no longer mirror it. Refuse everything
      // until the ledger is reopened (which reads the truth back).
      this.#failed = err as Error
      log.error('write failed, ledger stopped until reopened: %e', err)
      throw err
    }
  }

  /**
   * The invariants, asserted on the staged changes before they are written. Balance changes are recomputed a
   * second way, from the staged transfers and expiries alone, and must agree with the staged balances; per
   * currency the books must balance; no flagged account may end beyond its limit. Returns the new totals.
   */
  #assertInvariants(s: Staging): Map<string, Balance> {
    const state = this.#state
    const expected = new Map<string, Balance>()
    const move = (accountId: string, delta: Partial<Balance>): void => {
      expected.set(accountId, addBalances(expected.get(accountId) ?? ZERO, { ...ZERO, ...delta }))
    }
    let seq = s.baseSeq
    for (const t of s.transfers.values()) {
      seq++
      if (t.seq !== seq) throw new InvariantViolationError(`transfer ${t.id} has seq ${t.seq}, expected ${seq}`)
      const debit = state.accounts.get(t.debitAccountId)
      const credit = state.accounts.get(t.creditAccountId)
      if (debit === undefined || credit === undefined || debit.id === credit.id) {
        throw new InvariantViolationError(`transfer ${t.id} does not name two existing, different accounts`)
      }
      if (debit.currency !== t.currency || credit.currency !== t.currency) {
        throw new InvariantViolationError(`transfer ${t.id} crosses currencies`)
      }
      if (t.amount <= 0n || t.amount > MAX_TRANSFER_AMOUNT) {
        throw new InvariantViolationError(`transfer ${t.id} has amount ${t.amount}`)
      }
      switch (t.kind) {
        case 'posted':
          move(debit.id, { debitsPosted: t.amount })
          move(credit.id, { creditsPosted: t.amount })
          break
        case 'pending':
          move(debit.id, { debitsPending: t.amount })
          move(credit.id, { creditsPending: t.amount })
          break
        case 'post_pending':
        case 'void_pending': {
          const p = s.wasOpen(t.pendingId ?? '')
          const r = s.resolutions.get(t.pendingId ?? '')
          if (p === undefined || r === undefined || r.transferId !== t.id) {
            throw new InvariantViolationError(`transfer ${t.id} resolves ${t.pendingId}, which was not open`)
          }
          if (p.debitAccountId !== debit.id || p.creditAccountId !== credit.id) {
            throw new InvariantViolationError(`transfer ${t.id} moves other accounts than pending ${p.id}`)
          }
          const posted = t.kind === 'post_pending' ? t.amount : 0n
          if (posted > p.amount || r.postedAmount !== posted) {
            throw new InvariantViolationError(`transfer ${t.id} posts ${posted} of pending ${p.id} (${p.amount})`)
          }
          move(debit.id, { debitsPending: -p.amount, debitsPosted: posted })
          move(credit.id, { creditsPending: -p.amount, creditsPosted: posted })
        }
      }
    }
    if (seq !== s.seq) throw new InvariantViolationError(`staged seq ${s.seq} but ${seq} transfers`)
    for (const r of s.resolutions.values()) {
      const p = s.wasOpen(r.pendingId)
      if (p === undefined) throw new InvariantViolationError(`resolution of ${r.pendingId}, which was not open`)
      if (r.state === 'expired') {
        if (p.expiresAt > s.now) throw new InvariantViolationError(`pending ${p.id} expired before its time`)
        move(p.debitAccountId, { debitsPending: -p.amount })
        move(p.creditAccountId, { creditsPending: -p.amount })
      } else if (r.transferId === null || s.transfers.get(r.transferId)?.pendingId !== r.pendingId) {
        throw new InvariantViolationError(`resolution of ${r.pendingId} names no transfer of this batch`)
      }
    }

    const deltas = new Map<string, Balance>()
    for (const id of new Set([...expected.keys(), ...s.balances.keys()])) {
      const account = state.accounts.get(id)
      const before = state.balances.get(id)
      if (account === undefined || before === undefined) throw new InvariantViolationError(`unknown account ${id}`)
      const after = s.balances.get(id) ?? before
      const delta = subBalances(after, before)
      const want = expected.get(id) ?? ZERO
      for (const f of BALANCE_FIELDS) {
        if (delta[f] !== want[f]) {
          throw new InvariantViolationError(`account ${id} ${f} moves by ${delta[f]}, its transfers say ${want[f]}`)
        }
        if (after[f] < 0n || after[f] > MAX_BALANCE)
          throw new InvariantViolationError(`account ${id} ${f} = ${after[f]}`)
      }
      const breach = limitBreach(account, after)
      if (breach !== null) throw new InvariantViolationError(`account ${id} ${breach.replaceAll('_', ' ')}`)
      deltas.set(account.currency, addBalances(deltas.get(account.currency) ?? ZERO, delta))
    }
    const totals = new Map<string, Balance>()
    for (const [currency, delta] of deltas) {
      const total = addBalances(state.totals.get(currency) ?? ZERO, delta)
      if (total.debitsPosted !== total.creditsPosted || total.debitsPending !== total.creditsPending) {
        throw new InvariantViolationError(
          `${currency} books do not balance: debits ${total.debitsPosted}+${total.debitsPending} pending, ` +
            `credits ${total.creditsPosted}+${total.creditsPending} pending`,
        )
      }
      totals.set(currency, total)
    }
    return totals
  }
}

/** Opens a ledger on a sublevel it owns. */
export async function openLedger(store: LedgerStore, init: LedgerInit = {}): Promise<Ledger> {
  return Ledger.open(store, init)
}
