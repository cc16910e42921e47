/**
 * Plain-English formatting shared by denial messages, bound violations and storefront phrases. Internal to the
 * module. Nothing here throws, whatever number it is given: `evaluate` builds its messages with these.
 */

const SECONDS_PER_MINUTE = 60
const SECONDS_PER_HOUR = 3600
const SECONDS_PER_DAY = 86_400
/**
 * Durations up to a week read better in hours ("rent for 48 hours"); whole days beyond that ("30 days"). A
 * week itself is "7 days".
 */
const HOURS_UP_TO_SECONDS = 7 * SECONDS_PER_DAY
/** The largest instant a JavaScript `Date` can hold (ms since the epoch): beyond it `toISOString` throws. */
const MAX_DATE_MS = 8.64e15

/** `1 play`, `3 plays`; `plural` defaults to `singular + 's'`. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`
}

/** `once`, `twice`, `3 times`. */
export function times(n: number): string {
  if (n === 1) return 'once'
  if (n === 2) return 'twice'
  return `${n} times`
}

/** A duration in the largest unit that expresses it exactly: `48 hours`, `30 days`, `90 minutes`, `45 seconds`. */
export function duration(seconds: number): string {
  if (seconds > 0 && seconds % SECONDS_PER_HOUR === 0 && seconds < HOURS_UP_TO_SECONDS) {
    return count(seconds / SECONDS_PER_HOUR, 'hour')
  }
  if (seconds > 0 && seconds % SECONDS_PER_DAY === 0) return count(seconds / SECONDS_PER_DAY, 'day')
  if (seconds > 0 && seconds % SECONDS_PER_HOUR === 0) return count(seconds / SECONDS_PER_HOUR, 'hour')
  if (seconds > 0 && seconds % SECONDS_PER_MINUTE === 0) return count(seconds / SECONDS_PER_MINUTE, 'minute')
  return count(seconds, 'second')
}

/** An instant as `2026-12-31 23:59:59 UTC` (milliseconds dropped), or in raw ms where a `Date` cannot hold it. */
export function instant(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return `${ms} ms after 1970-01-01 UTC`
  const [date = '', time = ''] = new Date(ms).toISOString().split('T')
  return `${date} ${time.slice(0, 8)} UTC`
}
