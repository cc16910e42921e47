import assert from 'node:assert/strict'
import { atLeastAsWide, initialUsageState, resolveRules } from '../../../protocols/usage-rules/index.ts'

const NOW = Date.UTC(2026, 10, 20)
const rules = (r: Parameters<typeof resolveRules>[0]) => resolveRules(r, { offline: 30 })
const fresh = initialUsageState(NOW - 1000)

describe('usage rules: is what is held at least as wide as an offer (issue 11, finding 5)', () => {
  it('a download kept for good covers a stream and another download of the track', () => {
    const held = { useType: 'PermanentDownload', rules: rules({}), state: fresh }
    assert.equal(atLeastAsWide(held, { useType: 'OnDemandStream', rules: rules({ plays: 10 }) }, NOW), true)
    assert.equal(atLeastAsWide(held, { useType: 'PermanentDownload', rules: rules({}) }, NOW), true)
  })

  it('a stream does not cover a download, nor a pass with fewer plays left than the offer gives', () => {
    const stream = {
      useType: 'OnDemandStream',
      rules: rules({ plays: 10 }),
      state: { ...fresh, plays: 2, firstPlayAt: NOW - 500 },
    }
    assert.equal(atLeastAsWide(stream, { useType: 'PermanentDownload', rules: rules({}) }, NOW), false)
    assert.equal(atLeastAsWide(stream, { useType: 'OnDemandStream', rules: rules({ plays: 10 }) }, NOW), false)
    assert.equal(atLeastAsWide(stream, { useType: 'OnDemandStream', rules: rules({ plays: 8 }) }, NOW), true)
    assert.equal(
      atLeastAsWide(stream, { useType: 'OnDemandStream', rules: rules({}) }, NOW),
      false,
      'unlimited beats 8',
    )
  })

  it('an exhausted, expired or shorter licence covers nothing', () => {
    const spent = {
      useType: 'PermanentDownload',
      rules: rules({ plays: 1 }),
      state: { ...fresh, plays: 1, firstPlayAt: NOW - 500 },
    }
    assert.equal(atLeastAsWide(spent, { useType: 'OnDemandStream', rules: rules({ plays: 1 }) }, NOW), false)
    const rental = {
      useType: 'OnDemandStream',
      rules: rules({ rentalSeconds: 3600 }),
      state: { ...fresh, plays: 1, firstPlayAt: NOW - 1800_000 },
    }
    assert.equal(
      atLeastAsWide(rental, { useType: 'OnDemandStream', rules: rules({ rentalSeconds: 3600 }) }, NOW),
      false,
    )
    assert.equal(atLeastAsWide(rental, { useType: 'OnDemandStream', rules: rules({ rentalSeconds: 600 }) }, NOW), true)
    assert.equal(
      atLeastAsWide(rental, { useType: 'OnDemandStream', rules: rules({}) }, NOW),
      false,
      'no window beats one',
    )
  })
})
