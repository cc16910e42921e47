import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { toJsonValue } from '../../protocols/json.ts'
import type { Scenario } from '../scenario.ts'
import { renderHtmlReport } from './html.ts'
import { summaryText } from './summary.ts'
import { flatMetrics, type Table, writeTable } from './tables.ts'
import type { RunMachine, RunMetrics } from './types.ts'

export interface WrittenReport {
  /** The scenario as run (defaults filled in): `consort sim` runs it again as it is. */
  scenarioJson: string | null
  metricsJson: string
  /** The same metrics flat: one (metric, value) row per scalar. */
  metricsCsv: string
  html: string
  summary: string
  /** One CSV per raw trace (deliveries, messages, fetches, purchases, plays, nodes, events, timeline). */
  tables: Record<string, { path: string; rows: number }>
  /** What the run cost the machine: the one file that differs between two runs of the same scenario and seed. */
  systemJson: string | null
}

export interface ReportInput {
  metrics: RunMetrics
  tables?: readonly Table[]
  machine?: RunMachine | null
  scenario?: Scenario | null
}

/**
 * Write a run's results into `dir` (created if missing): `metrics.json` and `metrics.csv`, one CSV per table,
 * `summary.txt`, `report.html` and `scenario.json` — the same bytes for the same scenario, seed and code — and
 * `system.json` with what the run cost this machine, when given.
 */
export function writeReport(input: ReportInput, dir: string): WrittenReport {
  const { metrics, tables = [], machine = null, scenario = null } = input
  mkdirSync(dir, { recursive: true })
  const files: WrittenReport = {
    scenarioJson: scenario == null ? null : join(dir, 'scenario.json'),
    metricsJson: join(dir, 'metrics.json'),
    metricsCsv: join(dir, 'metrics.csv'),
    html: join(dir, 'report.html'),
    summary: join(dir, 'summary.txt'),
    tables: {},
    systemJson: machine == null ? null : join(dir, 'system.json'),
  }
  if (files.scenarioJson != null) writeFileSync(files.scenarioJson, `${JSON.stringify(scenario, null, 2)}\n`)
  const json = toJsonValue(metrics)
  writeFileSync(files.metricsJson, `${JSON.stringify(json, null, 2)}\n`)
  writeTable(dir, {
    name: 'metrics',
    row: 'one figure of metrics.json (its dotted path) and its value',
    columns: ['metric', 'value'],
    rows: () => flatMetrics(json),
  })
  for (const table of tables) files.tables[table.name] = writeTable(dir, table)
  writeFileSync(files.html, renderHtmlReport(metrics))
  writeFileSync(files.summary, `${summaryText(metrics)}\n`)
  if (files.systemJson != null) writeFileSync(files.systemJson, `${JSON.stringify(machine, null, 2)}\n`)
  return files
}
