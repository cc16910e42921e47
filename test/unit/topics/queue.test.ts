import assert from 'node:assert/strict'
import { DeliveryQueue, type QueueOutcome, type QueuePolicy } from '../../../protocols/topics/queue.ts'

/** Deliveries the test releases by hand: which items started, and a way to finish each. */
function gatedDeliveries() {
  const started: string[] = []
  const gates = new Map<string, { resolve: () => void; reject: (err: Error) => void }>()
  let running = 0
  let most = 0
  return {
    started,
    get running() {
      return running
    },
    get most() {
      return most
    },
    deliver: (item: string) => {
      started.push(item)
      running += 1
      most = Math.max(most, running)
      const { promise, resolve, reject } = Promise.withResolvers<void>()
      gates.set(item, { resolve, reject })
      return promise.finally(() => {
        running -= 1
      })
    },
    finish(item: string, err?: Error) {
      const gate = gates.get(item)
      if (gate == null) throw new Error(`${item} never started`)
      if (err != null) gate.reject(err)
      else gate.resolve()
    },
  }
}

const policy = (overrides: Partial<QueuePolicy> = {}): QueuePolicy => ({
  maxItems: 3,
  maxBytes: 1000,
  concurrency: 1,
  whenFull: 'refuse-newest',
  ...overrides,
})

/** Let settled promises run their continuations. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('protocols/topics: the bounded delivery queue', () => {
  it('delivers first in first out, never more at once than its concurrency', async () => {
    const d = gatedDeliveries()
    const queue = new DeliveryQueue(policy({ maxItems: 10, concurrency: 2 }), d.deliver)
    const outcomes = ['a', 'b', 'c', 'd'].map((item) => queue.push(item, 10))
    assert.deepEqual(d.started, ['a', 'b'])
    d.finish('b')
    await settle()
    assert.deepEqual(d.started, ['a', 'b', 'c'])
    d.finish('a')
    d.finish('c')
    await settle()
    d.finish('d')
    assert.deepEqual(await Promise.all(outcomes), ['delivered', 'delivered', 'delivered', 'delivered'])
    assert.deepEqual(d.started, ['a', 'b', 'c', 'd'])
    assert.equal(d.most, 2)
    assert.equal(queue.depth, 0)
  })

  it('refuse-newest: when full (messages waiting and running both count), the arriving message is refused', async () => {
    const d = gatedDeliveries()
    const queue = new DeliveryQueue(policy(), d.deliver)
    const held = ['a', 'b', 'c'].map((item) => queue.push(item, 10))
    assert.ok(held.every((outcome) => outcome != null))
    assert.equal(queue.depth, 3)
    assert.equal(queue.admits(10), false)
    assert.equal(queue.push('d', 10), null)
    assert.deepEqual(d.started, ['a'])
    d.finish('a')
    await settle()
    assert.equal(queue.admits(10), true)
    assert.notEqual(queue.push('d', 10), null)
    assert.equal(queue.dropped, 0, 'nothing accepted is ever dropped')
  })

  it('is bounded in bytes as much as in messages', async () => {
    const d = gatedDeliveries()
    const queue = new DeliveryQueue(policy({ maxItems: 100, maxBytes: 100 }), d.deliver)
    assert.notEqual(queue.push('a', 60), null)
    assert.notEqual(queue.push('b', 40), null)
    assert.equal(queue.bytes, 100)
    assert.equal(queue.push('c', 1), null)
    d.finish('a')
    await settle()
    assert.notEqual(queue.push('c', 60), null)
    // A message larger than the whole queue is never taken, whatever the policy.
    assert.equal(
      new DeliveryQueue(policy({ maxBytes: 100, whenFull: 'drop-oldest' }), d.deliver).push('big', 101),
      null,
    )
  })

  it('drop-oldest: when full, the oldest waiting message goes unseen and the arriving one is taken', async () => {
    const d = gatedDeliveries()
    const dropped: string[] = []
    const queue = new DeliveryQueue(policy({ whenFull: 'drop-oldest' }), d.deliver, (item) => dropped.push(item))
    const outcomes = new Map<string, Promise<QueueOutcome> | null>()
    for (const item of ['a', 'b', 'c', 'd', 'e']) outcomes.set(item, queue.push(item, 10))
    // 'a' is being delivered (never dropped); 'b' then 'c' made room for 'd' and 'e'.
    assert.deepEqual(d.started, ['a'])
    assert.deepEqual(dropped, ['b', 'c'])
    assert.equal(queue.dropped, 2)
    assert.equal(await outcomes.get('b'), 'dropped')
    assert.equal(await outcomes.get('c'), 'dropped')
    d.finish('a')
    await settle()
    d.finish('d')
    await settle()
    d.finish('e')
    assert.equal(await outcomes.get('e'), 'delivered')
    assert.deepEqual(d.started, ['a', 'd', 'e'])
  })

  it('drop-oldest refuses when only running deliveries hold the room', () => {
    const d = gatedDeliveries()
    const queue = new DeliveryQueue(policy({ maxItems: 2, concurrency: 2, whenFull: 'drop-oldest' }), d.deliver)
    queue.push('a', 10)
    queue.push('b', 10)
    assert.deepEqual(d.started, ['a', 'b'])
    assert.equal(queue.push('c', 10), null)
    assert.equal(queue.dropped, 0)
  })

  it('a failed delivery frees its place like a finished one', async () => {
    const d = gatedDeliveries()
    const queue = new DeliveryQueue(policy({ maxItems: 1 }), d.deliver)
    const outcome = queue.push('a', 10)
    d.finish('a', new Error('the subscriber broke'))
    assert.equal(await outcome, 'delivered')
    assert.notEqual(queue.push('b', 10), null)
  })

  it('wakes a caller waiting for room, drops what waits at close and refuses after, and says when it is idle', async () => {
    const d = gatedDeliveries()
    const queue = new DeliveryQueue(policy({ maxItems: 2 }), d.deliver)
    queue.push('a', 10)
    const waiting = queue.push('b', 10)
    assert.equal(queue.hasRoom(10), false)
    let woken = false
    const room = queue.roomFreed().then(() => {
      woken = true
    })
    await settle()
    assert.equal(woken, false)
    d.finish('a')
    await room
    assert.equal(queue.hasRoom(10), true)
    let idle = false
    const idled = queue.idle().then(() => {
      idle = true
    })
    const dropped = queue.push('c', 10)
    queue.close()
    assert.equal(await dropped, 'dropped', "'c' was still waiting")
    assert.equal(queue.closed, true)
    assert.equal(queue.push('d', 10), null)
    await settle()
    assert.equal(idle, false, "'b' is still being delivered")
    d.finish('b')
    assert.equal(await waiting, 'delivered', "'b' was already running: it finishes")
    await idled
    assert.equal(queue.depth, 0)
    assert.deepEqual(d.started, ['a', 'b'], "'c' was never delivered")
    assert.equal(queue.dropped, 1)
  })

  it('refuses a policy without room for one message', () => {
    assert.throws(() => new DeliveryQueue(policy({ maxItems: 0 }), async () => {}), RangeError)
    assert.throws(() => new DeliveryQueue(policy({ concurrency: 0 }), async () => {}), RangeError)
  })
})
