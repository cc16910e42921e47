import assert from 'node:assert/strict'
import { FakeClock } from '../../../protocols/clock.ts'
import { PeerPenalties } from '../../../protocols/segments/index.ts'

describe('segments peer penalties', () => {
  it('bans a peer that served a bad block, for longer each time, until the ban runs out', () => {
    const clock = new FakeClock()
    const book = new PeerPenalties(clock, { banMs: 1000, maxBanMs: 3000 })
    assert.equal(book.isBanned('p'), false)
    assert.deepEqual(book.penalise('p'), { peer: 'p', badBlocks: 1, bannedUntil: clock.now() + 1000 })
    assert.equal(book.isBanned('p'), true)
    clock.advance(1000)
    assert.equal(book.isBanned('p'), false)
    assert.equal(book.penalise('p').bannedUntil, clock.now() + 2000)
    assert.equal(book.penalise('p').bannedUntil, clock.now() + 3000, 'capped at maxBanMs')
    assert.equal(book.get('p')?.badBlocks, 3)
  })

  it('forgets the least recently penalised peers beyond its bound', () => {
    const clock = new FakeClock()
    const book = new PeerPenalties(clock, { maxPeers: 2 })
    book.penalise('a')
    book.penalise('b')
    book.penalise('a')
    book.penalise('c')
    assert.deepEqual(
      book
        .list()
        .map((p) => p.peer)
        .sort(),
      ['a', 'c'],
    )
  })
})
