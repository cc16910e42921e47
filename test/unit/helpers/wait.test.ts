import assert from 'node:assert/strict'
import { mochaHooks } from '../../helpers/pending-waits.ts'
import { nextEvent, waitUntil } from '../../helpers/wait.ts'

describe('test waits', () => {
  it('waitUntil resolves when its predicate turns true, with no deadline of its own', async () => {
    let calls = 0
    await waitUntil(() => ++calls >= 3, { intervalMs: 1 })
    assert.equal(calls, 3)
  })

  it('waitUntil with an explicit timeoutMs (a claim about time) fails naming what it waited for', async () => {
    await assert.rejects(
      waitUntil(() => false, { timeoutMs: 20, intervalMs: 1, message: 'the moon' }),
      /20 ms: the moon/,
    )
  })

  it('nextEvent resolves with the first detail that passes the filter', async () => {
    const target = new EventTarget()
    const seen = nextEvent<number>(target, 'tick', (n) => n > 1)
    for (const n of [1, 2, 3]) target.dispatchEvent(new CustomEvent('tick', { detail: n }))
    assert.equal(await seen, 2)
  })

  it('a failed test names the waits it left, and those waits stop when the test is over', async () => {
    const left = waitUntil(() => false, { intervalMs: 1, message: 'the moon' })
    const err = new Error('Timeout of 1ms exceeded.')
    const test = { state: 'failed', err } as unknown as Mocha.Test
    mochaHooks.afterEach.call({ currentTest: test } as Mocha.Context)
    assert.match(err.message, /still waiting for: the moon/)
    assert.match(err.stack ?? '', /still waiting for: the moon/)
    await assert.rejects(left, /abandoned when its test ended: the moon/)
  })
})
