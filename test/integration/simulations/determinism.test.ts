import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCpuHogs } from '../../helpers/cpu-hogs.ts'

const RUN_PROCESS = fileURLToPath(new URL('../../../simulations/run-process.ts', import.meta.url))
/**
 * The scenario and seed the contract is checked on: every role, purchases, settlement, a partition, kills, churn.
 * Seed 1 also has a play the clearinghouse held until its licence arrived after the registrar's restart, and then
 * settled: the settlement check counts plays still held, not plays ever held (it failed this seed before).
 */
const SCENARIO = 'market-faults-small'
const SEED = '1'

/** Run one simulation in its own process, as `consort sim` does; resolves with its exit code and output. */
function run(out: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_PROCESS, SCENARIO, '--seed', SEED, '--out', out, '--quiet'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, stderr }))
  })
}

/**
 * The determinism contract: the same scenario, seed and code give the same bytes in every result file (all but
 * `system.json`, which says what the run cost the machine), however loaded the machine is. A run happens in virtual
 * time (simulations/virtual-time), so a CPU hog beside it slows the run down and changes nothing in it.
 */
describe('simulations: the same scenario and seed give the same bytes', function () {
  this.timeout(600_000)
  // Made when the suite runs, not when mocha loads the file: a run that filters this suite out leaves nothing in /tmp.
  let dir = ''
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `consort-determinism-${process.pid}-`))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it(`${SCENARIO} --seed ${SEED}, once alone and once beside a CPU hog on every core`, async () => {
    const first = await run(join(dir, 'a'))
    assert.ok(first.code === 0 || first.code === 1, `the run completed (exit ${first.code}): ${first.stderr}`)
    const hogs = startCpuHogs(2)
    let second: Awaited<ReturnType<typeof run>>
    try {
      second = await run(join(dir, 'b'))
    } finally {
      hogs.stop()
    }
    assert.equal(second.code, first.code, second.stderr)
    const files = readdirSync(join(dir, 'a')).filter((f) => f !== 'system.json')
    assert.ok(files.includes('metrics.json') && files.length >= 4, files.join(', '))
    assert.deepEqual(readdirSync(join(dir, 'b')).sort(), [...files, 'system.json'].sort())
    for (const file of files) {
      const [a, b] = [readFileSync(join(dir, 'a', file)), readFileSync(join(dir, 'b', file))]
      assert.ok(a.equals(b), `${file} differs between the two runs`)
    }
    const metrics = JSON.parse(readFileSync(join(dir, 'a', 'metrics.json'), 'utf8'))
    assert.equal(metrics.seed, Number(SEED))
    assert.equal(metrics.ok, true, JSON.stringify(metrics.checks.filter((c: { ok: boolean }) => !c.ok)))
  })
})
