import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { toJsonValue } from '../../protocols/json.ts'
import { renderHtmlReport } from './html.ts'
import { summaryText } from './summary.ts'
import type { RunMetrics } from './types.ts'

export interface WrittenReport {
  metricsJson: string
  html: string
  summary: string
}

/** Write `metrics.json`, `report.html` and `summary.txt` into `dir` (created if missing). */
export function writeReport(metrics: RunMetrics, dir: string): WrittenReport {
  mkdirSync(dir, { recursive: true })
  const files = {
    metricsJson: join(dir, 'metrics.json'),
    html: join(dir, 'report.html'),
    summary: join(dir, 'summary.txt'),
  }
  writeFileSync(files.metricsJson, `${JSON.stringify(toJsonValue(metrics), null, 2)}\n`)
  writeFileSync(files.html, renderHtmlReport(metrics))
  writeFileSync(files.summary, `${summaryText(metrics)}\n`)
  return files
}
