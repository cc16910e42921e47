/**
 * The accounting export of statements (`consort statement --csv`): every line of every part — sales, plays, fees,
 * wholesale and royalty splits — with its Merkle audit path, and each part's signed record, so that every row of the
 * file can be checked on its own by anyone who has it (`consort statement verify FILE.csv`). It is not a sales report:
 * the DSR (`--dsr`, `dsr/`) is; this is the ledger's side.
 *
 * RFC 4180: comma-separated, CRLF line ends, a header row, fields quoted when they hold a comma, quote or line break.
 * Rows are `part` rows (one per signed part: its record in base64, its id and Merkle root) and `line` rows (one per
 * statement line: the line's fields as the record has them, its index in the part and its audit path).
 */
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { toString as bytesToString } from 'uint8arrays/to-string'
import { fromHex, toHex } from '../../keys/hex.ts'
import { inclusionProof, verifyInclusion } from './merkle.ts'
import { formatAmount, lineLeaf, type Statement, type StatementCheck } from './statements.ts'

export const ACCOUNTING_COLUMNS = [
  'row',
  'participant',
  'period',
  'currency',
  'part',
  'index',
  'kind',
  'ref',
  'content',
  'counterparty',
  'units',
  'amount',
  'amountMinor',
  'at',
  'merkleRoot',
  'proof',
  'recordId',
  'record',
] as const
type Column = (typeof ACCOUNTING_COLUMNS)[number]

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

export function toAccountingCsv(statements: readonly Statement[]): string {
  const rows: string[][] = [[...ACCOUNTING_COLUMNS]]
  const row = (fields: Partial<Record<Column, string>>) => rows.push(ACCOUNTING_COLUMNS.map((c) => fields[c] ?? ''))
  for (const s of statements) {
    for (const part of s.parts) {
      const common = {
        participant: s.participant,
        period: s.period,
        currency: s.currency,
        part: String(part.record.body.part),
        merkleRoot: toHex(part.record.body.merkleRoot),
      }
      row({
        ...common,
        row: 'part',
        recordId: part.record.id.toString(),
        record: bytesToString(part.record.bytes, 'base64'),
      })
      for (const [index, line] of part.record.body.lines.entries()) {
        row({
          ...common,
          row: 'line',
          index: String(index),
          kind: line.kind,
          ref: line.ref,
          content: line.content ?? '',
          counterparty: line.counterparty ?? '',
          units: String(line.units),
          amount: formatAmount(line.amount, s.currency),
          amountMinor: line.amount.toString(),
          at: new Date(line.at).toISOString(),
          proof: inclusionProof(part.leaves, index)
            .map((p) => toHex(p))
            .join('|'),
        })
      }
    }
  }
  return `${rows.map((r) => r.map(quote).join(',')).join('\r\n')}\r\n`
}

/** RFC 4180 rows (quoted fields may hold commas, quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"' && field === '') quoted = true
    else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else field += c
  }
  if (field !== '' || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}

export interface AccountingCheck {
  ok: boolean
  problems: string[]
  parts: number
  lines: number
}

/**
 * Check an accounting export: each part's record with `checkRecord` (the caller's `checkStatement`: signature,
 * totals, Merkle root, signed by a clearinghouse of its network), and each line row against its part's record: the
 * same fields at that index, proved by its audit path.
 */
export function checkAccountingCsv(text: string, checkRecord: (bytes: Uint8Array) => StatementCheck): AccountingCheck {
  const problems: string[] = []
  const [header, ...rows] = parseCsv(text)
  if (header === undefined || header.join(',') !== ACCOUNTING_COLUMNS.join(',')) {
    return { ok: false, problems: ['the header row is not the accounting export columns'], parts: 0, lines: 0 }
  }
  const at = (r: string[], c: Column) => r[ACCOUNTING_COLUMNS.indexOf(c)] ?? ''
  const parts = new Map<string, StatementCheck>()
  const key = (r: string[]) => [at(r, 'participant'), at(r, 'period'), at(r, 'currency'), at(r, 'part')].join(' ')
  let lines = 0
  rows.forEach((r, i) => {
    const where = `row ${i + 2}`
    if (r.length !== ACCOUNTING_COLUMNS.length) {
      problems.push(`${where}: ${r.length} fields, the export has ${ACCOUNTING_COLUMNS.length}`)
      return
    }
    if (at(r, 'row') === 'part') {
      let bytes: Uint8Array
      try {
        bytes = bytesFromString(at(r, 'record'), 'base64')
      } catch {
        problems.push(`${where}: record is not base64`)
        return
      }
      const check = checkRecord(bytes)
      parts.set(key(r), check)
      for (const p of check.problems) problems.push(`${where}: ${p}`)
      if (check.record !== undefined && check.record.id.toString() !== at(r, 'recordId'))
        problems.push(`${where}: recordId is not the record's id`)
      return
    }
    if (at(r, 'row') !== 'line') {
      problems.push(`${where}: row ${JSON.stringify(at(r, 'row'))} is neither part nor line`)
      return
    }
    lines++
    const record = parts.get(key(r))?.record
    if (record === undefined) {
      problems.push(`${where}: no checked part ${key(r)} before it`)
      return
    }
    const index = Number(at(r, 'index'))
    const line = record.body.lines[index]
    if (!Number.isSafeInteger(index) || line === undefined) {
      problems.push(`${where}: index ${at(r, 'index')} is not a line of the part`)
      return
    }
    const same =
      line.kind === at(r, 'kind') &&
      line.ref === at(r, 'ref') &&
      (line.content ?? '') === at(r, 'content') &&
      (line.counterparty ?? '') === at(r, 'counterparty') &&
      String(line.units) === at(r, 'units') &&
      line.amount.toString() === at(r, 'amountMinor') &&
      formatAmount(line.amount, record.body.currency) === at(r, 'amount') &&
      new Date(line.at).toISOString() === at(r, 'at')
    if (!same) problems.push(`${where}: the row differs from line ${index} of the signed part`)
    let path: Uint8Array[]
    try {
      path =
        at(r, 'proof') === ''
          ? []
          : at(r, 'proof')
              .split('|')
              .map((p) => fromHex(p))
    } catch {
      problems.push(`${where}: proof is not hex`)
      return
    }
    if (!verifyInclusion(lineLeaf(line), index, record.body.lines.length, path, record.body.merkleRoot))
      problems.push(`${where}: the audit path does not prove line ${index}`)
  })
  return { ok: problems.length === 0, problems, parts: parts.size, lines }
}
