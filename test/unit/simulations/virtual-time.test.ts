import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import { isError } from '../../../protocols/errors.ts'
import { Scheduler } from '../../../simulations/virtual-time/scheduler.ts'
import { simulate, WorldStalledError } from '../../../simulations/virtual-time/world.ts'

const EPOCH = Date.UTC(2026, 10, 1)
const options = { seed: 'test', epochMs: EPOCH }

describe('simulations: virtual time', () => {
  it('runs callbacks by due time, then in the order they were scheduled', () => {
    const s = new Scheduler()
    const order: string[] = []
    s.schedule(5, () => order.push('b'))
    s.schedule(1, () => order.push('a'))
    s.schedule(5, () => order.push('c'))
    const cleared = s.schedule(3, () => order.push('never'))
    s.cancel(cleared)
    while (s.runNext());
    assert.deepEqual(order, ['a', 'b', 'c'])
    assert.equal(s.now, 5)
  })

  it('gives Node semantics to timers: 0 ms is 1 ms, intervals repeat, clear, refresh, ids', async () => {
    const { value } = await simulate(options, async () => {
      const seen: Array<[string, number]> = []
      const t0 = performance.now()
      setTimeout(() => seen.push(['zero', performance.now() - t0]), 0)
      let n = 0
      const every = setInterval(() => {
        seen.push(['tick', performance.now() - t0])
        if (++n === 3) clearInterval(every)
      }, 10)
      const cleared = setTimeout(() => seen.push(['cleared', 0]), 5)
      clearTimeout(+cleared)
      const refreshed = setTimeout(() => seen.push(['refreshed', performance.now() - t0]), 20)
      setTimeout(() => refreshed.refresh(), 15)
      assert.equal(typeof refreshed.unref().hasRef(), 'boolean')
      await sleep(100)
      return seen
    })
    assert.deepEqual(value, [
      ['zero', 1],
      ['tick', 10],
      ['tick', 20],
      ['tick', 30],
      ['refreshed', 35],
    ])
  })

  it('moves Date, performance.now and AbortSignal.timeout only with the simulation, and skips idle time', async () => {
    const wallStart = process.hrtime.bigint()
    const { value, stats } = await simulate(options, async () => {
      const start = Date.now()
      // biome-ignore lint/complexity/useDateNow: the constructor without arguments is what is being tested
      const created = new Date().getTime()
      const signal = AbortSignal.timeout(30_000)
      let abortedAt = -1
      signal.addEventListener('abort', () => {
        abortedAt = Date.now() - start
      })
      await sleep(3_600_000) // an hour of simulated time
      return { start, created, abortedAt, after: Date.now(), perf: performance.now(), reason: signal.reason?.name }
    })
    const wallMs = Number(process.hrtime.bigint() - wallStart) / 1e6
    assert.equal(value.start, EPOCH)
    assert.equal(value.created, EPOCH)
    assert.equal(value.abortedAt, 30_000)
    assert.equal(value.reason, 'TimeoutError')
    assert.equal(value.after, EPOCH + 3_600_000)
    assert.equal(value.perf, 3_600_000)
    assert.equal(stats.virtualMs, 3_600_000)
    assert.ok(wallMs < 5000, `an hour of virtual time took ${wallMs} ms of wall time`)
    assert.ok(Date.now() > EPOCH + 1e9 || Date.now() < EPOCH, 'the real clock is back after the run')
  })

  it('draws every random value from the seed, and the same values from the same seed', async () => {
    const draw = () =>
      simulate(options, async () => [
        Math.random(),
        randomBytes(8).toString('hex'),
        Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex'),
        crypto.randomUUID(),
      ])
    const [a, b] = [(await draw()).value, (await draw()).value]
    assert.deepEqual(a, b)
    const other = await simulate({ ...options, seed: 'other' }, async () => Math.random())
    assert.notEqual(other.value, a[0])
    assert.notEqual(Math.random(), a[0], 'Math.random is the real one again')
  })

  it('waits for real work without moving time, answers digests on the thread, refuses worker threads', async () => {
    const { value, stats } = await simulate(options, async () => {
      const before = performance.now()
      const text = await readFile(new URL(import.meta.url), 'utf8')
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('consort')))
      let refused = ''
      try {
        new Worker('process.exit(0)', { eval: true })
      } catch (err) {
        refused = (err as { code?: string }).code ?? ''
      }
      return { elapsed: performance.now() - before, read: text.length > 0, digest, refused }
    })
    assert.equal(value.elapsed, 0)
    assert.ok(value.read)
    assert.deepEqual(value.digest, new Uint8Array(createHash('sha256').update('consort').digest()))
    assert.equal(value.refused, 'ERR_WORKER_IN_SIMULATION')
    assert.ok(stats.realWaits > 0, 'the file read was waited for')
  })

  it('hands back overlapping file-system and crypto results in the order they were asked for', async () => {
    // A large read asked first, a stat of a small file second: on the machine the stat finishes first. Labels that
    // publish side by side each read a file, and the order their reads finished in changed a 153-node run's events.
    const dir = await mkdtemp(join(tmpdir(), `consort-vt-${process.pid}-`))
    try {
      const big = join(dir, 'big')
      await writeFile(big, new Uint8Array(48 * 1024 * 1024))
      const { value } = await simulate(options, async () => {
        const order: string[] = []
        await Promise.all([
          readFile(big).then(() => order.push('read')),
          stat(dir).then(() => order.push('stat')),
          crypto.subtle
            .importKey('raw', new Uint8Array(32), 'AES-GCM', false, ['encrypt'])
            .then(() => order.push('key')),
          stat(join(dir, 'missing')).catch(() => order.push('missing')),
        ])
        return order
      })
      assert.deepEqual(value, ['read', 'stat', 'key', 'missing'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('says so when the simulation waits on something nothing will ever do', async () => {
    await assert.rejects(
      simulate(options, () => new Promise<void>(() => {})),
      (err: unknown) => isError(err, WorldStalledError) && /nothing is scheduled/.test(err.message),
    )
  })
})
