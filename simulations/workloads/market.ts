import type { SeededRandom } from '../../keys/random.ts'
import type { FakeClock } from '../../protocols/clock.ts'
import type { Cluster, SimNode } from '../cluster.ts'
import { RoleUnavailableError } from '../errors.ts'
import type { SystemSampler } from '../metrics.ts'
import type { Plan } from '../plan.ts'
import type { Check } from '../report/types.ts'
import type { AdversarySpec, Scenario } from '../scenario.ts'

/** The market workload: releases, offers, purchases, fetches, plays, usage reports and settlement. */
export class MarketWorkload {
  constructor(_scenario: Scenario, _cluster: Cluster, _seed: number, _clock: FakeClock, _sampler: SystemSampler) {
    throw new RoleUnavailableError('the market workload needs the retailer, player and delivery roles')
  }

  async setup(): Promise<void> {}
  plan(_plan: Plan): void {}
  planAttack(_plan: Plan, _attack: AdversarySpec, _random: SeededRandom): void {}
  attach(_sim: SimNode): void {}
  async drain(_ms: number): Promise<void> {}
  async report(): Promise<{ metrics: unknown; checks: Check[] }> {
    return { metrics: null, checks: [] }
  }
  async close(): Promise<void> {}
}
