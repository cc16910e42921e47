/**
 * Summaries over runs of one scenario with different seeds: the mean of a figure, its sample standard deviation
 * and a 95 % confidence interval for the mean from Student's t distribution (the runs are independent samples; with
 * few of them the normal approximation would make the interval too narrow).
 */

/** Two-sided 97.5 % quantiles of Student's t by degrees of freedom (1–30), then 40, 60, 120 and ∞. */
const T_975: Record<number, number> = {
  1: 12.706,
  2: 4.303,
  3: 3.182,
  4: 2.776,
  5: 2.571,
  6: 2.447,
  7: 2.365,
  8: 2.306,
  9: 2.262,
  10: 2.228,
  11: 2.201,
  12: 2.179,
  13: 2.16,
  14: 2.145,
  15: 2.131,
  16: 2.12,
  17: 2.11,
  18: 2.101,
  19: 2.093,
  20: 2.086,
  21: 2.08,
  22: 2.074,
  23: 2.069,
  24: 2.064,
  25: 2.06,
  26: 2.056,
  27: 2.052,
  28: 2.048,
  29: 2.045,
  30: 2.042,
  40: 2.021,
  60: 2.0,
  120: 1.98,
}

/** t₀.₉₇₅ for `df` degrees of freedom (the next smaller tabulated df beyond 30: a slightly wider interval). */
export function t975(df: number): number {
  if (df < 1) return Number.NaN
  if (df <= 30) return T_975[df]!
  if (df < 40) return T_975[30]!
  if (df < 60) return T_975[40]!
  if (df < 120) return T_975[60]!
  return df < 1000 ? T_975[120]! : 1.96
}

export interface Summary {
  n: number
  mean: number
  sd: number
  /** The 95 % confidence interval of the mean: mean ± t₀.₉₇₅(n−1)·sd/√n (null for a single run). */
  ci95Low: number | null
  ci95High: number | null
  min: number
  max: number
}

export function summarise(values: readonly number[]): Summary {
  const n = values.length
  const mean = n === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / n
  const sd = n < 2 ? 0 : Math.sqrt(values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1))
  const half = n < 2 ? null : (t975(n - 1) * sd) / Math.sqrt(n)
  return {
    n,
    mean,
    sd,
    ci95Low: half == null ? null : mean - half,
    ci95High: half == null ? null : mean + half,
    min: Math.min(...values),
    max: Math.max(...values),
  }
}

/** The p-th percentile (0–100) of values, by linear interpolation between closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo)
}
