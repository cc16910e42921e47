import { InvalidDateError, InvalidDurationError } from './errors.ts'

/**
 * The parts of ISO 8601 that music metadata uses, turned into integer milliseconds:
 * - durations: `PT3M20S`, `PT1H2M3.5S`, `P0DT0H3M0S`, `P1W`. Years and months have no fixed length, so a duration
 *   with a non-zero year or month part is refused (zero ones, as schema-generated messages write them, are fine).
 *   Fractions are allowed on seconds only and rounded to the nearest millisecond.
 * - calendar dates `2026-11-25` (midnight UTC), reduced-precision dates `2026` / `2026-11` where a caller asks
 *   for them, and date-times with a zone: `2024-04-01T05:00:00Z`, `2014-09-24T14:57:25+01:00`, fractions allowed.
 * Everything else (week dates, ordinal dates, basic format, local times without a zone, comma decimals, signs)
 * is refused with an error that says what was expected.
 */

const MS_PER_SECOND = 1000
const MS_PER_MINUTE = 60 * MS_PER_SECOND
const MS_PER_HOUR = 60 * MS_PER_MINUTE
const MS_PER_DAY = 24 * MS_PER_HOUR
const MS_PER_WEEK = 7 * MS_PER_DAY

/** Each numeric field of a duration has at most this many digits: enough for any real length, and it keeps sums exact. */
const MAX_DURATION_FIELD_DIGITS = 12

const DURATION =
  /^P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)W)?(?:([0-9]+)D)?(?:T(?=[0-9])(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)(?:\.([0-9]+))?S)?)?$/

/** Milliseconds from a fraction of a second written as decimal digits, rounded half up. */
function fractionToMs(digits: string): number {
  const padded = digits.padEnd(4, '0')
  const ms = Number(padded.slice(0, 3))
  return padded.charCodeAt(3) - 48 >= 5 ? ms + 1 : ms
}

/** Parses an ISO 8601 duration into integer milliseconds. Throws `InvalidDurationError`. */
export function parseDuration(s: string): number {
  const m = DURATION.exec(s)
  if (m === null || s === 'P') {
    throw new InvalidDurationError(s, 'expected an ISO 8601 duration such as PT3M20S, PT1H2M3.5S or P0DT0H3M0S')
  }
  const [, years, months, weeks, days, hours, minutes, seconds, fraction] = m
  for (const field of [years, months, weeks, days, hours, minutes, seconds]) {
    if (field !== undefined && field.length > MAX_DURATION_FIELD_DIGITS) {
      throw new InvalidDurationError(s, `a field has more than ${MAX_DURATION_FIELD_DIGITS} digits`)
    }
  }
  if ((years !== undefined && Number(years) !== 0) || (months !== undefined && Number(months) !== 0)) {
    throw new InvalidDurationError(s, 'years and months have no fixed length; give days, hours, minutes and seconds')
  }
  const ms =
    Number(weeks ?? 0) * MS_PER_WEEK +
    Number(days ?? 0) * MS_PER_DAY +
    Number(hours ?? 0) * MS_PER_HOUR +
    Number(minutes ?? 0) * MS_PER_MINUTE +
    Number(seconds ?? 0) * MS_PER_SECOND +
    (fraction === undefined ? 0 : fractionToMs(fraction))
  if (!Number.isSafeInteger(ms)) throw new InvalidDurationError(s, 'too long to count in milliseconds')
  return ms
}

/** Writes milliseconds as the shortest ISO 8601 duration of hours, minutes and seconds (`PT3M20S`, `PT0S`). */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidDurationError(String(ms), 'not a count of milliseconds')
  const hours = Math.floor(ms / MS_PER_HOUR)
  const minutes = Math.floor((ms % MS_PER_HOUR) / MS_PER_MINUTE)
  const wholeSeconds = Math.floor((ms % MS_PER_MINUTE) / MS_PER_SECOND)
  const millis = ms % MS_PER_SECOND
  let out = 'PT'
  if (hours > 0) out += `${hours}H`
  if (minutes > 0) out += `${minutes}M`
  if (wholeSeconds > 0 || millis > 0 || out === 'PT') {
    out += millis === 0 ? `${wholeSeconds}S` : `${wholeSeconds}.${String(millis).padStart(3, '0').replace(/0+$/, '')}S`
  }
  return out
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** Milliseconds at midnight UTC of a checked calendar day (years 0-99 are not shifted to 19xx as `Date.UTC` does). */
function utcMidnight(s: string, year: number, month: number, day: number): number {
  if (month < 1 || month > 12) throw new InvalidDateError(s, `month ${month} is not 01-12`)
  if (day < 1 || day > daysInMonth(year, month)) {
    throw new InvalidDateError(
      s,
      `day ${day} does not exist in ${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`,
    )
  }
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  return date.getTime()
}

const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/

/** Parses a calendar date `YYYY-MM-DD` into milliseconds at midnight UTC. Throws `InvalidDateError`. */
export function parseDate(s: string): number {
  const m = DATE.exec(s)
  if (m === null) throw new InvalidDateError(s, 'expected a calendar date YYYY-MM-DD')
  return utcMidnight(s, Number(m[1]), Number(m[2]), Number(m[3]))
}

const REDUCED_DATE = /^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$/

export type DatePrecision = 'year' | 'month' | 'day'

/**
 * Parses a calendar date of reduced precision as DDEX allows for release dates (`2010`, `2010-06`, `2010-06-21`):
 * returns the precision and the milliseconds at the start of that year, month or day (UTC).
 */
export function parseReducedDate(s: string): { precision: DatePrecision; ms: number } {
  const m = REDUCED_DATE.exec(s)
  if (m === null) throw new InvalidDateError(s, 'expected YYYY, YYYY-MM or YYYY-MM-DD')
  const year = Number(m[1])
  if (m[2] === undefined) return { precision: 'year', ms: utcMidnight(s, year, 1, 1) }
  if (m[3] === undefined) return { precision: 'month', ms: utcMidnight(s, year, Number(m[2]), 1) }
  return { precision: 'day', ms: utcMidnight(s, year, Number(m[2]), Number(m[3])) }
}

const DATE_TIME =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))$/

/** Parses a date-time with a zone (`Z` or `±hh:mm`) into milliseconds since the epoch. Throws `InvalidDateError`. */
export function parseDateTime(s: string): number {
  const m = DATE_TIME.exec(s)
  if (m === null) {
    throw new InvalidDateError(s, 'expected a date-time with a zone, YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)')
  }
  const [, year, month, day, hour, minute, second, fraction, zulu, sign, offsetHours, offsetMinutes] = m
  const h = Number(hour)
  const min = Number(minute)
  const sec = Number(second)
  if (h > 23 || min > 59 || sec > 59) throw new InvalidDateError(s, `time ${hour}:${minute}:${second} does not exist`)
  let offsetMs = 0
  if (zulu === undefined) {
    const oh = Number(offsetHours)
    const om = Number(offsetMinutes)
    if (oh > 14 || om > 59 || (oh === 14 && om > 0))
      throw new InvalidDateError(s, 'zone offsets range from -14:00 to +14:00')
    offsetMs = (sign === '-' ? -1 : 1) * (oh * MS_PER_HOUR + om * MS_PER_MINUTE)
  }
  const midnight = utcMidnight(s, Number(year), Number(month), Number(day))
  const fractionMs = fraction === undefined ? 0 : fractionToMs(fraction)
  return midnight + h * MS_PER_HOUR + min * MS_PER_MINUTE + sec * MS_PER_SECOND + fractionMs - offsetMs
}

/** Parses either a calendar date or a date-time with a zone, saying which it was. */
export function parseDateOrDateTime(s: string): { kind: 'date' | 'date-time'; ms: number } {
  if (DATE.test(s)) return { kind: 'date', ms: parseDate(s) }
  if (s.includes('T')) return { kind: 'date-time', ms: parseDateTime(s) }
  throw new InvalidDateError(s, 'expected YYYY-MM-DD or a date-time with a zone')
}
