import assert from 'node:assert/strict'
import fc from 'fast-check'
import { inclusionProof, leafHash, merkleRoot, nodeHash, verifyInclusion } from '../../../roles/clearinghouse/merkle.ts'
import {
  feeOf,
  planPlay,
  planPool,
  planSale,
  referralCredit,
  splitByWeights,
  withReferral,
} from '../../../roles/clearinghouse/pricing.ts'

/** Shares of 10 000 basis points among 1..8 parties. */
const shares = fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 8 }).map((cuts) => {
  const sorted = [...cuts].sort((a, b) => a - b)
  const points = [0, ...sorted.slice(0, -1), 10_000]
  return points.slice(1).map((p, i) => ({ party: `party-${i}`, bps: p - points[i]! }))
})
const money = fc.bigInt({ min: 0n, max: 10n ** 12n })
const bps = fc.integer({ min: 0, max: 10_000 })

describe('clearinghouse money arithmetic (properties)', () => {
  it('a sale: fee, wholesale and margin add up to the price; splits add up to the wholesale; none negative but a plain sale below cost', () => {
    fc.assert(
      fc.property(
        money,
        fc.option(money, { nil: null }),
        bps,
        fc.boolean(),
        shares,
        (price, wholesale, feeBps, promotion, s) => {
          const plan = planSale({ price, wholesale, feeBps, promotion, shares: s })
          assert.equal(plan.fee + plan.wholesale + plan.margin, price)
          assert.equal(
            plan.splits.reduce((sum, p) => sum + p.amount, 0n),
            plan.wholesale,
          )
          assert.ok(plan.fee >= 0n && plan.fee <= price)
          assert.ok(plan.wholesale >= 0n)
          assert.ok(plan.splits.every((p) => p.amount >= 0n))
          if (promotion) assert.ok(plan.margin >= 0n)
          if (!promotion && wholesale !== null) assert.equal(plan.wholesale, wholesale)
          if (plan.margin < 0n) assert.ok(!promotion && wholesale !== null && wholesale > price - plan.fee)
        },
      ),
    )
  })

  it('a referral credit: ⌊price × bps⌋ capped at the payer’s share; with it the sale still adds up to the price', () => {
    fc.assert(
      fc.property(
        money,
        fc.option(money, { nil: null }),
        bps,
        fc.boolean(),
        shares,
        bps,
        fc.constantFrom('retailer' as const, 'distributor' as const),
        (price, wholesale, feeBps, promotion, s, referralBps, from) => {
          const sale = planSale({ price, wholesale, feeBps, promotion, shares: s })
          const credit = referralCredit(sale, referralBps, from)
          const share = from === 'retailer' ? sale.margin : sale.wholesale
          assert.ok(credit >= 0n && credit * 10_000n <= price * BigInt(referralBps))
          assert.ok(credit <= (share > 0n ? share : 0n), 'never more than the payer’s share')
          if (share >= (price * BigInt(referralBps)) / 10_000n)
            assert.equal(credit, (price * BigInt(referralBps)) / 10_000n)
          const paid = withReferral(sale, credit, from, s)
          const royalties = paid.splits.reduce((sum, p) => sum + p.amount, 0n)
          // The distributor passes on all it gets (the rights holders' split and, if it pays it, the credit)…
          assert.equal(paid.wholesale - royalties - (from === 'distributor' ? credit : 0n), 0n)
          // …and fee, the retailer's net, the royalties and the credit are the price, exactly.
          assert.equal(paid.fee + paid.margin + royalties + credit, price)
          assert.ok(paid.splits.every((p) => p.amount >= 0n))
        },
      ),
    )
  })

  it('the fee never exceeds its rate', () => {
    fc.assert(
      fc.property(money, bps, (amount, rate) => {
        const fee = feeOf(amount, rate)
        assert.ok(fee * 10_000n <= amount * BigInt(rate))
        assert.ok((fee + 1n) * 10_000n > amount * BigInt(rate))
      }),
    )
  })

  it('a play: the splits add up to the rate, each the floor or ceiling of its share', () => {
    fc.assert(
      fc.property(money, bps, shares, (rate, feeBps, s) => {
        const plan = planPlay(rate, feeBps, s)
        assert.equal(
          plan.splits.reduce((sum, p) => sum + p.amount, 0n),
          rate,
        )
        for (const [i, p] of plan.splits.entries()) {
          const exact = rate * BigInt(s[i]!.bps)
          assert.ok(p.amount * 10_000n >= exact - 9_999n && p.amount * 10_000n <= exact + 9_999n)
          assert.ok(p.amount >= 0n)
        }
      }),
    )
  })

  it('a split by weights preserves the total and never goes negative', () => {
    fc.assert(
      fc.property(
        money,
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 6n }), { minLength: 1, maxLength: 20 }),
        (total, weights) => {
          fc.pre(weights.some((w) => w > 0n))
          const parts = splitByWeights(
            total,
            weights.map((weight, key) => ({ key, weight })),
          )
          assert.equal(
            parts.reduce((s, p) => s + p.amount, 0n),
            total,
          )
          assert.ok(parts.every((p) => p.amount >= 0n))
          for (const [i, p] of parts.entries()) if (weights[i] === 0n) assert.equal(p.amount, 0n)
        },
      ),
    )
  })

  it('a pool never pays out more than the revenue times the largest share, nor anything without plays', () => {
    fc.assert(
      fc.property(
        money,
        fc.array(fc.record({ bps, plays: fc.integer({ min: 0, max: 1_000_000 }) }), { minLength: 1, maxLength: 10 }),
        (revenue, contracts) => {
          const out = planPool(
            revenue,
            contracts.map((c, key) => ({ key, ...c })),
          )
          const paid = out.reduce((s, o) => s + o.amount, 0n)
          const maxBps = BigInt(Math.max(...contracts.map((c) => c.bps)))
          assert.ok(paid * 10_000n <= revenue * maxBps)
          for (const [i, o] of out.entries()) {
            assert.ok(o.amount >= 0n)
            if (contracts[i]!.plays === 0) assert.equal(o.amount, 0n)
          }
        },
      ),
    )
  })
})

describe('statement Merkle trees (properties)', () => {
  /** RFC 9162's recursive definition, to check the bottom-up construction against. */
  function reference(leaves: Uint8Array[]): Uint8Array {
    if (leaves.length === 1) return leaves[0]!
    let k = 1
    while (k * 2 < leaves.length) k *= 2
    return nodeHash(reference(leaves.slice(0, k)), reference(leaves.slice(k)))
  }

  const leaves = fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 70 })

  it('the root is the RFC 9162 tree hash, and every leaf has a proof that verifies', () => {
    fc.assert(
      fc.property(leaves, (data) => {
        const hashes = data.map(leafHash)
        const root = merkleRoot(hashes)
        assert.deepEqual(root, reference(hashes))
        for (let i = 0; i < hashes.length; i++) {
          assert.ok(verifyInclusion(hashes[i]!, i, hashes.length, inclusionProof(hashes, i), root))
        }
      }),
      { numRuns: 60 },
    )
  })

  it('a proof fails for another leaf, another index, an index beyond the tree, or a changed path', () => {
    fc.assert(
      fc.property(leaves, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (data, pick, other) => {
        const hashes = data.map(leafHash)
        const root = merkleRoot(hashes)
        const i = pick % hashes.length
        const proof = inclusionProof(hashes, i)
        const stranger = leafHash(Uint8Array.from([...other, 0xff, 0xfe]))
        fc.pre(!hashes.some((h) => Buffer.from(h).equals(Buffer.from(stranger))))
        assert.ok(!verifyInclusion(stranger, i, hashes.length, proof, root))
        if (hashes.length > 1) {
          const j = (i + 1) % hashes.length
          if (!Buffer.from(hashes[j]!).equals(Buffer.from(hashes[i]!))) {
            assert.ok(!verifyInclusion(hashes[i]!, j, hashes.length, proof, root))
          }
        }
        assert.ok(!verifyInclusion(hashes[i]!, hashes.length, hashes.length, proof, root))
        if (proof.length > 0) {
          const bent = proof.map((p, k) => (k === 0 ? leafHash(p) : p))
          assert.ok(!verifyInclusion(hashes[i]!, i, hashes.length, bent, root))
        }
      }),
      { numRuns: 100 },
    )
  })
})
