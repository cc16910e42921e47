import assert from 'node:assert/strict'
import fc from 'fast-check'
import { isError } from '../../../protocols/errors.ts'
import { InvalidSplitError } from '../../../roles/clearinghouse/ledger/errors.ts'
import { BASIS_POINTS, type Share, splitByBasisPoints } from '../../../roles/clearinghouse/splits.ts'

/** Integer shares summing to exactly 10000, with distinct party names, some of them possibly 0. */
const sharesArb: fc.Arbitrary<Share[]> = fc
  .array(fc.nat({ max: BASIS_POINTS }), { minLength: 0, maxLength: 11 })
  .chain((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), BASIS_POINTS]
    const bps = points.slice(1).map((p, i) => p - (points[i] ?? 0))
    return fc
      .uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: bps.length, maxLength: bps.length })
      .map((parties) => bps.map((b, i) => ({ party: parties[i] ?? '', bps: b })))
  })

const totalArb = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 2n ** 70n }))

describe('ledger/splitByBasisPoints', () => {
  it('splits a price among parties, the odd cents going to the largest remainders', () => {
    assert.deepEqual(
      splitByBasisPoints(100n, [
        { party: 'a', bps: 3333 },
        { party: 'b', bps: 3333 },
        { party: 'c', bps: 3334 },
      ]),
      [
        { party: 'a', amount: 33n },
        { party: 'b', amount: 33n },
        { party: 'c', amount: 34n },
      ],
    )
    // 1 cent, three equal-remainder parties: larger bps first, then party name.
    assert.deepEqual(
      splitByBasisPoints(1n, [
        { party: 'z', bps: 3000 },
        { party: 'y', bps: 3000 },
        { party: 'x', bps: 4000 },
      ]).map((p) => p.amount),
      [0n, 0n, 1n],
    )
    assert.deepEqual(
      splitByBasisPoints(2n, [
        { party: 'z', bps: 2500 },
        { party: 'y', bps: 2500 },
        { party: 'x', bps: 2500 },
        { party: 'w', bps: 2500 },
      ]),
      [
        { party: 'z', amount: 0n },
        { party: 'y', amount: 0n },
        { party: 'x', amount: 1n },
        { party: 'w', amount: 1n },
      ],
    )
    assert.deepEqual(splitByBasisPoints(0n, [{ party: 'only', bps: 10000 }]), [{ party: 'only', amount: 0n }])
  })

  it('refuses malformed shares, naming the field', () => {
    const cases: Array<[bigint, Share[], string]> = [
      [-1n, [{ party: 'a', bps: 10000 }], 'total'],
      [10n, [], 'shares'],
      [10n, [{ party: 'a', bps: 9999 }], 'shares'],
      [
        10n,
        [
          { party: 'a', bps: 5000.5 },
          { party: 'b', bps: 4999.5 },
        ],
        'shares[0].bps',
      ],
      [
        10n,
        [
          { party: 'a', bps: -1 },
          { party: 'b', bps: 10001 },
        ],
        'shares[0].bps',
      ],
      [
        10n,
        [
          { party: 'a', bps: 5000 },
          { party: 'a', bps: 5000 },
        ],
        'shares[1].party',
      ],
      [10n, [{ party: '', bps: 10000 }], 'shares[0].party'],
    ]
    for (const [total, shares, field] of cases) {
      assert.throws(
        () => splitByBasisPoints(total, shares),
        (err: unknown) => isError(err, InvalidSplitError) && err.field === field,
        `${field} for ${JSON.stringify(shares)}`,
      )
    }
    assert.throws(() => splitByBasisPoints(10 as unknown as bigint, [{ party: 'a', bps: 10000 }]), InvalidSplitError)
  })

  it('always preserves the total exactly and never goes negative (property)', () => {
    fc.assert(
      fc.property(totalArb, sharesArb, (total, shares) => {
        const parts = splitByBasisPoints(total, shares)
        assert.equal(parts.length, shares.length)
        assert.equal(
          parts.reduce((acc, p) => acc + p.amount, 0n),
          total,
        )
        for (const [i, p] of parts.entries()) {
          const share = shares[i]!
          assert.equal(p.party, share.party)
          assert.ok(p.amount >= 0n)
          // Each part is its exact share rounded down or up, and a 0-bps party gets nothing.
          const floor = (total * BigInt(share.bps)) / 10000n
          assert.ok(p.amount === floor || p.amount === floor + 1n, `${p.amount} vs floor ${floor}`)
          if (share.bps === 0) assert.equal(p.amount, 0n)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('does not depend on the order the shares are listed in (property)', () => {
    const listed = sharesArb.chain((shares) =>
      fc.tuple(
        fc.constant(shares),
        fc.shuffledSubarray(shares, { minLength: shares.length, maxLength: shares.length }),
      ),
    )
    fc.assert(
      fc.property(totalArb, listed, (total, [shares, shuffled]) => {
        const byParty = (parts: Array<{ party: string; amount: bigint }>) =>
          new Map(parts.map((p) => [p.party, p.amount]))
        assert.deepEqual(byParty(splitByBasisPoints(total, shuffled)), byParty(splitByBasisPoints(total, shares)))
      }),
      { numRuns: 500 },
    )
  })
})
