import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  formatDuration,
  parseDate,
  parseDateOrDateTime,
  parseDateTime,
  parseDuration,
  parseReducedDate,
} from '../../../protocols/identifiers/index.ts'

describe('identifiers: ISO 8601', () => {
  describe('durations', () => {
    it('turns durations into milliseconds', () => {
      assert.equal(parseDuration('PT3M20S'), 200_000)
      assert.equal(parseDuration('PT1H2M3.5S'), 3_723_500)
      assert.equal(parseDuration('P0DT0H3M0S'), 180_000)
      assert.equal(parseDuration('PT4M23.583S'), 263_583)
      assert.equal(parseDuration('PT1M'), 60_000)
      assert.equal(parseDuration('PT30S'), 30_000)
      assert.equal(parseDuration('PT0S'), 0)
      assert.equal(parseDuration('P1D'), 86_400_000)
      assert.equal(parseDuration('P1W'), 604_800_000)
      assert.equal(parseDuration('P0Y0M0DT0H2M28S'), 148_000)
      assert.equal(parseDuration('PT36M30S'), 2_190_000)
    })

    it('rounds sub-millisecond fractions to the nearest millisecond', () => {
      assert.equal(parseDuration('PT0.0004S'), 0)
      assert.equal(parseDuration('PT0.0005S'), 1)
      assert.equal(parseDuration('PT1.9999S'), 2000)
    })

    it('refuses years and months, malformed and signed durations', () => {
      for (const s of [
        'P2Y1M4DT1H10M0S',
        'P0Y5M3DT1H10M0S',
        'P1M',
        'P1Y',
        'P',
        'PT',
        'P1DT',
        'PT1.5M',
        'PT1,5S',
        '-PT1S',
        'PT-1S',
        'T3M',
        '3:20',
        'PT3M20',
        'pt3m20s',
        'PT3S20M',
        '',
        'PT1234567890123S',
      ]) {
        assert.throws(
          () => parseDuration(s),
          (err: Error) => err.name === 'InvalidDurationError' && err.message.includes(JSON.stringify(s)),
          s,
        )
      }
    })

    it('formats and parses back any count of milliseconds', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 10 * 24 * 3600 * 1000 }), (ms) => {
          assert.equal(parseDuration(formatDuration(ms)), ms)
        }),
      )
      assert.equal(formatDuration(200_000), 'PT3M20S')
      assert.equal(formatDuration(3_723_500), 'PT1H2M3.5S')
      assert.equal(formatDuration(0), 'PT0S')
    })
  })

  describe('dates and date-times', () => {
    it('parses calendar dates at midnight UTC', () => {
      assert.equal(parseDate('2026-11-25'), Date.UTC(2026, 10, 25))
      assert.equal(parseDate('2024-02-29'), Date.UTC(2024, 1, 29))
      assert.equal(parseDate('2000-02-29'), Date.UTC(2000, 1, 29))
      assert.equal(parseDate('0051-01-01'), Date.parse('0051-01-01T00:00:00Z'))
    })

    it('refuses impossible and malformed dates', () => {
      for (const s of [
        '2023-02-29',
        '1900-02-29',
        '2026-13-01',
        '2026-00-10',
        '2026-04-31',
        '5686-70',
        '26-11-25',
        '2026/11/25',
        '20261125',
        '2026-W48-3',
        '2026-329',
        '2026-11-25T00:00:00Z',
        '',
      ]) {
        assert.throws(() => parseDate(s), { name: 'InvalidDateError' }, s)
      }
    })

    it('parses reduced-precision dates where asked to', () => {
      assert.deepEqual(parseReducedDate('2010'), { precision: 'year', ms: Date.UTC(2010, 0, 1) })
      assert.deepEqual(parseReducedDate('2010-06'), { precision: 'month', ms: Date.UTC(2010, 5, 1) })
      assert.deepEqual(parseReducedDate('2010-06-21'), { precision: 'day', ms: Date.UTC(2010, 5, 21) })
      assert.throws(() => parseReducedDate('5686-70'), { name: 'InvalidDateError' })
      assert.throws(() => parseReducedDate('3858-69'), { name: 'InvalidDateError' })
    })

    it('parses date-times with a zone', () => {
      assert.equal(parseDateTime('2024-04-01T05:00:00Z'), Date.UTC(2024, 3, 1, 5))
      assert.equal(parseDateTime('2014-09-24T14:57:25+01:00'), Date.UTC(2014, 8, 24, 13, 57, 25))
      assert.equal(parseDateTime('2017-04-25T15:00:29+00:00'), Date.UTC(2017, 3, 25, 15, 0, 29))
      assert.equal(parseDateTime('2017-04-25T00:00:00-05:30'), Date.UTC(2017, 3, 25, 5, 30))
      assert.equal(parseDateTime('2017-04-25T00:00:00.25Z'), Date.UTC(2017, 3, 25) + 250)
    })

    it('refuses date-times without a zone or with impossible fields', () => {
      for (const s of [
        '2017-01-14T18:57:00',
        '2017-01-14T24:00:00Z',
        '2017-01-14T18:60:00Z',
        '2017-01-14T18:57:60Z',
        '2017-01-14T18:57Z',
        '2017-01-14T18:57:00+15:00',
        '2017-01-14 18:57:00Z',
        '2017-02-30T00:00:00Z',
      ]) {
        assert.throws(() => parseDateTime(s), { name: 'InvalidDateError' }, s)
      }
    })

    it('agrees with Date for random instants', () => {
      fc.assert(
        fc.property(
          fc.date({
            min: new Date('1900-01-01T00:00:00Z'),
            max: new Date('2200-01-01T00:00:00Z'),
            noInvalidDate: true,
          }),
          (d) => {
            assert.equal(parseDateTime(d.toISOString()), d.getTime())
            const day = d.toISOString().slice(0, 10)
            assert.equal(parseDate(day), Date.parse(`${day}T00:00:00Z`))
          },
        ),
      )
    })

    it('tells dates from date-times', () => {
      assert.deepEqual(parseDateOrDateTime('2017-04-25'), { kind: 'date', ms: Date.UTC(2017, 3, 25) })
      assert.deepEqual(parseDateOrDateTime('2017-04-25T00:00:00Z'), { kind: 'date-time', ms: Date.UTC(2017, 3, 25) })
      assert.throws(() => parseDateOrDateTime('2017'), { name: 'InvalidDateError' })
    })
  })
})
