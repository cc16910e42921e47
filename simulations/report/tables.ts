import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The run's raw traces as tidy tables: one CSV file per kind of observation, one row per observation, one column
 * per variable, a header row, comma-separated, RFC 4180 quoting, empty for a missing value. Times are seconds since
 * the workload started (`*_s`, millisecond precision; negative during set-up), durations milliseconds (`*_ms`),
 * sizes bytes. Any CSV reader loads them (`pandas.read_csv`, R's `read.csv`, a spreadsheet).
 */

export type Cell = string | number | boolean | bigint | null | undefined

export interface Table {
  /** File name without `.csv`. */
  name: string
  /** What one row is (for the docs and the report). */
  row: string
  columns: readonly string[]
  rows(): Iterable<readonly Cell[]>
}

/** Rows are written in batches of this many bytes (a table can hold millions of rows). */
const WRITE_BATCH_BYTES = 1 << 20

export function csvCell(value: Cell): string {
  if (value == null) return ''
  if (typeof value === 'boolean') return value ? '1' : '0'
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : ''
  const text = String(value)
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** Write `table` as `dir/NAME.csv`; answers the path and the number of rows. */
export function writeTable(dir: string, table: Table): { path: string; rows: number } {
  const path = join(dir, `${table.name}.csv`)
  const fd = openSync(path, 'w')
  let rows = 0
  try {
    let buffer = `${table.columns.join(',')}\n`
    for (const row of table.rows()) {
      if (row.length !== table.columns.length)
        throw new RangeError(`table ${table.name}: a row of ${row.length} cells for ${table.columns.length} columns`)
      buffer += `${row.map(csvCell).join(',')}\n`
      rows++
      if (buffer.length >= WRITE_BATCH_BYTES) {
        writeSync(fd, buffer)
        buffer = ''
      }
    }
    writeSync(fd, buffer)
  } finally {
    closeSync(fd)
  }
  return { path, rows }
}

/** Seconds since the workload started, to the millisecond, from a performance.now() reading. */
export function seconds(at: number, origin: number): number {
  return Math.round(at - origin) / 1000
}

/** Milliseconds to the hundredth. */
export function millis(ms: number | null | undefined): number | null {
  return ms == null ? null : Math.round(ms * 100) / 100
}

/**
 * metrics.json as a flat list of (metric, value) rows: every scalar under its dotted path (`gossip.latencyMs.p99`).
 * Lists (the timeline, per-message reach, chart buckets) are left out: they are tables or charts of their own.
 */
export function flatMetrics(value: unknown, prefix = ''): Array<[string, string | number | boolean | null]> {
  const out: Array<[string, string | number | boolean | null]> = []
  if (value == null || typeof value !== 'object') {
    out.push([prefix, typeof value === 'bigint' ? String(value) : (value as string | number | boolean | null)])
    return out
  }
  if (Array.isArray(value)) return out
  for (const [key, child] of Object.entries(value))
    out.push(...flatMetrics(child, prefix === '' ? key : `${prefix}.${key}`))
  return out
}

/** Rows made lazily from items (a table may have millions). */
export function* mapRows<T, R>(items: Iterable<T>, f: (item: T) => R): Generator<R> {
  for (const item of items) yield f(item)
}
