import assert from 'node:assert/strict'
import { Lru } from '../../../keys/index.ts'

describe('keys: Lru, the one bounded cache', () => {
  it('forgets the least recently used entry beyond its capacity; get marks an entry used, peek does not', () => {
    const lru = new Lru<string, number>(2)
    lru.set('a', 1)
    lru.set('b', 2)
    assert.equal(lru.get('a'), 1)
    lru.set('c', 3)
    assert.equal(lru.has('b'), false, 'b was the least recently used')
    assert.deepEqual([lru.peek('a'), lru.peek('c'), lru.size], [1, 3, 2])
    lru.set('d', 4)
    assert.equal(lru.has('a'), false, 'peek did not mark a as used')
    assert.equal(lru.has('c'), true)
  })

  it('setting a key again replaces its value without growing', () => {
    const lru = new Lru<string, number>(2)
    lru.set('a', 1)
    lru.set('a', 2)
    assert.deepEqual([lru.get('a'), lru.size], [2, 1])
    assert.equal(lru.delete('a'), true)
    assert.equal(lru.size, 0)
  })

  it('refuses a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) assert.throws(() => new Lru(capacity), RangeError)
  })
})
