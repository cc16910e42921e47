import assert from 'node:assert/strict'
import { KeyedQueue } from '../../../roles/common/keyed-queue.ts'

describe('keyed queue (one task at a time per key)', () => {
  it('runs one operation at a time per key, in order, and different keys side by side', async () => {
    const queue = new KeyedQueue()
    const log: string[] = []
    let releaseA!: () => void
    const gate = new Promise<void>((resolve) => {
      releaseA = resolve
    })
    const a1 = queue.run('a', async () => {
      log.push('a1 start')
      await gate
      log.push('a1 end')
    })
    const a2 = queue.run('a', async () => {
      log.push('a2')
    })
    await queue.run('b', async () => {
      log.push('b')
    })
    assert.deepEqual(log, ['a1 start', 'b'])
    releaseA()
    await Promise.all([a1, a2])
    assert.deepEqual(log, ['a1 start', 'b', 'a1 end', 'a2'])
    assert.equal(queue.size, 0)
  })

  it('releases the key when an operation throws', async () => {
    const queue = new KeyedQueue()
    await assert.rejects(
      queue.run('k', async () => {
        throw new Error('boom')
      }),
      /boom/,
    )
    assert.equal(await queue.run('k', async () => 42), 42)
    assert.equal(queue.size, 0)
  })
})
