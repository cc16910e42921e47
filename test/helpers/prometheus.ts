import { createRequire } from 'node:module'

/** One metric family as `parse-prometheus-text-format` returns it (the package ships no types). */
export interface MetricFamily {
  name: string
  help: string
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }>
}

const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => MetricFamily[]

/** GET a Prometheus endpoint and parse its exposition text with a real parser of the format. */
export async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`)
  const contentType = response.headers.get('content-type') ?? ''
  if (!contentType.startsWith('text/plain')) throw new Error(`GET ${url}: content-type ${contentType}`)
  return new Map(parse(await response.text()).map((family) => [family.name, family]))
}

/** The value of the sample whose labels include `labels` (summed over the others), or 0 when there is none. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = families.get(name)
  if (family == null) return 0
  let total = 0
  for (const metric of family.metrics) {
    if (Object.entries(labels).every(([k, v]) => metric.labels?.[k] === v)) total += Number(metric.value ?? 0)
  }
  return total
}
