import { z } from 'zod'

/**
 * Random quantities of the link model (latencies, jitter), in milliseconds. A scenario writes one as a number (a
 * constant), as `{ "min", "max" }` (uniform, the original form), or with a `dist`:
 *
 * | `dist`        | fields                 | draw (u, u₁, u₂ uniform on [0, 1))                           | mean                    |
 * | ------------- | ---------------------- | ------------------------------------------------------------ | ----------------------- |
 * | `constant`    | `value`                | value                                                        | value                   |
 * | `uniform`     | `min`, `max`           | min + u·(max − min)                                          | (min + max) / 2         |
 * | `normal`      | `mean`, `sd`           | max(0, mean + sd·z), z = √(−2 ln(1−u₁))·cos(2π u₂)           | ≈ mean (when sd ≪ mean) |
 * | `lognormal`   | `median`, `sigma`      | median·e^(sigma·z)                                           | median·e^(sigma²/2)     |
 * | `exponential` | `mean`                 | −mean·ln(1 − u)                                              | mean                    |
 * | `pareto`      | `scale`, `shape`       | scale / (1 − u)^(1/shape) (heavy tail; Pareto type I)        | scale·shape/(shape − 1) |
 *
 * Every form takes an optional `cap`: draws above it are cut to it (a heavy tail stays finite).
 */

const ms = z.number().min(0).max(3_600_000)
const cap = { cap: ms.optional() }

export const distributionSchema = z.union([
  ms,
  z
    .object({ min: ms, max: ms, ...cap })
    .strict()
    .refine((d) => d.min <= d.max, { path: ['max'], message: 'must not be below min' }),
  z.discriminatedUnion('dist', [
    z.object({ dist: z.literal('constant'), value: ms, ...cap }).strict(),
    z
      .object({ dist: z.literal('uniform'), min: ms, max: ms, ...cap })
      .strict()
      .refine((d) => d.min <= d.max, { path: ['max'], message: 'must not be below min' }),
    z.object({ dist: z.literal('normal'), mean: ms, sd: ms, ...cap }).strict(),
    z.object({ dist: z.literal('lognormal'), median: ms, sigma: z.number().min(0).max(5), ...cap }).strict(),
    z.object({ dist: z.literal('exponential'), mean: ms, ...cap }).strict(),
    z.object({ dist: z.literal('pareto'), scale: ms, shape: z.number().min(0.1).max(100), ...cap }).strict(),
  ]),
])

export type Distribution = z.infer<typeof distributionSchema>

/** A uniform draw on [0, 1). */
export type Uniform = () => number

/** Draw one value (ms, never negative). */
export function draw(d: Distribution, u: Uniform): number {
  const value = rawDraw(d, u)
  const capped = typeof d === 'object' && d.cap != null ? Math.min(value, d.cap) : value
  return Math.max(0, capped)
}

function rawDraw(d: Distribution, u: Uniform): number {
  if (typeof d === 'number') return d
  if (!('dist' in d)) return d.min === d.max ? d.min : d.min + u() * (d.max - d.min)
  switch (d.dist) {
    case 'constant':
      return d.value
    case 'uniform':
      return d.min + u() * (d.max - d.min)
    case 'normal':
      return d.mean + d.sd * gaussian(u)
    case 'lognormal':
      return d.median * Math.exp(d.sigma * gaussian(u))
    case 'exponential':
      return -d.mean * Math.log(1 - u())
    case 'pareto':
      return d.scale / (1 - u()) ** (1 / d.shape)
  }
}

/** A standard normal draw (Box–Muller). */
function gaussian(u: Uniform): number {
  const u1 = u()
  const u2 = u()
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2)
}

/** True when the distribution always draws 0 (no need to draw at all). */
export function isZero(d: Distribution | undefined): boolean {
  if (d == null) return true
  if (typeof d === 'number') return d === 0
  if (!('dist' in d)) return d.max === 0
  return d.dist === 'constant' ? d.value === 0 : false
}

/** The distribution's mean (ms), for the report: what a reader compares measured latencies with. */
export function meanOf(d: Distribution): number {
  if (typeof d === 'number') return d
  if (!('dist' in d)) return (d.min + d.max) / 2
  switch (d.dist) {
    case 'constant':
      return d.value
    case 'uniform':
      return (d.min + d.max) / 2
    case 'normal':
      return d.mean
    case 'lognormal':
      return d.median * Math.exp((d.sigma * d.sigma) / 2)
    case 'exponential':
      return d.mean
    case 'pareto':
      return d.shape > 1 ? (d.scale * d.shape) / (d.shape - 1) : Number.POSITIVE_INFINITY
  }
}
