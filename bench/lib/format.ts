import { significant } from './stats.ts'
import type { BenchReport } from './types.ts'

function cell(value: number | null): string {
  return value == null ? '' : String(significant(value))
}

/** The report as an aligned table for people. */
export function formatReport(report: BenchReport): string {
  const header = ['metric', 'value', 'unit', 'baseline', 'ratio', 'target', 'met']
  const rows = report.results.map((r) => [
    r.metric,
    cell(r.value),
    r.unit,
    r.baseline == null ? '' : `${r.baseline.name} ${cell(r.baseline.value)}`,
    cell(r.ratio),
    r.target == null ? '' : `${r.target.of} ${r.target.op} ${r.target.value}`,
    r.target == null ? '' : r.met ? 'yes' : 'NO',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [
    `bench ${report.bench} · node ${report.node} · ${report.cpus} cpus · ${report.started} → ${report.ended}`,
    `load average (1, 5, 15 min): ${report.load.start.join(' ')} at the start, ${report.load.end.join(' ')} at the end`,
    `share of a CPU a busy thread got: ${report.cpuShare.start} at the start, ${report.cpuShare.end} at the end${report.cpuShare.autogroup === true ? ' (sched autogroup on: niced work in other sessions competes unniced)' : ''}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n')
}
