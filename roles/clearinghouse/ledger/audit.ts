/**
 * The audit: recompute every balance from the transfer log on disk and check it, the indexes, the pending
 * resolutions and every invariant against what is stored (and against the ledger's caches). Reports what is
 * wrong instead of throwing, so that one damaged row does not hide the others.
 */

import { isError } from '../../../protocols/errors.ts'
import {
  decodeAccount,
  decodeBalance,
  decodeIdValue,
  decodeInt,
  decodeResolution,
  decodeTransfer,
  Keys,
  Prefix,
  parseAccountIndexKey,
  parseExpiryKey,
  parseIdKey,
  parseLogKey,
  prefixRange,
} from './codec.ts'
import { AUDIT_CHUNK, LEDGER_VERSION, MAX_AUDIT_VIOLATIONS } from './constants.ts'
import { CorruptRecordError } from './errors.ts'
import type { Account, AuditViolation, Balance, Transfer } from './types.ts'
import { AuditCode } from './types.ts'

/** Read access to the ledger's sublevel (utf8 keys, byte values). */
export interface AuditReader {
  get(key: string): Promise<Uint8Array | undefined>
  getMany(keys: string[]): Promise<Array<Uint8Array | undefined>>
  entries(range: { gte?: string; gt?: string; lt?: string }): AsyncIterable<[string, Uint8Array]>
}

/** What the ledger holds in memory, to be checked against the disk. */
export interface AuditCache {
  accounts: ReadonlyMap<string, Account>
  balances: ReadonlyMap<string, Balance>
  /** Open pending transfers and their deadlines. */
  open: ReadonlyMap<string, number>
  seq: number
}

const FIELDS = ['debitsPosted', 'creditsPosted', 'debitsPending', 'creditsPending'] as const
const zero = (): Balance => ({ debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n })

interface PendingSeen {
  transfer: Transfer
  resolvedBy: Transfer | null
  expired: boolean
  indexed: boolean
}

class Report {
  readonly list: AuditViolation[] = []
  #dropped = 0

  add(v: AuditViolation): void {
    if (this.list.length < MAX_AUDIT_VIOLATIONS - 1) this.list.push(v)
    else this.#dropped++
  }

  corrupt(err: unknown, extra: Partial<AuditViolation> = {}): void {
    if (!isError(err, CorruptRecordError)) throw err
    this.add({ code: AuditCode.corruptRecord, key: err.key, message: err.message, ...extra })
  }

  finish(): AuditViolation[] {
    if (this.#dropped > 0) {
      this.list.push({ code: AuditCode.corruptRecord, message: `${this.#dropped} more violations not listed` })
    }
    return this.list
  }
}

async function* chunks<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = []
  for await (const item of source) {
    chunk.push(item)
    if (chunk.length === size) {
      yield chunk
      chunk = []
    }
  }
  if (chunk.length > 0) yield chunk
}

function sameAccount(a: Account, b: Account): boolean {
  return (
    a.id === b.id &&
    a.currency === b.currency &&
    a.kind === b.kind &&
    a.owner === b.owner &&
    a.timestamp === b.timestamp &&
    a.flags.debitsMustNotExceedCredits === b.flags.debitsMustNotExceedCredits &&
    a.flags.creditsMustNotExceedDebits === b.flags.creditsMustNotExceedDebits
  )
}

export async function auditLedger(reader: AuditReader, cache: AuditCache): Promise<AuditViolation[]> {
  const report = new Report()

  // Meta rows.
  let storedSeq: number | null = null
  try {
    const version = await reader.get(Keys.version)
    if (version === undefined || decodeInt(Keys.version, version) !== LEDGER_VERSION) {
      report.add({
        code: AuditCode.corruptRecord,
        key: Keys.version,
        message: `layout version is not ${LEDGER_VERSION}`,
      })
    }
    const seq = await reader.get(Keys.seq)
    if (seq === undefined) report.add({ code: AuditCode.sequenceMismatch, key: Keys.seq, message: 'missing' })
    else storedSeq = decodeInt(Keys.seq, seq)
  } catch (err) {
    report.corrupt(err)
  }
  if (storedSeq !== null && storedSeq !== cache.seq) {
    report.add({
      code: AuditCode.cacheMismatch,
      key: Keys.seq,
      message: `stored seq ${storedSeq}, cached ${cache.seq}`,
    })
  }

  // Accounts.
  const accounts = new Map<string, Account>()
  for await (const [key, value] of reader.entries(prefixRange(Prefix.account))) {
    try {
      const a = decodeAccount(key, value)
      if (a.id !== parseIdKey(key, Prefix.account)) throw new CorruptRecordError(key, `holds account ${a.id}`)
      accounts.set(a.id, a)
    } catch (err) {
      report.corrupt(err)
    }
  }
  for (const [id, cached] of cache.accounts) {
    const stored = accounts.get(id)
    if (stored === undefined || !sameAccount(stored, cached)) {
      report.add({ code: AuditCode.cacheMismatch, accountId: id, message: `account ${id} in memory differs from disk` })
    }
  }
  for (const id of accounts.keys()) {
    if (!cache.accounts.has(id)) {
      report.add({ code: AuditCode.cacheMismatch, accountId: id, message: `account ${id} on disk is not in memory` })
    }
  }

  // Replay the log.
  const computed = new Map<string, Balance>()
  for (const id of accounts.keys()) computed.set(id, zero())
  const move = (accountId: string, field: (typeof FIELDS)[number], amount: bigint): void => {
    const b = computed.get(accountId)
    if (b !== undefined) b[field] += amount
  }
  const pendings = new Map<string, PendingSeen>()

  /** Applies one logged transfer to the recomputed balances; returns what is wrong with it instead, if anything. */
  function replay(t: Transfer): string | null {
    const debit = accounts.get(t.debitAccountId)
    const credit = accounts.get(t.creditAccountId)
    if (debit === undefined || credit === undefined) return 'names an account that does not exist'
    if (debit.id === credit.id) return 'debits and credits the same account'
    if (debit.currency !== t.currency || credit.currency !== t.currency) return 'crosses currencies'
    if (t.amount <= 0n) return `amount ${t.amount}`
    switch (t.kind) {
      case 'posted':
        move(debit.id, 'debitsPosted', t.amount)
        move(credit.id, 'creditsPosted', t.amount)
        return null
      case 'pending':
        move(debit.id, 'debitsPending', t.amount)
        move(credit.id, 'creditsPending', t.amount)
        pendings.set(t.id, { transfer: t, resolvedBy: null, expired: false, indexed: false })
        return null
      case 'post_pending':
      case 'void_pending': {
        const p = pendings.get(t.pendingId ?? '')
        if (p === undefined) return `resolves ${t.pendingId}, which is not an earlier pending transfer`
        if (p.resolvedBy !== null) return `resolves ${p.transfer.id}, already resolved by ${p.resolvedBy.id}`
        if (p.transfer.debitAccountId !== debit.id || p.transfer.creditAccountId !== credit.id) {
          return `moves other accounts than pending ${p.transfer.id}`
        }
        const posted = t.kind === 'post_pending' ? t.amount : 0n
        if (posted > p.transfer.amount) return `posts more than pending ${p.transfer.id}`
        if (t.kind === 'void_pending' && t.amount !== p.transfer.amount) return 'voids another amount'
        p.resolvedBy = t
        move(debit.id, 'debitsPending', -p.transfer.amount)
        move(credit.id, 'creditsPending', -p.transfer.amount)
        move(debit.id, 'debitsPosted', posted)
        move(credit.id, 'creditsPosted', posted)
        return null
      }
    }
  }

  let expectedSeq = 1
  const entries = reader.entries(prefixRange(Prefix.log))
  for await (const chunk of chunks(entries, AUDIT_CHUNK)) {
    const logged: Array<{ seq: number; id: string; key: string }> = []
    for (const [key, value] of chunk) {
      try {
        logged.push({ seq: parseLogKey(key), id: decodeIdValue(key, value), key })
      } catch (err) {
        report.corrupt(err)
      }
    }
    const rows = await reader.getMany(logged.map((l) => Keys.transfer(l.id)))
    const indexKeys: string[] = []
    const found: Array<Transfer | undefined> = []
    for (const [i, l] of logged.entries()) {
      if (l.seq !== expectedSeq) {
        const message =
          l.seq > expectedSeq
            ? `log entries ${expectedSeq}..${l.seq - 1} are missing`
            : `log entry ${l.seq} out of order`
        report.add({ code: AuditCode.logGap, key: l.key, message })
      }
      expectedSeq = Math.max(expectedSeq, l.seq + 1)
      const bytes = rows[i]
      if (bytes === undefined) {
        found.push(undefined)
        report.add({
          code: AuditCode.transferMissing,
          transferId: l.id,
          key: Keys.transfer(l.id),
          message: `transfer ${l.id} at seq ${l.seq} of the log is missing`,
        })
        continue
      }
      let t: Transfer
      try {
        t = decodeTransfer(Keys.transfer(l.id), bytes)
      } catch (err) {
        found.push(undefined)
        report.corrupt(err, { transferId: l.id })
        continue
      }
      if (t.id !== l.id || t.seq !== l.seq) {
        found.push(undefined)
        report.add({
          code: AuditCode.invalidTransfer,
          transferId: l.id,
          message: `log seq ${l.seq} names ${l.id}, whose record says id ${t.id} seq ${t.seq}`,
        })
        continue
      }
      found.push(t)
      indexKeys.push(Keys.accountIndex(t.debitAccountId, t.seq), Keys.accountIndex(t.creditAccountId, t.seq))
    }
    const indexRows = await reader.getMany(indexKeys)
    let k = 0
    for (const t of found) {
      if (t === undefined) continue
      for (const accountId of [t.debitAccountId, t.creditAccountId]) {
        const row = indexRows[k++]
        if (row === undefined) {
          report.add({
            code: AuditCode.indexMissing,
            transferId: t.id,
            accountId,
            key: Keys.accountIndex(accountId, t.seq),
            message: `transfer ${t.id} is missing from the index of account ${accountId}`,
          })
        }
      }
      const problem = replay(t)
      if (problem !== null) {
        report.add({ code: AuditCode.invalidTransfer, transferId: t.id, message: `transfer ${t.id}: ${problem}` })
      }
    }
  }
  const lastSeq = expectedSeq - 1
  if (storedSeq !== null && lastSeq !== storedSeq) {
    report.add({
      code: AuditCode.sequenceMismatch,
      key: Keys.seq,
      message: `${Keys.seq} is ${storedSeq}, the log ends at ${lastSeq}`,
    })
  }

  // Resolutions: each pending is resolved at most once, and its row agrees with the log.
  const resolutionSeen = new Set<string>()
  for await (const [key, value] of reader.entries(prefixRange(Prefix.resolution))) {
    try {
      const r = decodeResolution(key, value)
      if (r.pendingId !== parseIdKey(key, Prefix.resolution)) throw new CorruptRecordError(key, 'names another id')
      resolutionSeen.add(r.pendingId)
      const p = pendings.get(r.pendingId)
      const mismatch = (message: string): void => {
        report.add({ code: AuditCode.pendingMismatch, transferId: r.pendingId, key, message })
      }
      if (p === undefined) {
        mismatch(`resolution of ${r.pendingId}, which is not a pending transfer of the log`)
      } else if (r.state === 'expired') {
        if (p.resolvedBy !== null) mismatch(`${r.pendingId} is marked expired but ${p.resolvedBy.id} resolved it`)
        else {
          p.expired = true
          move(p.transfer.debitAccountId, 'debitsPending', -p.transfer.amount)
          move(p.transfer.creditAccountId, 'creditsPending', -p.transfer.amount)
        }
      } else {
        const by = p.resolvedBy
        const posted = by?.kind === 'post_pending' ? by.amount : 0n
        const state = by?.kind === 'post_pending' ? 'posted' : 'voided'
        if (by === null || by.id !== r.transferId || state !== r.state || posted !== r.postedAmount) {
          mismatch(`${r.pendingId} is marked ${r.state} by ${r.transferId}, the log says ${by?.id ?? 'unresolved'}`)
        }
      }
    } catch (err) {
      report.corrupt(err)
    }
  }

  // The expiry index lists exactly the open pending transfers.
  const openOnDisk = new Set<string>()
  for await (const [key] of reader.entries(prefixRange(Prefix.expiry))) {
    try {
      const e = parseExpiryKey(key)
      const p = pendings.get(e.pendingId)
      if (p === undefined || p.resolvedBy !== null || p.expired || p.transfer.expiresAt !== e.expiresAt) {
        report.add({
          code: AuditCode.pendingMismatch,
          transferId: e.pendingId,
          key,
          message: `expiry index entry for ${e.pendingId}, which is not open with that deadline`,
        })
      } else {
        p.indexed = true
        openOnDisk.add(e.pendingId)
      }
    } catch (err) {
      report.corrupt(err)
    }
  }
  for (const [id, p] of pendings) {
    if (p.resolvedBy !== null && !resolutionSeen.has(id)) {
      report.add({
        code: AuditCode.pendingMismatch,
        transferId: id,
        message: `${id} was resolved by ${p.resolvedBy.id} but has no resolution row`,
      })
    } else if (p.resolvedBy === null && !p.expired && !p.indexed) {
      report.add({
        code: AuditCode.pendingMismatch,
        transferId: id,
        message: `open pending ${id} is not in the expiry index`,
      })
    }
  }
  for (const id of new Set([...openOnDisk, ...cache.open.keys()])) {
    if (openOnDisk.has(id) !== cache.open.has(id)) {
      report.add({
        code: AuditCode.cacheMismatch,
        transferId: id,
        message: `pending ${id} open on disk and in memory disagree`,
      })
    }
  }

  // Every transfer row is in the log.
  for await (const chunk of chunks(reader.entries(prefixRange(Prefix.transfer)), AUDIT_CHUNK)) {
    const rows: Transfer[] = []
    for (const [key, value] of chunk) {
      try {
        const t = decodeTransfer(key, value)
        if (t.id !== parseIdKey(key, Prefix.transfer)) throw new CorruptRecordError(key, `holds transfer ${t.id}`)
        rows.push(t)
      } catch (err) {
        report.corrupt(err)
      }
    }
    const logRows = await reader.getMany(rows.map((t) => Keys.log(t.seq)))
    for (const [i, t] of rows.entries()) {
      const bytes = logRows[i]
      const logged = bytes === undefined ? undefined : new TextDecoder().decode(bytes)
      if (logged !== t.id) {
        report.add({
          code: AuditCode.transferNotInLog,
          transferId: t.id,
          key: Keys.transfer(t.id),
          message: `transfer ${t.id} (seq ${t.seq}) is not in the log`,
        })
      }
    }
  }

  // Every account index entry points at a logged transfer of that account.
  for await (const chunk of chunks(reader.entries(prefixRange(Prefix.accountIndex)), AUDIT_CHUNK)) {
    const entries: Array<{ key: string; accountId: string; seq: number; id: string }> = []
    for (const [key, value] of chunk) {
      try {
        entries.push({ key, ...parseAccountIndexKey(key), id: decodeIdValue(key, value) })
      } catch (err) {
        report.corrupt(err)
      }
    }
    const rows = await reader.getMany(entries.map((e) => Keys.transfer(e.id)))
    for (const [i, e] of entries.entries()) {
      const bytes = rows[i]
      let ok = false
      if (bytes !== undefined) {
        try {
          const t = decodeTransfer(Keys.transfer(e.id), bytes)
          ok = t.seq === e.seq && (t.debitAccountId === e.accountId || t.creditAccountId === e.accountId)
        } catch {
          // reported with the transfer rows
        }
      }
      if (!ok) {
        report.add({
          code: AuditCode.indexOrphan,
          accountId: e.accountId,
          transferId: e.id,
          key: e.key,
          message: `index entry of account ${e.accountId} at seq ${e.seq} names ${e.id}, which is not that transfer`,
        })
      }
    }
  }

  // Stored balances against the replay, the caches and the invariants.
  const stored = new Map<string, Balance>()
  for await (const [key, value] of reader.entries(prefixRange(Prefix.balance))) {
    try {
      const id = parseIdKey(key, Prefix.balance)
      const b = decodeBalance(key, value)
      if (!accounts.has(id)) {
        report.add({
          code: AuditCode.balanceOrphan,
          accountId: id,
          key,
          message: `balance row of unknown account ${id}`,
        })
      } else stored.set(id, b)
    } catch (err) {
      report.corrupt(err)
    }
  }
  const totals = new Map<string, Balance>()
  for (const [id, account] of accounts) {
    const b = stored.get(id)
    const want = computed.get(id) ?? zero()
    for (const f of FIELDS) {
      if (want[f] < 0n) {
        report.add({
          code: AuditCode.negativeBalance,
          accountId: id,
          message: `account ${id} replays to ${f} ${want[f]}`,
        })
      }
    }
    if (b === undefined) {
      report.add({
        code: AuditCode.balanceMissing,
        accountId: id,
        key: Keys.balance(id),
        message: `account ${id} has no balance row`,
      })
      continue
    }
    for (const f of FIELDS) {
      if (b[f] !== want[f]) {
        report.add({
          code: AuditCode.balanceMismatch,
          accountId: id,
          key: Keys.balance(id),
          message: `account ${id} ${f}: stored ${b[f]}, the log gives ${want[f]}`,
        })
      }
    }
    const cached = cache.balances.get(id)
    if (cached === undefined || FIELDS.some((f) => cached[f] !== b[f])) {
      report.add({
        code: AuditCode.cacheMismatch,
        accountId: id,
        message: `balance of ${id} in memory differs from disk`,
      })
    }
    if (account.flags.debitsMustNotExceedCredits && b.debitsPosted + b.debitsPending > b.creditsPosted) {
      report.add({ code: AuditCode.limitExceeded, accountId: id, message: `account ${id} debits exceed its credits` })
    }
    if (account.flags.creditsMustNotExceedDebits && b.creditsPosted + b.creditsPending > b.debitsPosted) {
      report.add({ code: AuditCode.limitExceeded, accountId: id, message: `account ${id} credits exceed its debits` })
    }
    const total = totals.get(account.currency) ?? zero()
    for (const f of FIELDS) total[f] += b[f]
    totals.set(account.currency, total)
  }
  for (const [currency, t] of totals) {
    if (t.debitsPosted !== t.creditsPosted || t.debitsPending !== t.creditsPending) {
      report.add({
        code: AuditCode.unbalancedCurrency,
        message:
          `${currency} books do not balance: debits posted ${t.debitsPosted} pending ${t.debitsPending}, ` +
          `credits posted ${t.creditsPosted} pending ${t.creditsPending}`,
      })
    }
  }
  return report.finish()
}
