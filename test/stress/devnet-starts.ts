/**
 * `npm run stress:devnet -- [--runs N] [--hogs H] [--timeout-s S]`: run `npm start` N times in a row with H busy
 * processes (`node -e 'for(;;){}'`) beside it, as a person would: start, wait for "Devnet ready", press Ctrl-C
 * (SIGINT to the whole process group, as a terminal sends it), and check each time that it started, that it
 * stopped cleanly (it says so, never says its stop failed), that no process of it is left, and that its temporary directory is gone.
 * Prints one line per run and `N passed, M failed`; exits 1 when any run failed. Not part of `npm test` (it takes
 * N × ~30 s); its latest result is in docs/benchmarks.md.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startCpuHogs } from '../helpers/cpu-hogs.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    hogs: { type: 'string', default: '1' },
    'timeout-s': { type: 'string', default: '240' },
  },
})
const runs = Number(values.runs)
const hogs = Number(values.hogs)
const timeoutMs = Number(values['timeout-s']) * 1000
if (![runs, hogs, timeoutMs].every((n) => Number.isSafeInteger(n) && n >= 0) || runs === 0) {
  process.stderr.write('usage: devnet-starts [--runs N>0] [--hogs H>=0] [--timeout-s S]\n')
  process.exit(2)
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0)
    return true
  } catch {
    return false
  }
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode != null || child.signalCode != null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

interface RunResult {
  ok: boolean
  startMs: number
  stopMs: number
  problem: string | null
}

async function oneRun(): Promise<RunResult> {
  const started = Date.now()
  // A process group of its own, so that SIGINT reaches npm and the devnet as Ctrl-C in a terminal would.
  const child = spawn('npm', ['start'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const fail = async (problem: string): Promise<RunResult> => {
    if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL')
    await exited(child)
    const tail = output.trim().split('\n').slice(-6).join('\n    ')
    return { ok: false, startMs: Date.now() - started, stopMs: 0, problem: `${problem}\n    ${tail}` }
  }
  const ready = await new Promise<'ready' | 'exit' | 'timeout'>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs)
    const check = () => {
      if (/Devnet ready: \d+ nodes in /.test(output)) {
        clearTimeout(timer)
        resolve('ready')
      }
    }
    child.stdout!.on('data', check)
    child.once('exit', () => {
      clearTimeout(timer)
      check()
      resolve('exit')
    })
  })
  if (ready !== 'ready')
    return fail(ready === 'exit' ? `exited before ready (code ${child.exitCode})` : 'not ready in time')
  const startMs = Date.now() - started
  const dir = /Devnet ready: \d+ nodes in (\S+)/.exec(output)?.[1] ?? ''

  const stopping = Date.now()
  process.kill(-child.pid!, 'SIGINT')
  const stopTimer = setTimeout(() => {
    if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL')
  }, 60_000)
  const { code, signal } = await exited(child)
  clearTimeout(stopTimer)
  const stopMs = Date.now() - stopping
  // npm may exit before the devnet's node process does: wait (bounded) for the whole group to be gone.
  for (let i = 0; i < 200 && groupAlive(child.pid!); i++) await new Promise((r) => setTimeout(r, 50))
  if (groupAlive(child.pid!)) return fail('processes left running after Ctrl-C')
  // npm itself ends on the SIGINT (as in a terminal); the devnet's own process must stop cleanly, which it shows by
  // saying so, by never saying its stop failed, by removing its temporary directory and by leaving no process.
  if (code !== 0 && code !== 130 && signal !== 'SIGINT') return fail(`npm ended with ${code ?? signal}`)
  if (!/SIGINT: stopping/.test(output)) return fail('the devnet did not say it was stopping')
  if (/stop failed|exiting without a clean stop/.test(output)) return fail('the devnet did not stop cleanly')
  if (dir === '' || existsSync(dir)) return fail(`the temporary directory ${dir} is still there`)
  return { ok: true, startMs, stopMs, problem: null }
}

const { stop: stopHogs } = startCpuHogs(hogs)
process.on('SIGINT', () => {
  stopHogs()
  process.exit(130)
})
let passed = 0
let failed = 0
try {
  process.stdout.write(`npm start × ${runs} with ${hogs} CPU hog(s) beside it (load before: ${loadAverage()})\n`)
  for (let i = 1; i <= runs; i++) {
    const result = await oneRun()
    if (result.ok) passed++
    else failed++
    process.stdout.write(
      `run ${String(i).padStart(2)}: ${result.ok ? 'ok  ' : 'FAIL'} ready in ${(result.startMs / 1000).toFixed(1)} s` +
        `${result.ok ? `, stopped in ${(result.stopMs / 1000).toFixed(1)} s` : ''}, load ${loadAverage()}` +
        `${result.problem != null ? `\n    ${result.problem}` : ''}\n`,
    )
  }
} finally {
  stopHogs()
}
process.stdout.write(`${passed} passed, ${failed} failed\n`)
process.exitCode = failed === 0 ? 0 : 1

/** The machine's 1-minute load average, to compare runs. */
function loadAverage(): string {
  return (loadavg()[0] ?? 0).toFixed(1)
}
