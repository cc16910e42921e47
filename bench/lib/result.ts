import type { Baseline, BenchResult, Target } from './types.ts'

export interface ResultInit {
  metric: string
  value: number
  unit: string
  baseline?: Baseline | null
  target?: Target | null
}

function compare(actual: number, target: Target): boolean {
  return target.op === '>=' ? actual >= target.value : actual <= target.value
}

/**
 * Build one result: the ratio to its baseline and whether its target is met are computed here, never by hand,
 * so that every benchmark reports them the same way. A ratio target without a baseline is never met.
 */
export function result(init: ResultInit): BenchResult {
  const baseline = init.baseline ?? null
  const target = init.target ?? null
  const ratio = baseline != null && baseline.value !== 0 ? init.value / baseline.value : null
  let met = true
  if (target != null) {
    const actual = target.of === 'ratio' ? ratio : init.value
    met = actual != null && Number.isFinite(actual) && compare(actual, target)
  }
  return { metric: init.metric, value: init.value, unit: init.unit, baseline, ratio, target, met }
}
