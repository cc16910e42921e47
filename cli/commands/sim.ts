import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { ScenarioError, ScenarioNotFoundError } from '../../simulations/errors.ts'
import { loadScenario, SCENARIO_DIR } from '../../simulations/scenario.ts'
import { CliError, EXIT, print } from '../output.ts'
import { withJson } from './common.ts'

/** The entry that runs one simulation in a process of its own, under virtual time. */
const RUN_PROCESS = fileURLToPath(new URL('../../simulations/run-process.ts', import.meta.url))

/** Heap a run may use: most of the machine's memory (a 1,000-node run needs several gigabytes). */
function heapLimitMb(): number {
  return Math.max(2048, Math.floor((totalmem() * 0.8) / 2 ** 20))
}

/** `consort sim SCENARIO`: run a whole market in virtual time and write its metrics, traces and report. */
export function registerSimCommands(program: Command): void {
  withJson(
    program
      .command('sim')
      .description(
        'run a simulation scenario (a whole network in one process, in virtual time) and write metrics.json and report.html',
      )
      .argument('[scenario]', `a shipped scenario (${SCENARIO_DIR}) or a path to a scenario file (JSON or JSONC)`)
      .option('--seed <n>', "the seed of the run (default: the scenario's own)")
      .option('--out <dir>', 'where to write the results (default sim-out/<scenario>-seed<n>)')
      .option('--list', 'list the shipped scenarios')
      .option('--quiet', 'print no progress'),
  ).action(async (name: string | undefined, options) => {
    const json = options.json === true
    if (options.list === true || name == null) {
      const scenarios = readdirSync(SCENARIO_DIR)
        .filter((f) => f.endsWith('.json'))
        .map((f) => {
          const { scenario } = loadScenario(join(SCENARIO_DIR, f))
          return {
            name: scenario.name,
            nodes: scenario.groups.reduce((n, g) => n + g.count, 0),
            description: scenario.description,
          }
        })
      print(scenarios, { json }, () =>
        scenarios.map((s) => `${s.name.padEnd(18)} ${String(s.nodes).padStart(4)} nodes  ${s.description}`).join('\n'),
      )
      return
    }
    let seed: number | undefined
    if (options.seed != null) {
      seed = Number(options.seed)
      if (!/^\d+$/.test(String(options.seed)) || !Number.isSafeInteger(seed) || seed > 2 ** 32 - 1)
        throw new CliError(`--seed: ${options.seed} is not an integer from 0 to 2^32-1`, EXIT.usage)
    }
    let loaded: ReturnType<typeof loadScenario>
    try {
      loaded = loadScenario(name)
    } catch (err) {
      if (err instanceof ScenarioError || err instanceof ScenarioNotFoundError)
        throw new CliError(err.message, EXIT.usage)
      throw err
    }
    const { scenario, path } = loaded
    const effectiveSeed = seed ?? scenario.seed
    const out = resolve(options.out ?? join('sim-out', `${scenario.name}-seed${effectiveSeed}`))
    const args = [
      `--max-old-space-size=${heapLimitMb()}`,
      RUN_PROCESS,
      path,
      '--seed',
      String(effectiveSeed),
      '--out',
      out,
    ]
    if (options.quiet === true) args.push('--quiet')
    if (json) args.push('--json')
    const code = await runChild(args)
    if (code === 1) throw new CliError(`check(s) failed; seed ${effectiveSeed} reproduces the run exactly`)
    if (code !== 0) throw new CliError(`the simulation could not complete (exit ${code})`)
  })
}

/** Run the simulation process with this process's terminal, and answer its exit code. */
function runChild(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' })
    const stop = () => child.kill('SIGTERM')
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(code ?? (signal != null ? 128 : 3))
    })
  })
}
