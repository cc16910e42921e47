import { Lru } from '../../keys/lru.ts'
import type { AccountInput } from './ledger/types.ts'
import { accountIdOf, accountInputOf, parseParticipant, participantKey } from './participants.ts'
import { type LineKind, type LineRow, lineRow, participantRow, StateKeys, type StoreOp } from './state.ts'
import { put, type StateStore } from './store.ts'

/** Line rows kept in memory (the statement lines a busy period keeps adding to). */
const LINE_CACHE_ENTRIES = 65_536
/** Participants known to be registered. */
const PARTICIPANT_CACHE_ENTRIES = 65_536
/** Ledger accounts known to exist. */
const ACCOUNT_CACHE_ENTRIES = 65_536

export interface LineDelta {
  period: string
  participant: string
  currency: string
  kind: LineKind
  ref: string
  content: string | null
  counterparty: string | null
  units: number
  amount: bigint
  at: number
}

export function lineKeyOf(d: Pick<LineDelta, 'period' | 'participant' | 'currency' | 'kind' | 'ref' | 'counterparty'>) {
  const cp = d.counterparty === null ? '-' : participantKey(d.counterparty)
  return StateKeys.line(d.period, participantKey(d.participant), d.currency, `${d.kind}/${d.ref}/${cp}`)
}

export class SettlementBatch {
  readonly lines = new Map<string, LineDelta>()
  /** Participant id → its key (hex) where it has one. */
  readonly participants = new Map<string, string | null>()
  /** Ledger accounts by id. */
  readonly accounts = new Map<string, AccountInput>()

  /** Add to a statement line (units and amount add up; `at` keeps the latest). */
  line(delta: LineDelta): void {
    this.participant(delta.participant)
    if (delta.counterparty !== null) this.participant(delta.counterparty)
    const key = lineKeyOf(delta)
    const known = this.lines.get(key)
    if (known === undefined) {
      this.lines.set(key, { ...delta })
      return
    }
    known.units += delta.units
    known.amount += delta.amount
    if (delta.at > known.at) known.at = delta.at
  }

  /**
   * Add a template's lines (one play, say) to this batch, with `at` as their time; its participants and accounts
   * too unless `linesOnly` (they were merged already).
   */
  merge(template: SettlementBatch, at: number, linesOnly: boolean): void {
    // forEach rather than for…of: no [key, value] pair made per line (this runs for every play settled).
    template.lines.forEach((d, key) => {
      const known = this.lines.get(key)
      if (known === undefined) {
        this.lines.set(key, { ...d, at })
      } else {
        known.units += d.units
        known.amount += d.amount
        if (at > known.at) known.at = at
      }
    })
    if (linesOnly) return
    for (const [id, key] of template.participants) this.participant(id, key)
    for (const [id, input] of template.accounts) this.accounts.set(id, input)
  }

  participant(id: string, key: string | null = null): void {
    const known = this.participants.get(id)
    if (known === undefined || (known === null && key !== null)) this.participants.set(id, key ?? defaultKey(id))
  }

  /** The ledger account of a participant in a currency (created if it is new). */
  account(participant: string, currency: string): string {
    const input = accountInputOf(participant, currency)
    this.accounts.set(input.id, input)
    this.participant(participant)
    return input.id
  }
}

/** The key of a keyed participant (wallet, retailer, distributor, fee). */
function defaultKey(id: string): string | null {
  const parsed = parseParticipant(id)
  if (parsed === undefined) return null
  return parsed.kind === 'rightsholder' || parsed.kind === 'external' ? null : parsed.subject
}

/**
 * Turns a batch into state ops: line rows (read, added to, written back), participant rows, and the accounts the
 * ledger does not have yet. The caches change only when `commit` is called after the write succeeded.
 */
export class LineBook {
  readonly #store: StateStore
  readonly #lines = new Lru<string, LineRow>(LINE_CACHE_ENTRIES)
  readonly #participants = new Lru<string, true>(PARTICIPANT_CACHE_ENTRIES)
  readonly #accounts = new Lru<string, true>(ACCOUNT_CACHE_ENTRIES)

  constructor(store: StateStore) {
    this.#store = store
  }

  async materialise(batch: SettlementBatch): Promise<Materialised> {
    const ops: StoreOp[] = []
    const rows = new Map<string, LineRow>()
    const misses = [...batch.lines.keys()].filter((k) => !this.#lines.has(k))
    const stored = await this.#store.getMany(lineRow, misses)
    const fromStore = new Map(misses.map((k, i) => [k, stored[i]]))
    for (const [key, d] of batch.lines) {
      const before = this.#lines.get(key) ?? fromStore.get(key)
      const row: LineRow =
        before === undefined
          ? {
              v: 1,
              participant: d.participant,
              kind: d.kind,
              ref: d.ref,
              content: d.content,
              units: d.units,
              amount: d.amount,
              counterparty: d.counterparty,
              at: d.at,
            }
          : {
              ...before,
              units: before.units + d.units,
              amount: before.amount + d.amount,
              at: Math.max(before.at, d.at),
            }
      rows.set(key, row)
      ops.push(put(key, row))
    }
    const newParticipants: string[] = []
    const candidates = [...batch.participants.keys()].filter((p) => !this.#participants.has(participantKey(p)))
    const present = await this.#store.rawMany(candidates.map((p) => StateKeys.participant(participantKey(p))))
    for (const [i, id] of candidates.entries()) {
      const pk = participantKey(id)
      if (present[i] !== undefined) {
        this.#participants.set(pk, true)
        continue
      }
      const key = batch.participants.get(id) ?? null
      ops.push(put(StateKeys.participant(pk), participantRow.parse({ v: 1, id, key })))
      if (key !== null) ops.push(put(StateKeys.participantByKey(key, pk), { v: 1 }))
      newParticipants.push(pk)
    }
    for (const period of new Set([...batch.lines.values()].map((d) => d.period))) {
      ops.push(put(StateKeys.activePeriod(period), { v: 1 }))
    }
    const accounts = [...batch.accounts.values()].filter((a) => !this.#accounts.has(a.id))
    return { ops, rows, accounts, newParticipants }
  }

  /** After the batch was written: remember what is now on disk. */
  commit(m: Materialised): void {
    for (const [key, row] of m.rows) this.#lines.set(key, row)
    for (const pk of m.newParticipants) this.#participants.set(pk, true)
    for (const a of m.accounts) this.#accounts.set(a.id, true)
  }

  /** Forget everything (after a failed write). */
  reset(): void {
    this.#lines.clear()
    this.#participants.clear()
    this.#accounts.clear()
  }
}

export interface Materialised {
  ops: StoreOp[]
  rows: Map<string, LineRow>
  accounts: AccountInput[]
  newParticipants: string[]
}

/** A transfer between two participants' accounts, before it gets its id. */
export interface PlannedTransfer {
  debit: string
  credit: string
  currency: string
  code: string
  amount: bigint
}

/** Adds up transfers between the same two accounts with the same code (a group's plays become a few transfers). */
export class TransferSum {
  readonly #sums = new Map<string, PlannedTransfer>()

  add(t: PlannedTransfer): void {
    if (t.amount === 0n) return
    if (t.amount < 0n) throw new RangeError(`transfer of ${t.amount} from ${t.debit} to ${t.credit}`)
    const key = `${accountIdOf(t.debit, t.currency)} ${accountIdOf(t.credit, t.currency)} ${t.code}`
    const known = this.#sums.get(key)
    if (known === undefined) this.#sums.set(key, { ...t })
    else known.amount += t.amount
  }

  get size(): number {
    return this.#sums.size
  }

  /** Add another sum's transfers (a template's) to this one. */
  merge(other: TransferSum): void {
    other.#sums.forEach((t, key) => {
      const known = this.#sums.get(key)
      if (known === undefined) this.#sums.set(key, { ...t })
      else known.amount += t.amount
    })
  }

  list(): PlannedTransfer[] {
    return [...this.#sums.values()]
  }
}
