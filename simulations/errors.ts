/** Errors of the simulator: a scenario file that is wrong, a run that cannot go on, an invariant that broke. */

/** The scenario file is wrong; `field` names the setting (`groups.2.count`). */
export class ScenarioError extends Error {
  override name = 'ScenarioError'
  readonly code = 'ERR_SCENARIO'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

/** A scenario name or path that names no file. */
export class ScenarioNotFoundError extends Error {
  override name = 'ScenarioNotFoundError'
  readonly code = 'ERR_SCENARIO_NOT_FOUND'
}

/** The network could not be brought up (a node failed to start, the gossip mesh never formed). */
export class SimulationSetupError extends Error {
  override name = 'SimulationSetupError'
  readonly code = 'ERR_SIMULATION_SETUP'
}

/** A scenario asks for a workload or attack that needs roles this build does not have yet. */
export class RoleUnavailableError extends Error {
  override name = 'RoleUnavailableError'
  readonly code = 'ERR_ROLE_UNAVAILABLE'
}

/** One or more invariants failed; the message lists them and names the seed that reproduces the run. */
export class InvariantViolationError extends Error {
  override name = 'InvariantViolationError'
  readonly code = 'ERR_INVARIANT_VIOLATED'
  readonly seed: number
  readonly failures: readonly string[]

  constructor(seed: number, failures: readonly string[]) {
    super(`${failures.length} invariant(s) broken (seed ${seed}): ${failures.join('; ')}`)
    this.seed = seed
    this.failures = failures
  }
}
