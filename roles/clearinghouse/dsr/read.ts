/**
 * Reading a DSR flat file back, for `consort statement verify`: the syntax (escapes, cells per record type), the
 * order of the Basic Audio Profile (HEAD, summaries, blocks of RE01.03 → AS01.03 → SU01.03/SU02.03, FOOT), the
 * references between records, FOOT's counts and each summary's totals against its sales and usage records. It does
 * not prove the money (a DSR carries no signature): the accounting export (`--csv`/`--json`) does, line by line.
 */
import { formatMinorUnits, minorUnits } from '../../../protocols/identifiers/currencies.ts'
import { DOWNLOAD_USE_TYPES, DSR_CELLS, DSR_MULTI_VALUED, type DsrRecordType } from './records.ts'

export interface DsrCheck {
  ok: boolean
  problems: string[]
  lines: number
  summaries: number
  blocks: number
  /** End users' payments reported, per currency (decimal strings of major units). */
  netRevenue: Record<string, string>
}

interface Line {
  number: number
  type: string
  values: string[][]
}

/** Split one line into cells of values, undoing the escapes. */
function splitLine(text: string, number: number, problems: string[]): string[][] {
  const cells: string[][] = [[]]
  let value = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === '\\') {
      if (text[i + 1] === '\t') {
        value += '\t'
        i += 1
      } else if (text[i + 1] === '\\' && text[i + 2] === '|') {
        value += '|'
        i += 2
      } else if (text[i + 1] === '\\' && text[i + 2] === '\\') {
        value += '\\'
        i += 2
      } else {
        problems.push(`line ${number}: a backslash that escapes nothing at column ${i + 1}`)
        value += c
      }
    } else if (c === '\t') {
      cells.at(-1)!.push(value)
      cells.push([])
      value = ''
    } else if (c === '|') {
      cells.at(-1)!.push(value)
      value = ''
    } else value += c
  }
  cells.at(-1)!.push(value)
  return cells
}

const DECIMAL = /^-?\d+(\.\d+)?$/
const INTEGER = /^\d+$/

/** Decimal text to minor units of `currency` (exact: more decimals than the currency has is a problem). */
function toMinor(text: string, currency: string): bigint | null {
  if (!DECIMAL.test(text)) return null
  const digits = minorUnits(currency)
  const negative = text.startsWith('-')
  const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.')
  if (fraction.length > digits) return null
  const minor = BigInt(whole!) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0')
  return negative ? -minor : minor
}

/** Check a DSR file's text (see the module comment). */
export function checkDsr(text: string): DsrCheck {
  const problems: string[] = []
  const raw = text.split('\n')
  if (raw.at(-1) === '') raw.pop()
  const lines: Line[] = raw.map((l, i) => {
    const body = l.endsWith('\r') ? l.slice(0, -1) : l
    const values = splitLine(body, i + 1, problems)
    return { number: i + 1, type: values[0]?.[0] ?? '', values }
  })
  const cell = (line: Line, name: string): string => {
    const names = DSR_CELLS[line.type as DsrRecordType] as readonly string[]
    return line.values[names.indexOf(name)]?.[0] ?? ''
  }
  for (const line of lines) {
    if (line.type.startsWith('#')) continue
    const names = DSR_CELLS[line.type as DsrRecordType] as readonly string[] | undefined
    if (names === undefined) {
      problems.push(`line ${line.number}: unknown record type ${JSON.stringify(line.type)}`)
      continue
    }
    if (line.values.length !== names.length) {
      problems.push(`line ${line.number}: ${line.type} has ${line.values.length} cells, the standard ${names.length}`)
    }
    const multi = DSR_MULTI_VALUED[line.type as DsrRecordType] ?? []
    line.values.forEach((values, i) => {
      if (values.length > 1 && !multi.includes(names[i] ?? '')) {
        problems.push(`line ${line.number}: ${line.type} ${names[i]} holds several values (an unescaped |)`)
      }
    })
  }
  const records = lines.filter((l) => !l.type.startsWith('#'))
  if (records[0]?.type !== 'HEAD') problems.push('line 1: the first record must be HEAD')
  if (records.at(-1)?.type !== 'FOOT') problems.push(`line ${lines.length}: the last record must be FOOT`)
  const summaries = new Map<string, { line: Line; usages: bigint; sold: bigint }>()
  const blocks = new Set<string>()
  let state: 'head' | 'summaries' | 'release' | 'resources' | 'sales' | 'foot' = 'head'
  let block = ''
  const releases = new Set<string>()
  const resources = new Set<string>()
  for (const line of records) {
    const where = `line ${line.number}: ${line.type}`
    switch (line.type) {
      case 'HEAD':
        if (state !== 'head') problems.push(`${where} is not the first record`)
        state = 'summaries'
        break
      case 'SY01.03': {
        if (state !== 'summaries') problems.push(`${where} comes after the first block`)
        const id = cell(line, 'SummaryRecordId')
        if (summaries.has(id)) problems.push(`${where} repeats SummaryRecordId ${id}`)
        summaries.set(id, { line, usages: 0n, sold: 0n })
        break
      }
      case 'RE01.03':
        if (state === 'head' || state === 'foot' || summaries.size === 0)
          problems.push(`${where} before any summary record`)
        block = cell(line, 'BlockId')
        if (blocks.has(block)) problems.push(`${where} starts block ${block} a second time`)
        blocks.add(block)
        releases.clear()
        resources.clear()
        releases.add(cell(line, 'ReleaseReference'))
        state = 'release'
        break
      case 'AS01.03':
        if (state !== 'release' && state !== 'resources') problems.push(`${where} outside a block's resources`)
        if (cell(line, 'BlockId') !== block) problems.push(`${where} names block ${cell(line, 'BlockId')} in ${block}`)
        resources.add(cell(line, 'ResourceReference'))
        state = 'resources'
        break
      case 'SU01.03':
      case 'SU02.03': {
        if (state !== 'resources' && state !== 'sales') problems.push(`${where} before its block's resources`)
        if (cell(line, 'BlockId') !== block) problems.push(`${where} names block ${cell(line, 'BlockId')} in ${block}`)
        state = 'sales'
        const summary = summaries.get(cell(line, 'SummaryRecordId'))
        if (summary === undefined) {
          problems.push(`${where} names no summary record (${cell(line, 'SummaryRecordId')})`)
          break
        }
        const release = cell(line, 'TransactedReleaseReference')
        const resource = cell(line, 'TransactedResourceReference')
        if ((release === '') === (resource === '')) problems.push(`${where} must name a release or a resource`)
        if (release !== '' && !releases.has(release)) problems.push(`${where} names no release of its block`)
        if (resource !== '' && !resources.has(resource)) problems.push(`${where} names no resource of its block`)
        const count = line.type === 'SU01.03' ? cell(line, 'Usages') : cell(line, 'NumberOfStreams')
        if (!INTEGER.test(count)) {
          problems.push(`${where} usage count ${JSON.stringify(count)} is not a whole number`)
          break
        }
        const returns = line.type === 'SU01.03' ? cell(line, 'Returns') : '0'
        const net = BigInt(count) - BigInt(INTEGER.test(returns) ? returns : '0')
        summary.usages += line.type === 'SU01.03' ? net : BigInt(count)
        if (line.type === 'SU01.03') {
          const currency = cell(summary.line, 'CurrencyOfReporting')
          const price = toMinor(cell(line, 'PriceEndUserPaidExcSalesTax'), currency)
          if (price === null) problems.push(`${where} price is not an amount in ${currency}`)
          else summary.sold += price * net
        }
        break
      }
      case 'FOOT':
        state = 'foot'
        break
    }
  }
  const netRevenue: Record<string, bigint> = {}
  for (const [id, s] of summaries) {
    const where = `line ${s.line.number}: SY01.03 ${id}`
    const total = cell(s.line, 'TotalUsages')
    if (!INTEGER.test(total) || BigInt(total) !== s.usages) {
      problems.push(`${where} TotalUsages ${total}, its sales and usage records add up to ${s.usages}`)
    }
    const currency = cell(s.line, 'CurrencyOfReporting')
    const revenue = /^[A-Z]{3}$/.test(currency) ? toMinor(cell(s.line, 'NetRevenue'), currency) : null
    if (revenue === null) {
      problems.push(`${where} NetRevenue is not an amount in ${JSON.stringify(currency)}`)
      continue
    }
    netRevenue[currency] = (netRevenue[currency] ?? 0n) + revenue
    if (DOWNLOAD_USE_TYPES.has(cell(s.line, 'UseType')) && revenue !== s.sold) {
      problems.push(
        `${where} NetRevenue ${cell(s.line, 'NetRevenue')}, its sales add up to ${formatMinorUnits(s.sold, currency)}`,
      )
    }
  }
  const foot = records.at(-1)
  if (foot?.type === 'FOOT') {
    const expect = (name: string, value: number) => {
      if (cell(foot, name) !== String(value)) problems.push(`FOOT ${name} ${cell(foot, name)}, the file ${value}`)
    }
    expect('NumberOfLinesInFile', lines.length)
    expect('NumberOfLinesInReport', lines.length)
    expect('NumberOfSummaryRecords', summaries.size)
    expect('NumberOfBlocksInFile', blocks.size)
    expect('NumberOfBlocksInReport', blocks.size)
  }
  return {
    ok: problems.length === 0,
    problems,
    lines: lines.length,
    summaries: summaries.size,
    blocks: blocks.size,
    netRevenue: Object.fromEntries(Object.entries(netRevenue).map(([c, v]) => [c, formatMinorUnits(v, c)])),
  }
}
