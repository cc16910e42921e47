import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { isError } from '../../protocols/errors.ts'
import { ScenarioError, ScenarioNotFoundError } from '../../simulations/errors.ts'
import { loadScenario, SCENARIO_DIR, scenarioWarnings, shippedScenarioFiles } from '../../simulations/scenario.ts'
import {
  loadSweep,
  parseSeeds,
  runSimulationProcess,
  runSweep,
  type SweepPlan,
  seedSweep,
  sweepText,
} from '../../simulations/sweep.ts'
import { CliError, EXIT, print } from '../output.ts'
import { withJson } from './common.ts'

/**
 * `consort sim SCENARIO`: run a whole market in virtual time, each run in a process of its own, and write its
 * metrics, traces and report; `--seeds 1..10` or `--sweep FILE` run several and summarise them.
 */
export function registerSimCommands(program: Command): void {
  withJson(
    program
      .command('sim')
      .description(
        'run a simulation scenario (a whole network in one process, in virtual time) and write its metrics, tables and report',
      )
      .argument('[scenario]', `a shipped scenario (${SCENARIO_DIR}) or a path to a scenario file (JSON or JSONC)`)
      .option('--seed <n>', "the seed of the run (default: the scenario's own)")
      .option('--seeds <list>', 'run once per seed (1..10, 1,3,5) and summarise: means with 95% confidence intervals')
      .option('--sweep <file>', 'run a sweep file: a scenario, its seeds and the parameter values to vary')
      .option('--jobs <n>', 'runs of a sweep at once (each a process of its own)', '1')
      .option('--out <dir>', 'where to write the results (default sim-out/<scenario>-seed<n>, or -sweep)')
      .option('--list', 'list the shipped scenarios')
      .option('--quiet', 'print no progress'),
  ).action(async (name: string | undefined, options) => {
    const json = options.json === true
    if (options.sweep == null && (options.list === true || name == null)) {
      const scenarios = shippedScenarioFiles().map((f) => {
        const { scenario } = loadScenario(join(SCENARIO_DIR, f))
        return {
          name: scenario.name,
          nodes: scenario.groups.reduce((n, g) => n + g.count, 0),
          description: scenario.description,
        }
      })
      print(scenarios, { json }, () =>
        scenarios.map((s) => `${s.name.padEnd(22)} ${String(s.nodes).padStart(4)} nodes  ${s.description}`).join('\n'),
      )
      return
    }
    const usage = <T>(f: () => T): T => {
      try {
        return f()
      } catch (err) {
        if (isError(err, ScenarioError) || isError(err, ScenarioNotFoundError))
          throw new CliError(err.message, EXIT.usage)
        throw err
      }
    }
    if (options.sweep != null || options.seeds != null) {
      const plan: SweepPlan = usage(() => {
        if (options.sweep != null) return loadSweep(options.sweep)
        const { scenario } = loadScenario(name!)
        return seedSweep(scenario, parseSeeds(String(options.seeds)))
      })
      const jobs = Number(options.jobs)
      if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 64)
        throw new CliError(`--jobs: ${options.jobs} is not an integer from 1 to 64`, EXIT.usage)
      const first = plan.variants[0]!.scenario
      for (const warning of scenarioWarnings(first)) process.stderr.write(`warning: ${warning}\n`)
      const out = resolve(options.out ?? join('sim-out', `${first.name}-sweep`))
      const outcomes = await runSweep(plan, {
        out,
        quiet: options.quiet === true || json,
        jobs,
        onRun: (run, done, total) => {
          if (options.quiet !== true && !json)
            process.stderr.write(
              `run ${done}/${total}: ${run.variant.id} seed ${run.seed} ${['passed', 'FAILED a check', 'bad input', 'did not complete'][run.code] ?? `exit ${run.code}`}\n`,
            )
        },
      })
      if (json)
        print(
          { out, runs: outcomes.map((o) => ({ variant: o.variant.id, seed: o.seed, exitCode: o.code, dir: o.dir })) },
          { json: true },
        )
      else process.stdout.write(`${sweepText(plan, outcomes, out)}\n`)
      if (outcomes.some((o) => o.code >= 2)) throw new CliError('some run(s) did not complete')
      if (outcomes.some((o) => o.code === 1)) throw new CliError('some run(s) failed a check')
      return
    }
    let seed: number | undefined
    if (options.seed != null) {
      seed = Number(options.seed)
      if (!/^\d+$/.test(String(options.seed)) || !Number.isSafeInteger(seed) || seed > 2 ** 32 - 1)
        throw new CliError(`--seed: ${options.seed} is not an integer from 0 to 2^32-1`, EXIT.usage)
    }
    const { scenario, path } = usage(() => loadScenario(name!))
    for (const warning of scenarioWarnings(scenario)) process.stderr.write(`warning: ${warning}\n`)
    const effectiveSeed = seed ?? scenario.seed
    const out = resolve(options.out ?? join('sim-out', `${scenario.name}-seed${effectiveSeed}`))
    const args = [path, '--seed', String(effectiveSeed), '--out', out]
    if (options.quiet === true) args.push('--quiet')
    if (json) args.push('--json')
    const code = await runSimulationProcess(args)
    if (code === 1) throw new CliError(`check(s) failed; seed ${effectiveSeed} reproduces the run exactly`)
    if (code !== 0) throw new CliError(`the simulation could not complete (exit ${code})`)
  })
}
