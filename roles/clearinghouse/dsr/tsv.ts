/**
 * The DSR flat file's syntax (DSR Part 1, "Technical details"): one record per line ending in LF, cells separated
 * by TAB, several values of one cell separated by `|`, a namespace before a value separated by `::`. Cells are never
 * quoted: a TAB inside a value is written `\` TAB, a `|` is written `\\|` and a `\` is written `\\\`, in every cell,
 * multi-valued or not. A line break cannot be escaped at all, so one inside a value (a title, say) is written as a
 * space.
 */
import { DSR_CELLS, type DsrRecordType } from './records.ts'

/** A value with the namespace it comes from (`ISNI::0000000081266409`). */
export interface Namespaced {
  namespace: string
  value: string
}

/** What a cell holds: one value, several (`|`), or nothing. */
export type CellValue = string | Namespaced | ReadonlyArray<string | Namespaced> | null | undefined

/** A record's cells by name (the names of `DSR_CELLS[type]`; the record type itself is not given). */
export type DsrCells<T extends DsrRecordType> = Partial<Record<(typeof DSR_CELLS)[T][number], CellValue>>

/** One value, escaped for a cell. */
export function escapeValue(value: string): string {
  let out = ''
  for (const char of value.replace(/\r\n|[\r\n]/g, ' ')) {
    if (char === '\\') out += '\\\\\\'
    else if (char === '|') out += '\\\\|'
    else if (char === '\t') out += '\\\t'
    else out += char
  }
  return out
}

function part(value: string | Namespaced): string {
  return typeof value === 'string' ? escapeValue(value) : `${escapeValue(value.namespace)}::${escapeValue(value.value)}`
}

function cell(value: CellValue): string {
  if (value == null) return ''
  if (typeof value === 'string' || !Array.isArray(value)) return part(value as string | Namespaced)
  return (value as ReadonlyArray<string | Namespaced>).map(part).join('|')
}

/** A record as one line (without its line end): every cell of its type, in order, empty where not given. */
export function recordLine<T extends DsrRecordType>(type: T, cells: DsrCells<T>): string {
  const names = DSR_CELLS[type] as readonly string[]
  const given = cells as Record<string, CellValue>
  for (const name of Object.keys(given)) {
    if (!names.includes(name) || name === 'RecordType') throw new TypeError(`${type} has no cell ${name}`)
  }
  return names.map((name, i) => (i === 0 ? type : cell(given[name]))).join('\t')
}
