import assert from 'node:assert/strict'
import fc from 'fast-check'
import { type SchedulerPeer, SegmentScheduler } from '../../../protocols/segments/index.ts'

const B = 256 * 1024

interface SimPeer extends SchedulerPeer {
  id: string
  queue: number[]
  rateBps: number | null
  has(i: number): boolean
  /** When the block at the head of the queue started. */
  headStarted: number
  delivered: number
  duplicates: number
}

function peer(id: string, rateBps: number | null, has: (i: number) => boolean = () => true): SimPeer {
  return { id, queue: [], rateBps, has, headStarted: 0, delivered: 0, duplicates: 0 }
}

/**
 * A discrete-event run of the scheduler: each peer serves its queue in order at its own rate; the fetcher keeps
 * `window` requests at each; the first copy of a segment wins and the copies still queued elsewhere are
 * cancelled (a copy already being sent is finished and counted as a duplicate).
 */
function simulate(total: number, rates: number[], window = 4) {
  const scheduler = new SegmentScheduler(total)
  const peers = rates.map((r, k) => peer(`p${k}`, r))
  const order: number[] = []
  let now = 0
  let maxHolders = 0
  const fill = () => {
    for (const p of [...peers].sort((a, b) => (b.rateBps ?? 0) - (a.rateBps ?? 0))) {
      while (p.queue.length < window) {
        const a = scheduler.assign(p, peers, B)
        if (a == null) break
        if (p.queue.length === 0) p.headStarted = now
        p.queue.push(a.index)
        maxHolders = Math.max(maxHolders, scheduler.holders(a.index).size)
      }
    }
  }
  fill()
  for (let steps = 0; !scheduler.complete; steps++) {
    assert.ok(steps < total * 20, 'the run ends')
    const busy = peers.filter((p) => p.queue.length > 0)
    assert.ok(busy.length > 0, 'some peer has work while segments are missing')
    const next = busy.reduce((a, b) => (a.headStarted + B / a.rateBps! <= b.headStarted + B / b.rateBps! ? a : b))
    now = next.headStarted + B / next.rateBps!
    const index = next.queue.shift()!
    next.headStarted = now
    const { first, cancel } = scheduler.completed(index, next.id)
    if (first) {
      next.delivered++
      order.push(index)
    } else {
      next.duplicates++
    }
    for (const other of peers.filter((p) => cancel.includes(p.id))) {
      const at = other.queue.indexOf(index)
      // the head is on the wire already: it arrives as a duplicate; the rest are withdrawn
      if (at > 0) {
        other.queue.splice(at, 1)
        scheduler.released(index, other.id)
      }
    }
    fill()
  }
  return { peers, order, maxHolders, seconds: now }
}

describe('segments scheduler', () => {
  it('hands out the lowest missing segment first and takes back what was released', () => {
    const s = new SegmentScheduler(5)
    const a = peer('a', null)
    s.markDone(0)
    assert.deepEqual(s.assign(a, [a], B), { index: 1, duplicate: false })
    a.queue.push(1)
    assert.deepEqual(s.assign(a, [a], B), { index: 2, duplicate: false })
    a.queue.push(2)
    s.released(1, 'a')
    a.queue.splice(0, 1)
    assert.deepEqual(s.assign(a, [a], B), { index: 1, duplicate: false })
    assert.deepEqual(s.completed(1, 'a'), { first: true, cancel: [] })
    assert.deepEqual(s.completed(1, 'a'), { first: false, cancel: [] })
    assert.equal(s.firstMissing(), 2)
    assert.equal(s.done, 2)
  })

  it('take and hedge: a segment the caller chose is held like an assigned one (take while missing, hedge while in flight)', () => {
    const s = new SegmentScheduler(6)
    const a = peer('a', null)
    assert.equal(s.take(4, 'a'), true)
    assert.equal(s.isInFlight(4), true)
    assert.equal(s.take(4, 'b'), false, 'already in flight')
    assert.deepEqual([...s.holders(4)], ['a'])
    // assign skips it and goes on in order
    assert.deepEqual(s.assign(a, [a], B), { index: 0, duplicate: false })
    s.released(4, 'a')
    assert.equal(s.isInFlight(4), false)
    assert.equal(s.take(4, 'a'), true, 'missing again once released')
    assert.deepEqual(s.completed(4, 'a'), { first: true, cancel: [] })
    assert.equal(s.take(4, 'a'), false, 'done')
    assert.throws(() => s.take(6, 'a'), RangeError)
    // hedge: one more copy of a segment in flight, at another peer, within maxCopies (2)
    assert.equal(s.hedge(5, 'b'), false, 'not in flight')
    assert.equal(s.take(5, 'a'), true)
    assert.equal(s.hedge(5, 'a'), false, 'already held there')
    assert.equal(s.hedge(5, 'b'), true)
    assert.equal(s.hedge(5, 'c'), false, 'two copies at most')
    assert.deepEqual(s.completed(5, 'b'), { first: true, cancel: ['a'] })
  })

  it('assigns only what a peer holds', () => {
    const s = new SegmentScheduler(6)
    const odd = peer('odd', 1e6, (i) => i % 2 === 1)
    const got: number[] = []
    for (let a = s.assign(odd, [odd], B); a != null; a = s.assign(odd, [odd], B)) {
      got.push(a.index)
      odd.queue.push(a.index)
    }
    assert.deepEqual(got, [1, 3, 5])
  })

  it('end-game: an idle fast peer duplicates the block a slow peer would deliver last; the first copy cancels the other', () => {
    const s = new SegmentScheduler(4)
    const slow = peer('slow', 100_000)
    const fast = peer('fast', 10_000_000)
    // the slow peer took everything before the fast one came
    for (let i = 0; i < 4; i++) {
      assert.equal(s.assign(slow, [slow], B)?.index, i)
      slow.queue.push(i)
    }
    const dup = s.assign(fast, [slow, fast], B)
    assert.deepEqual(dup, { index: 3, duplicate: true })
    fast.queue.push(3)
    assert.deepEqual(s.completed(3, 'fast'), { first: true, cancel: ['slow'] })
  })

  it('a slower peer takes segments further ahead, leaving the next ones to faster peers', () => {
    const s = new SegmentScheduler(20)
    const slow = peer('slow', 1_000_000)
    const fast = peer('fast', 4_000_000)
    const peers = [slow, fast]
    // the fast peer takes 0, 1; the slow one would deliver a block in 262 ms, when the fast one will have done
    // about four: it skips ahead past them
    for (const i of [0, 1]) {
      assert.equal(s.assign(fast, peers, B)?.index, i)
      fast.queue.push(i)
    }
    const skipped = s.assign(slow, peers, B)
    assert.equal(skipped?.index, 4)
  })

  it('makes no duplicate when it would not arrive much sooner', () => {
    const s = new SegmentScheduler(2)
    const a = peer('a', 5_000_000)
    const b = peer('b', 5_000_000)
    assert.equal(s.assign(a, [a, b], B)?.index, 0)
    a.queue.push(0)
    assert.equal(s.assign(a, [a, b], B)?.index, 1)
    a.queue.push(1)
    // b would deliver segment 1 in one block time, a in two: not worth a duplicate
    assert.equal(s.assign(b, [a, b], B), null)
  })

  it('gives more to faster peers, keeps copies bounded, and delivers nearly in order (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 120 }),
        fc.array(fc.integer({ min: 200_000, max: 20_000_000 }), { minLength: 1, maxLength: 5 }),
        (total, rates) => {
          const { peers, order, maxHolders } = simulate(total, rates)
          assert.equal(order.length, total)
          assert.deepEqual(
            [...order].sort((x, y) => x - y),
            Array.from({ length: total }, (_, i) => i),
          )
          assert.ok(maxHolders <= 2, `at most two copies of a segment in flight (${maxHolders})`)
          const duplicates = peers.reduce((n, p) => n + p.duplicates, 0)
          assert.ok(duplicates <= peers.length * 4, `duplicates bounded by the windows (${duplicates})`)
          const byRate = [...peers].sort((a, b) => a.rateBps! - b.rateBps!)
          const slowest = byRate[0]!
          const fastest = byRate.at(-1)!
          if (fastest.rateBps! >= 2 * slowest.rateBps!) {
            assert.ok(fastest.delivered >= slowest.delivered, `${fastest.delivered} ≥ ${slowest.delivered}`)
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it('with equal peers, splits the work evenly and finishes close to the ideal time', () => {
    const rates = [5_000_000, 5_000_000, 5_000_000, 5_000_000]
    const total = 256
    const { peers, seconds } = simulate(total, rates)
    for (const p of peers) assert.ok(Math.abs(p.delivered - total / 4) <= 4, `${p.id} delivered ${p.delivered}`)
    const ideal = (total * B) / rates.reduce((n, r) => n + r, 0)
    assert.ok(seconds <= ideal * 1.03, `${seconds.toFixed(3)} s against an ideal of ${ideal.toFixed(3)} s`)
  })
})
