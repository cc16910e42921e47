/**
 * Statements: what the clearinghouse paid or charged one participant in one period and currency, as signed
 * `consort/statement` records (in parts when large), each with the Merkle root of its lines so that any line can be
 * proved to the participant it pays, with totals, and as a DDEX DSR-style CSV.
 *
 * Lines are the accumulated statement lines of the state (settlement.ts), in key order: a statement is a
 * deterministic function of what was settled. A period is final once it is closed (the first tick after it ends:
 * its pro-rata pools are paid then); a final statement carries the close time as `created`, so building it again
 * gives the same record, byte for byte. A statement of an open period is provisional (`created` = now).
 */
import * as dagCbor from '@ipld/dag-cbor'
import { NotFoundError } from '@libp2p/interface'
import type { Signer } from '../../keys/ed25519.ts'
import type { Clock } from '../../protocols/clock.ts'
import { formatMinorUnits } from '../../protocols/identifiers/currencies.ts'
import type { NetworkContext } from '../../protocols/network.ts'
import { decodeRecordAs, type SignedRecord, signRecord } from '../../protocols/records/envelope.ts'
import { MAX_STATEMENT_LINES, type StatementLine } from '../../protocols/records/types/statement.ts'
import { STATEMENT_PART_HEADROOM_BYTES } from './constants.ts'
import { inclusionProof, leafHash, merkleRoot, verifyInclusion } from './merkle.ts'
import { parseParticipant, participantKey } from './participants.ts'
import { closedRow, decodeRow, type LineRow, lineRow, participantRow, StateKeys } from './state.ts'
import type { StateStore } from './store.ts'

export interface StatementPart {
  record: SignedRecord<'consort/statement'>
  /** Leaf hashes of its lines, in order (for proofs). */
  leaves: Uint8Array[]
}

export interface Statement {
  participant: string
  period: string
  currency: string
  /** The period is closed: the statement is final. */
  final: boolean
  parts: StatementPart[]
  totals: { credits: bigint; debits: bigint; net: bigint; lines: number }
}

export interface LineProof {
  /** The part's record (signed), the line's index in it and the audit path to its Merkle root. */
  record: Uint8Array
  index: number
  line: StatementLine
  path: Uint8Array[]
}

export function statementLineOf(row: LineRow): StatementLine {
  return {
    kind: row.kind,
    ref: row.ref,
    content: row.content,
    units: row.units,
    amount: row.amount,
    counterparty: row.counterparty,
    at: row.at,
  }
}

export function lineLeaf(line: StatementLine): Uint8Array {
  return leafHash(dagCbor.encode(line))
}

export function totalsOf(lines: readonly StatementLine[]): { credits: bigint; debits: bigint; net: bigint } {
  let credits = 0n
  let debits = 0n
  for (const l of lines) {
    if (l.amount > 0n) credits += l.amount
    else debits -= l.amount
  }
  return { credits, debits, net: credits - debits }
}

export class Statements {
  readonly #store: StateStore
  readonly #network: NetworkContext
  readonly #clock: Clock
  readonly #signer: Signer

  constructor(store: StateStore, network: NetworkContext, clock: Clock, signer: Signer) {
    this.#store = store
    this.#network = network
    this.#clock = clock
    this.#signer = signer
  }

  /** The participant ids a key holds (its wallet, retailer, distributor and rights-holder accounts). */
  async participantsOfKey(key: string): Promise<string[]> {
    const out: string[] = []
    for await (const k of this.#store.keys(StateKeys.participantByKeyPrefix(key))) {
      const pk = k.slice(StateKeys.participantByKeyPrefix(key).length)
      const row = await this.#store.get(participantRow, StateKeys.participant(pk))
      if (row !== undefined) out.push(row.id)
    }
    return out.sort()
  }

  /** Every participant the clearinghouse has lines for, a page at a time. */
  async participants(limit: number, after?: string): Promise<Array<{ id: string; key: string | null }>> {
    const out: Array<{ id: string; key: string | null }> = []
    const gt = after === undefined ? undefined : StateKeys.participant(participantKey(after))
    for await (const [, row] of this.#store.rows(participantRow, StateKeys.participantPrefix, {
      limit,
      ...(gt !== undefined ? { gt } : {}),
    })) {
      out.push({ id: row.id, key: row.key })
    }
    return out
  }

  /** Resolve what a user typed: a participant id, or a key (hex) naming all its participants. */
  async resolve(participantOrKey: string): Promise<string[]> {
    if (/^[0-9a-f]{64}$/.test(participantOrKey)) return this.participantsOfKey(participantOrKey)
    if (parseParticipant(participantOrKey) !== undefined) return [participantOrKey]
    // A rights holder may be named by its party id alone.
    const asParty = `rightsholder:${participantOrKey}`
    if (await this.#store.has(StateKeys.participant(participantKey(asParty)))) return [asParty]
    throw new NotFoundError(`no participant ${JSON.stringify(participantOrKey)}`)
  }

  /** The participant's lines in a period, by currency, in statement order. */
  async lines(period: string, participant: string, currency?: string): Promise<Map<string, LineRow[]>> {
    const out = new Map<string, LineRow[]>()
    const base = StateKeys.linePrefix(period, participantKey(participant))
    for await (const [key, value] of this.#store.entries(
      StateKeys.linePrefix(period, participantKey(participant), currency),
    )) {
      const row = decodeRow(lineRow, key, value)
      if (row.participant !== participant) continue
      const cur = key.slice(base.length, base.length + 3)
      const list = out.get(cur) ?? []
      list.push(row)
      out.set(cur, list)
    }
    return out
  }

  async closedAt(period: string): Promise<number | undefined> {
    return (await this.#store.get(closedRow, StateKeys.closed(period)))?.closedAt
  }

  /** Build (and sign) a participant's statements for a period: one per currency. */
  async build(period: string, participant: string, currency?: string): Promise<Statement[]> {
    const closedAt = await this.closedAt(period)
    const created = closedAt ?? this.#clock.now()
    const out: Statement[] = []
    for (const [cur, rows] of await this.lines(period, participant, currency)) {
      out.push(this.assemble(period, participant, cur, rows.map(statementLineOf), created, closedAt !== undefined))
    }
    return out
  }

  /** Cut lines into parts that fit the network's record cap, and sign each. */
  assemble(
    period: string,
    participant: string,
    currency: string,
    lines: StatementLine[],
    created: number,
    final: boolean,
  ): Statement {
    const budget = this.#network.caps.largeRecordBytes - STATEMENT_PART_HEADROOM_BYTES
    const chunks: StatementLine[][] = []
    let chunk: StatementLine[] = []
    let size = 0
    for (const line of lines) {
      const bytes = dagCbor.encode(line).length + 1
      if (chunk.length > 0 && (chunk.length >= MAX_STATEMENT_LINES || size + bytes > budget)) {
        chunks.push(chunk)
        chunk = []
        size = 0
      }
      chunk.push(line)
      size += bytes
    }
    if (chunk.length > 0 || chunks.length === 0) chunks.push(chunk)
    const parts: StatementPart[] = chunks.map((part, i) => {
      const leaves = part.map(lineLeaf)
      const record = signRecord(
        'consort/statement',
        {
          network: this.#network.name,
          created,
          period,
          participant,
          currency,
          part: i,
          parts: chunks.length,
          lines: part,
          totals: totalsOf(part),
          merkleRoot: merkleRoot(leaves),
        },
        this.#signer,
        this.#network.caps,
      )
      return { record, leaves }
    })
    return { participant, period, currency, final, parts, totals: { ...totalsOf(lines), lines: lines.length } }
  }

  /** A proof that line `ref` (of kind and counterparty, if given) is in the participant's statement. */
  proofOf(statement: Statement, match: (line: StatementLine) => boolean): LineProof | undefined {
    for (const part of statement.parts) {
      const index = part.record.body.lines.findIndex(match)
      if (index >= 0) {
        return {
          record: part.record.bytes,
          index,
          line: part.record.body.lines[index]!,
          path: inclusionProof(part.leaves, index),
        }
      }
    }
    return undefined
  }
}

export interface StatementCheck {
  ok: boolean
  problems: string[]
  record?: SignedRecord<'consort/statement'>
}

/**
 * Check a statement record as anyone can: its signature (and, given the network's clearinghouse keys, that one of
 * them signed it), that its totals add up and that its Merkle root is the root of its lines.
 */
export function checkStatement(
  bytes: Uint8Array,
  options: { network: string; now: number; clearinghouses?: readonly Uint8Array[] },
): StatementCheck {
  let record: SignedRecord<'consort/statement'>
  try {
    record = decodeRecordAs('consort/statement', bytes, { network: options.network, now: options.now })
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] }
  }
  const problems: string[] = []
  const b = record.body
  if (options.clearinghouses !== undefined && !options.clearinghouses.some((k) => equal(k, record.signer))) {
    problems.push('signer: not a clearinghouse of the network')
  }
  const totals = totalsOf(b.lines)
  if (totals.credits !== b.totals.credits || totals.debits !== b.totals.debits || totals.net !== b.totals.net) {
    problems.push(
      `totals: the lines add up to credits ${totals.credits}, debits ${totals.debits}, net ${totals.net}; ` +
        `the statement says ${b.totals.credits}, ${b.totals.debits}, ${b.totals.net}`,
    )
  }
  if (!equal(merkleRoot(b.lines.map(lineLeaf)), b.merkleRoot)) problems.push('merkleRoot: not the root of the lines')
  return { ok: problems.length === 0, problems, record }
}

/** Check a line proof against its (already checked) record. */
export function checkLineProof(record: SignedRecord<'consort/statement'>, proof: Omit<LineProof, 'record'>): boolean {
  return verifyInclusion(
    lineLeaf(proof.line),
    proof.index,
    record.body.lines.length,
    proof.path,
    record.body.merkleRoot,
  )
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A money amount of a statement as a decimal string of major units (`-12.34`). */
export function formatAmount(amount: bigint, currency: string): string {
  return formatMinorUnits(amount, currency)
}
