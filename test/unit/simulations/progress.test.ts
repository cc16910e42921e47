import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { progressLine } from '../../../simulations/report/progress.ts'
import { simulate } from '../../../simulations/virtual-time/world.ts'
import { StepProgress } from '../../../simulations/workloads/step-progress.ts'

const options = { seed: 'test', epochMs: Date.UTC(2026, 10, 1) }

describe('simulations: progress of the market set-up', () => {
  it('gives a step a line at its first count, at its end and every 10 simulated seconds while it moves', async () => {
    const { value: lines } = await simulate(options, async () => {
      const lines: string[] = []
      const progress = new StepProgress()
      progress.listener = (step, done, total) =>
        lines.push(`${Math.round(performance.now() / 1000)} ${step} ${done}/${total}`)
      progress.report('players', 0, 100)
      for (let done = 1; done <= 100; done++) {
        await sleep(500)
        progress.report('players', done, 100)
        // Another step at the same time is thinned on its own.
        if (done % 40 === 0) progress.report('fetches', done / 40, 3)
      }
      return lines
    })
    assert.deepEqual(lines, [
      '0 players 0/100',
      '10 players 20/100',
      '20 players 40/100',
      '20 fetches 1/3',
      '30 players 60/100',
      '40 players 80/100',
      '40 fetches 2/3',
      '50 players 100/100',
    ])
  })

  it('says a stuck step is still there once a simulated minute, and nothing without a listener', async () => {
    const { value: lines } = await simulate(options, async () => {
      const lines: number[] = []
      const progress = new StepProgress()
      progress.report('contracts', 0, 10) // no listener yet: nothing, and nothing remembered
      progress.listener = (_step, done) => lines.push(done)
      for (let s = 0; s <= 130; s++) {
        progress.report('contracts', 3, 10)
        await sleep(1000)
      }
      return lines
    })
    assert.deepEqual(lines, [3, 3, 3])
  })

  it('writes a market step with its simulated time and what the process spent', () => {
    const line = progressLine({ phase: 'market', step: 'offers certified', done: 12, total: 40, simulatedMs: 61_250 })
    assert.match(
      line ?? '',
      /^market: offers certified 12\/40 \(61\.3 s simulated, \d+ s CPU, \d+\.\d\d GB RSS, \d+\.\d\d GB buffers\)$/,
    )
  })
})
