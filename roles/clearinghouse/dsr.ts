/**
 * A statement as CSV with the columns of a DDEX DSR sales report: the flat-file `SalesRecord` of the DSR message
 * suite (`DSP`, `SalesDate`, `ReleaseId`, `ReleaseTitle`, `ResourceTitle`, `Contributors`,
 * `NumberOfConsumerSalesGross`, then the columns DSPs add in that profile: `CurrencyCode`, `EffectiveRoyaltyRate`,
 * `RoyaltyRate`, `UseType`, `DistributionChannelType`, `ReleaseType`, `TerritoryCode`, `RightSharePercentage`,
 * `PlanName`, `LabelName`), then Consort's own columns that tie each row to its signed statement line. The mapping,
 * and which DSR cells stay empty because the clearinghouse does not know them, is in docs/decisions/0505.
 * RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a comma, quote or line break.
 */
import { toString as bytesToHex } from 'uint8arrays/to-string'
import { minorUnits } from '../../protocols/identifiers/currencies.ts'
import type { StatementLine } from '../../protocols/records/types/statement.ts'
import { parseParticipant } from './participants.ts'
import { formatAmount, type Statement } from './statements.ts'

export const DSR_COLUMNS = [
  'DSP',
  'SalesDate',
  'ReleaseId',
  'ReleaseTitle',
  'ResourceTitle',
  'Contributors',
  'NumberOfConsumerSalesGross',
  'CurrencyCode',
  'EffectiveRoyaltyRate',
  'RoyaltyRate',
  'UseType',
  'DistributionChannelType',
  'ReleaseType',
  'TerritoryCode',
  'RightSharePercentage',
  'PlanName',
  'LabelName',
] as const

export const CONSORT_COLUMNS = [
  'ConsortParticipant',
  'ConsortPeriod',
  'ConsortLineKind',
  'ConsortRef',
  'ConsortCounterparty',
  'ConsortAmount',
  'ConsortAmountMinor',
  'ConsortStatementPart',
  'ConsortLineIndex',
  'ConsortMerkleRoot',
] as const

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

/** `isrc:…` → `ISRC:…`, `icpn:…` → `ICPN:…`, `grid:…` → `GRid:…` (the DSR's prefixed release ids). */
export function dsrReleaseId(content: string | null): string {
  if (content === null) return ''
  const colon = content.indexOf(':')
  const scheme = content.slice(0, colon)
  const id = content.slice(colon + 1)
  const prefix = scheme === 'isrc' ? 'ISRC' : scheme === 'icpn' ? 'ICPN' : scheme === 'grid' ? 'GRid' : scheme
  return `${prefix}:${id}`
}

/** The amount per unit, in major units, exact to six decimal places beyond the currency's own (truncated). */
export function perUnit(amount: bigint, units: number, currency: string): string {
  if (units === 0) return ''
  const exponent = minorUnits(currency) + 6
  const negative = amount < 0n
  const scaled = ((negative ? -amount : amount) * 10n ** 6n) / BigInt(units)
  const digits = scaled.toString().padStart(exponent + 1, '0')
  const text = exponent === 0 ? digits : `${digits.slice(0, digits.length - exponent)}.${digits.slice(-exponent)}`
  return negative && scaled !== 0n ? `-${text}` : text
}

function dspOf(participant: string, line: StatementLine): string {
  if (parseParticipant(participant)?.kind === 'retailer') return participant
  if (line.counterparty !== null && parseParticipant(line.counterparty)?.kind === 'retailer') return line.counterparty
  return ''
}

export function toDsrCsv(statements: readonly Statement[]): string {
  const rows: string[][] = [[...DSR_COLUMNS, ...CONSORT_COLUMNS]]
  for (const s of statements) {
    for (const part of s.parts) {
      const root = bytesToHex(part.record.body.merkleRoot, 'base16')
      for (const [index, line] of part.record.body.lines.entries()) {
        rows.push([
          dspOf(s.participant, line),
          new Date(line.at).toISOString().slice(0, 10),
          dsrReleaseId(line.content),
          '',
          '',
          '',
          String(line.units),
          s.currency,
          perUnit(line.amount, line.units, s.currency),
          '',
          line.kind === 'play' ? 'OnDemandStream' : '',
          'Internet',
          '',
          '',
          '',
          '',
          '',
          s.participant,
          s.period,
          line.kind,
          line.ref,
          line.counterparty ?? '',
          formatAmount(line.amount, s.currency),
          line.amount.toString(),
          String(part.record.body.part),
          String(index),
          root,
        ])
      }
    }
  }
  return `${rows.map((r) => r.map(quote).join(',')).join('\r\n')}\r\n`
}
