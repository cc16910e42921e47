import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { measureCpuShare } from '../../../bench/lib/cpu-share.ts'
import { formatReport } from '../../../bench/lib/format.ts'
import type { BenchReport } from '../../../bench/lib/types.ts'

describe('bench/lib/cpu-share', () => {
  it('measures the share of a CPU a busy thread gets, between 0 and 1', () => {
    const { share, autogroup } = measureCpuShare(100)
    assert.ok(share > 0 && share <= 1, `share ${share}`)
    if (process.platform === 'linux') assert.equal(typeof autogroup, 'boolean')
  })

  it('counts only its own thread: a busy worker beside it does not raise the share above 1', async () => {
    const worker = new Worker('const end = Date.now() + 400; while (Date.now() < end) {}', { eval: true })
    try {
      const { share } = measureCpuShare(200)
      assert.ok(share <= 1, `share ${share}`)
    } finally {
      await worker.terminate()
    }
  })

  it('is printed in the table beside the load average', () => {
    const report: BenchReport = {
      bench: 'x',
      node: 'v24',
      cpus: 2,
      started: 's',
      ended: 'e',
      load: { start: [1, 1, 1], end: [2, 2, 2] },
      cpuShare: { start: 0.45, end: 0.97, autogroup: true },
      results: [],
    }
    const table = formatReport(report)
    assert.match(table, /busy thread got: 0\.45 at the start, 0\.97 at the end \(sched autogroup on/)
  })
})
