import { readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { ScenarioError } from '../../../simulations/errors.ts'
import { summaryText } from '../../../simulations/report/summary.ts'
import { writeReport } from '../../../simulations/report/write.ts'
import { runScenario, type SimProgress } from '../../../simulations/runner.ts'
import { loadScenario, SCENARIO_DIR } from '../../../simulations/scenario.ts'
import { CliError, EXIT, print } from '../output.ts'
import { withJson } from './common.ts'

function progressLine(event: SimProgress): string | null {
  switch (event.phase) {
    case 'plan':
      return `plan: ${event.nodes} nodes, ${event.events} events, seed ${event.seed}, sha256 ${event.planHash.slice(0, 16)}…`
    case 'starting':
      return event.started === event.total || event.started % 50 === 0
        ? `started ${event.started}/${event.total} nodes`
        : null
    case 'mesh':
      return `gossip mesh formed (${event.waitedMs} ms)`
    case 'running':
      return event.t % 5000 < 1000
        ? `t=${(event.t / 1000).toFixed(0)}s of ${event.durationMs / 1000}s, ${event.done}/${event.events} events`
        : null
    case 'fault':
      return `t=${(event.t / 1000).toFixed(1)}s ${event.label}`
    case 'draining':
      return `draining ${event.drainMs} ms`
    case 'stopping':
      return 'stopping the nodes'
  }
}

/** `consort sim SCENARIO`: run a whole market in this process and write its metrics and report. */
export function registerSimCommands(program: Command): void {
  withJson(
    program
      .command('sim')
      .description('run a simulation scenario (a whole network in one process) and write metrics.json and report.html')
      .argument('[scenario]', `a shipped scenario (${SCENARIO_DIR}) or a path to a scenario JSON file`)
      .option('--seed <n>', "the seed of the plan (default: the scenario's own)")
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
      if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)
        throw new CliError(`--seed: ${options.seed} is not an integer from 0 to 2^32-1`, EXIT.usage)
    }
    let loaded: ReturnType<typeof loadScenario>
    try {
      loaded = loadScenario(name)
    } catch (err) {
      if (err instanceof ScenarioError) throw new CliError(err.message, EXIT.usage)
      throw err
    }
    const { scenario } = loaded
    const effectiveSeed = seed ?? scenario.seed
    const out = resolve(options.out ?? join('sim-out', `${scenario.name}-seed${effectiveSeed}`))
    const quiet = options.quiet === true || json
    const result = await runScenario(scenario, {
      seed: effectiveSeed,
      onProgress: (event) => {
        if (quiet) return
        const line = progressLine(event)
        if (line != null) process.stderr.write(`${line}\n`)
      },
    })
    const files = writeReport(result.metrics, out)
    if (json) {
      print({ ok: result.metrics.ok, seed: effectiveSeed, failures: result.failures, files }, { json: true })
    } else {
      process.stdout.write(`${summaryText(result.metrics)}\n\nmetrics  ${files.metricsJson}\nreport   ${files.html}\n`)
    }
    if (!result.metrics.ok) {
      throw new CliError(`${result.failures.length} check(s) failed; seed ${effectiveSeed} reproduces the plan`)
    }
  })
}
