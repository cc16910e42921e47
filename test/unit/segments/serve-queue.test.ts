import assert from 'node:assert/strict'
import fc from 'fast-check'
import { type QueuedJob, ServeQueue } from '../../../protocols/segments/index.ts'

interface Job extends QueuedJob {
  name: string
}

let seq = 0
const job = (name: string, priority: number, peer = 'a', channel = 1): Job => ({
  name,
  priority,
  peer,
  channel,
  seq: seq++,
})
const limits = { maxQueued: 100, maxQueuedPerPeer: 100, maxActive: 1, maxActivePerPeer: 1 }

function drainOrder(queue: ServeQueue<Job>): string[] {
  const order: string[] = []
  for (let next = queue.next(); next != null; next = queue.next()) {
    order.push(next.name)
    queue.done(next)
  }
  return order
}

describe('segments server queue', () => {
  it('serves the most urgent first, first come first served within a priority', () => {
    const queue = new ServeQueue<Job>(limits)
    for (const [name, priority] of [
      ['sync-1', 2],
      ['prefetch-1', 1],
      ['now-1', 0],
      ['sync-2', 2],
      ['now-2', 0],
    ] as const) {
      assert.deepEqual(queue.enqueue(job(name, priority, name)), { accepted: true, evicted: null })
    }
    assert.equal(queue.queued, 5)
    assert.deepEqual(drainOrder(queue), ['now-1', 'now-2', 'prefetch-1', 'sync-1', 'sync-2'])
  })

  it('keeps to the active limits, per peer and per channel', () => {
    const queue = new ServeQueue<Job>({ ...limits, maxActive: 10, maxActivePerPeer: 2 })
    queue.enqueue(job('a1', 0, 'a', 1))
    queue.enqueue(job('a2', 0, 'a', 1))
    queue.enqueue(job('a3', 0, 'a', 2))
    queue.enqueue(job('a4', 0, 'a', 3))
    queue.enqueue(job('b1', 1, 'b', 4))
    const first = queue.next()
    assert.equal(first?.name, 'a1')
    // a2 is on a1's channel: it waits; a3 is on another channel
    assert.equal(queue.next()?.name, 'a3')
    // peer a has two active: the next goes to peer b, although less urgent
    assert.equal(queue.next()?.name, 'b1')
    assert.equal(queue.next(), null)
    queue.done(first!)
    assert.equal(queue.next()?.name, 'a2')
    assert.equal(queue.active, 3)
  })

  it('is bounded: per peer it refuses, when full it evicts a less urgent job or refuses', () => {
    const queue = new ServeQueue<Job>({ ...limits, maxQueued: 3, maxQueuedPerPeer: 2 })
    assert.equal(queue.enqueue(job('a1', 2, 'a')).accepted, true)
    assert.equal(queue.enqueue(job('a2', 2, 'a')).accepted, true)
    assert.deepEqual(queue.enqueue(job('a3', 0, 'a')), { accepted: false })
    assert.equal(queue.enqueue(job('b1', 1, 'b')).accepted, true)
    // full: a more urgent job pushes out the least urgent, newest one
    const result = queue.enqueue(job('c1', 0, 'c'))
    assert.equal(result.accepted, true)
    assert.equal(result.accepted && result.evicted?.name, 'a2')
    // full of jobs at least as urgent: refused
    assert.deepEqual(queue.enqueue(job('d1', 2, 'd')), { accepted: false })
    assert.deepEqual(drainOrder(queue), ['c1', 'b1', 'a1'])
  })

  it('takes cancelled jobs out', () => {
    const queue = new ServeQueue<Job>(limits)
    const a = job('a', 1)
    const b = job('b', 1)
    queue.enqueue(a)
    queue.enqueue(b)
    assert.deepEqual(
      queue.find((j) => j.name === 'a'),
      [a],
    )
    assert.equal(queue.remove(a), true)
    assert.equal(queue.remove(a), false)
    assert.deepEqual(drainOrder(queue), ['b'])
    queue.enqueue(job('c', 0))
    assert.equal(queue.drain().length, 1)
    assert.equal(queue.queued, 0)
  })

  it('never exceeds its limits and always serves the most urgent eligible job (property)', () => {
    const opArb = fc.oneof(
      fc.record({
        kind: fc.constant('enqueue' as const),
        peer: fc.constantFrom('a', 'b', 'c'),
        channel: fc.integer({ min: 1, max: 4 }),
        priority: fc.integer({ min: 0, max: 2 }),
      }),
      fc.record({ kind: fc.constant('next' as const) }),
      fc.record({ kind: fc.constant('done' as const), pick: fc.nat() }),
    )
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const l = { maxQueued: 8, maxQueuedPerPeer: 4, maxActive: 3, maxActivePerPeer: 2 }
        const queue = new ServeQueue<Job>(l)
        const queued: Job[] = []
        const active: Job[] = []
        for (const op of ops) {
          if (op.kind === 'enqueue') {
            const j = job('j', op.priority, op.peer, op.channel)
            const result = queue.enqueue(j)
            if (result.accepted) {
              queued.push(j)
              if (result.evicted != null) queued.splice(queued.indexOf(result.evicted), 1)
            }
          } else if (op.kind === 'next') {
            const eligible = queued.filter(
              (j) =>
                active.filter((a) => a.peer === j.peer).length < l.maxActivePerPeer &&
                !active.some((a) => a.channel === j.channel),
            )
            const next = queue.next()
            if (active.length >= l.maxActive || eligible.length === 0) {
              assert.equal(next, null)
              continue
            }
            const best = Math.min(...eligible.map((j) => j.priority))
            const expected = eligible.filter((j) => j.priority === best).sort((x, y) => x.seq - y.seq)[0]
            assert.equal(next, expected)
            queued.splice(queued.indexOf(next!), 1)
            active.push(next!)
          } else if (active.length > 0) {
            const [done] = active.splice(op.pick % active.length, 1)
            queue.done(done!)
          }
          assert.equal(queue.queued, queued.length)
          assert.equal(queue.active, active.length)
          assert.ok(queued.length <= l.maxQueued)
          for (const peer of ['a', 'b', 'c'])
            assert.ok(queued.filter((j) => j.peer === peer).length <= l.maxQueuedPerPeer)
        }
      }),
    )
  })
})
