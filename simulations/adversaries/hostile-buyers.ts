import { toHex } from '../../keys/hex.ts'
import { SeededRandom } from '../../keys/random.ts'
import type { Cluster } from '../cluster.ts'
import type { Check } from '../report/types.ts'
import type { AdversarySpec } from '../scenario.ts'
import type { AttackerRandom, HostileBuyerContext, HostileBuyerReport } from './buyer-kit.ts'
import { type PlayInflaterMetrics, PlayInflaters } from './play-inflater.ts'
import { type StoreWiperMetrics, StoreWipers } from './store-wiper.ts'
import { type TerritoryLiarMetrics, TerritoryLiars } from './territory-liar.ts'
import { type VoidRacerMetrics, VoidRacers } from './void-racer.ts'

type HostileBuyersSpec = Extract<AdversarySpec, { kind: 'hostile-buyers' }>

export interface HostileBuyersMetrics {
  voidRacers: VoidRacerMetrics
  playInflaters: PlayInflaterMetrics
  storeWipers: StoreWiperMetrics
  territoryLiars: TerritoryLiarMetrics
}

/**
 * The `hostile-buyers` adversary (issue 11): the four attackers on the money paths, run one after the other at the
 * drain, once the honest market is done, with what the market workload gives them (HostileBuyerContext).
 */
export class HostileBuyers {
  readonly #racers: VoidRacers
  readonly #inflaters: PlayInflaters
  readonly #wipers: StoreWipers
  readonly #liars: TerritoryLiars
  #spec: HostileBuyersSpec | null = null
  #random: SeededRandom | null = null
  #acted = false

  constructor(cluster: Cluster) {
    const of = (kind: string) => cluster.nodes.filter((n) => n.spec.kind === kind)
    this.#racers = new VoidRacers(of('void-racer'))
    this.#inflaters = new PlayInflaters(of('play-inflater'))
    this.#wipers = new StoreWipers(of('store-wiper'))
    this.#liars = new TerritoryLiars(of('territory-liar'))
  }

  /** The attack as the scenario has it, and its random stream: they act at the drain. */
  plan(spec: AdversarySpec, random: SeededRandom): void {
    if (spec.kind !== 'hostile-buyers') return
    this.#spec = spec
    this.#random = random
  }

  get planned(): boolean {
    return this.#spec != null
  }

  async act(context: HostileBuyerContext): Promise<void> {
    const spec = this.#spec
    const random = this.#random
    if (spec == null || random == null || this.#acted) return
    this.#acted = true
    // All four kinds, every attacker, side by side: they are separate buyers, and one after the other the drain waited
    // out each one's virtual waits in turn (a play inflater waits until every play it claims could have ended: 154
    // simulated seconds for a pass of 10 plays) while the whole network's upkeep ran. Each attacker draws from a
    // stream of its own, so that what it chooses does not depend on when the others drew.
    const base = toHex(random.bytes(16))
    const streams =
      (kind: string): AttackerRandom =>
      (sim) =>
        new SeededRandom(`${base}/${kind}/${sim.index}`)
    const outcomes = await Promise.allSettled([
      this.#racers.act(context, spec.races, streams('void-racer')),
      this.#liars.act(context, spec.lies, streams('territory-liar')),
      this.#inflaters.act(context, streams('play-inflater')),
      this.#wipers.act(context, streams('store-wiper')),
    ])
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason
  }

  report(): { metrics: HostileBuyersMetrics; checks: Check[]; heldPlays: number; summary: Array<[string, string]> } {
    const spec = this.#spec
    const metrics: HostileBuyersMetrics = {
      voidRacers: this.#racers.report().metrics,
      playInflaters: this.#inflaters.report().metrics,
      storeWipers: this.#wipers.report().metrics,
      territoryLiars: this.#liars.report().metrics,
    }
    // The checks of the attackers the scenario has (one with no nodes proves nothing and is left out).
    const present: Array<HostileBuyerReport<unknown>> = [
      ...((spec?.voidRacers ?? 0) > 0 ? [this.#racers.report()] : []),
      ...((spec?.playInflaters ?? 0) > 0 ? [this.#inflaters.report()] : []),
      ...((spec?.storeWipers ?? 0) > 0 ? [this.#wipers.report()] : []),
      ...((spec?.territoryLiars ?? 0) > 0 ? [this.#liars.report()] : []),
    ]
    return {
      metrics,
      checks: present.flatMap((r) => r.checks),
      heldPlays: present.reduce((sum, r) => sum + r.heldPlays, 0),
      summary: present.flatMap((r) => r.checks.map((c): [string, string] => [c.name, c.detail])),
    }
  }
}
