import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { FakeClock } from '../../../protocols/clock.ts'
import type { Ledger, LedgerInit, LedgerStore } from '../../../roles/clearinghouse/ledger/index.ts'
import { openLedger } from '../../../roles/clearinghouse/ledger/index.ts'
import type { AccountInput, Balance } from '../../../roles/clearinghouse/ledger/types.ts'

/** A real LevelDB in a fresh temporary directory, removed by `dispose()`. */
export class TempDb {
  readonly dir: string
  db: Level<string, Uint8Array>
  #sublevels = 0

  private constructor(dir: string) {
    this.dir = dir
    this.db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  }

  static async create(): Promise<TempDb> {
    const t = new TempDb(await mkdtemp(join(tmpdir(), 'consort-ledger-')))
    await t.db.open()
    return t
  }

  /** The ledger's sublevel, the way a node hands it over. */
  sublevel(name = 'ledger'): LedgerStore {
    return this.db.sublevel<string, Uint8Array>(name, { valueEncoding: 'view' }) as unknown as LedgerStore
  }

  /** A sublevel never used before (for property runs sharing one database). */
  fresh(): LedgerStore {
    return this.sublevel(`ledger-${this.#sublevels++}`)
  }

  async reopen(): Promise<void> {
    await this.db.close()
    this.db = new Level<string, Uint8Array>(this.dir, { valueEncoding: 'view' })
    await this.db.open()
  }

  async dispose(): Promise<void> {
    await this.db.close()
    await rm(this.dir, { recursive: true, force: true })
  }
}

export const START = Date.UTC(2026, 10, 1)

export async function open(store: LedgerStore, clock = new FakeClock(START), init: LedgerInit = {}): Promise<Ledger> {
  return openLedger(store, { clock, sync: false, ...init })
}

export function eur(
  id: string,
  kind: AccountInput['kind'] = 'wallet',
  flags: AccountInput['flags'] = {},
): AccountInput {
  return { id, currency: 'EUR', kind, owner: `owner-of-${id}`, flags }
}

export function wallet(id: string): AccountInput {
  return eur(id, 'wallet', { debitsMustNotExceedCredits: true })
}

export function bal(debitsPosted: bigint, creditsPosted: bigint, debitsPending = 0n, creditsPending = 0n): Balance {
  return { debitsPosted, creditsPosted, debitsPending, creditsPending }
}

/** Sum of every balance field over the given accounts. */
export async function sums(ledger: Ledger, ids: readonly string[]): Promise<Balance> {
  const total = bal(0n, 0n)
  for (const id of ids) {
    const b = await ledger.balance(id)
    total.debitsPosted += b.debitsPosted
    total.creditsPosted += b.creditsPosted
    total.debitsPending += b.debitsPending
    total.creditsPending += b.creditsPending
  }
  return total
}
