/** Errors of the simulator: a scenario file that is wrong, a run that cannot go on, an invariant that broke. */

/** The scenario file is wrong; `field` names the setting (`groups.2.count`). */
export class ScenarioError extends Error {
  static override name = 'ScenarioError'
  override name = ScenarioError.name

  readonly code = 'ERR_SCENARIO'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** A scenario name or path that names no file. */
export class ScenarioNotFoundError extends Error {
  static override name = 'ScenarioNotFoundError'
  override name = ScenarioNotFoundError.name

  constructor(message = 'the scenario name or path names no file', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_SCENARIO_NOT_FOUND'
}

/** The network could not be brought up (a node failed to start, the gossip mesh never formed). */
export class SimulationSetupError extends Error {
  static override name = 'SimulationSetupError'
  override name = SimulationSetupError.name

  constructor(
    message = 'the network could not be brought up (a node failed to start, the gossip mesh never formed)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_SIMULATION_SETUP'
}

/** A scenario asks for a workload or attack that needs roles this build does not have yet. */
export class RoleUnavailableError extends Error {
  static override name = 'RoleUnavailableError'
  override name = RoleUnavailableError.name

  constructor(
    message = 'A scenario asks for a workload or attack that needs roles this build does not have yet',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_ROLE_UNAVAILABLE'
}

/** One or more invariants failed; the message lists them and names the seed that reproduces the run. */
export class SimulationInvariantError extends Error {
  static override name = 'SimulationInvariantError'
  override name = SimulationInvariantError.name

  readonly code = 'ERR_INVARIANT_VIOLATED'
  readonly seed: number
  readonly failures: readonly string[]

  constructor(seed: number, failures: readonly string[]) {
    super(`${failures.length} invariant(s) broken (seed ${seed}): ${failures.join('; ')}`)
    this.seed = seed
    this.failures = failures
  }
}
