import assert from 'node:assert/strict'
import { KeyedMutex } from '../../../roles/registration/mutex.ts'

describe('registration: keyed mutex', () => {
  it('runs one operation at a time per key, in order, and different keys side by side', async () => {
    const mutex = new KeyedMutex()
    const log: string[] = []
    let releaseA!: () => void
    const gate = new Promise<void>((resolve) => {
      releaseA = resolve
    })
    const a1 = mutex.run('a', async () => {
      log.push('a1 start')
      await gate
      log.push('a1 end')
    })
    const a2 = mutex.run('a', async () => {
      log.push('a2')
    })
    await mutex.run('b', async () => {
      log.push('b')
    })
    assert.deepEqual(log, ['a1 start', 'b'])
    releaseA()
    await Promise.all([a1, a2])
    assert.deepEqual(log, ['a1 start', 'b', 'a1 end', 'a2'])
    assert.equal(mutex.size, 0)
  })

  it('releases the key when an operation throws', async () => {
    const mutex = new KeyedMutex()
    await assert.rejects(
      mutex.run('k', async () => {
        throw new Error('boom')
      }),
      /boom/,
    )
    assert.equal(await mutex.run('k', async () => 42), 42)
    assert.equal(mutex.size, 0)
  })
})
