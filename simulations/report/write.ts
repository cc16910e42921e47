import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { toJsonValue } from '../../protocols/json.ts'
import type { Scenario } from '../scenario.ts'
import { renderHtmlReport } from './html.ts'
import { summaryText } from './summary.ts'
import type { RunMachine, RunMetrics } from './types.ts'

export interface WrittenReport {
  /** The scenario as run (defaults filled in): `consort sim` runs it again as it is. */
  scenarioJson: string | null
  metricsJson: string
  html: string
  summary: string
  /** What the run cost the machine: the one file that differs between two runs of the same scenario and seed. */
  systemJson: string | null
}

/**
 * Write `metrics.json`, `report.html` and `summary.txt` into `dir` (created if missing): the same bytes for the same
 * scenario, seed and code; and `system.json` with what the run cost this machine, when given.
 */
export function writeReport(
  metrics: RunMetrics,
  dir: string,
  machine: RunMachine | null = null,
  scenario: Scenario | null = null,
): WrittenReport {
  mkdirSync(dir, { recursive: true })
  const files = {
    scenarioJson: scenario == null ? null : join(dir, 'scenario.json'),
    metricsJson: join(dir, 'metrics.json'),
    html: join(dir, 'report.html'),
    summary: join(dir, 'summary.txt'),
    systemJson: machine == null ? null : join(dir, 'system.json'),
  }
  if (files.scenarioJson != null) writeFileSync(files.scenarioJson, `${JSON.stringify(scenario, null, 2)}\n`)
  writeFileSync(files.metricsJson, `${JSON.stringify(toJsonValue(metrics), null, 2)}\n`)
  writeFileSync(files.html, renderHtmlReport(metrics))
  writeFileSync(files.summary, `${summaryText(metrics)}\n`)
  if (files.systemJson != null) writeFileSync(files.systemJson, `${JSON.stringify(machine, null, 2)}\n`)
  return files
}
