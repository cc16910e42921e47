import { logger } from '@libp2p/logger'
import type { NodeKeys } from '../../keys/keystore.ts'
import type { SeededRandom } from '../../keys/random.ts'
import type { PlayerRole } from '../../roles/player/index.ts'
import type { SimNode } from '../cluster.ts'
import { pick } from '../rng.ts'
import { PacedSink } from '../workloads/paced-sink.ts'
import {
  type AttackerRandom,
  dialServices,
  eachAttacker,
  type HostileBuyerContext,
  type HostileBuyerReport,
  streamingPasses,
} from './buyer-kit.ts'

const log = logger('consort:sim:store-wiper')

/** Plays the wiper makes before it wipes its store. */
export const PLAYS_BEFORE_WIPE = 3
/** Seconds of each play, and the pause between two. */
const PLAY_SECONDS = 3
const PLAY_GAP_MS = 1_000

/** What the store wipers played before and after their wipes, and what the licence fetched again left. */
export interface StoreWiperMetrics {
  nodes: number
  wipes: number
  allowed: number
  playsBeforeWipe: number
  playsAfterWipe: number
  remainingAfterWipe: number
  failures: string[]
}

/**
 * Issue 11, finding 3, as an attacker plays it: a listener (the real player role) buys a streaming pass of L plays,
 * plays some of them, delivers its usage reports, then wipes its store (the node starts again with nothing) and asks
 * the registrar for its licence again, hoping for L fresh plays. The licence must come back with the plays already
 * used, and the device must be able to play only what is left. Plays before the wipe are real and paid (the ground
 * truth records them); plays after it continue no report chain the clearinghouse knows (a fork: never paid), so the
 * ground truth does not record them, and the ledger check proves they paid nothing.
 */
export class StoreWipers {
  readonly #nodes: SimNode[]
  #wipes = 0
  #allowed = 0
  #before = 0
  #after = 0
  #remainingAfterWipe = 0
  readonly #failures: string[] = []

  constructor(nodes: SimNode[]) {
    this.#nodes = nodes
  }

  async act(context: HostileBuyerContext, randomOf: AttackerRandom): Promise<void> {
    await eachAttacker(this.#nodes, this.#failures, (sim) => this.#wipe(sim, context, randomOf(sim)))
  }

  async #wipe(sim: SimNode, context: HostileBuyerContext, random: SeededRandom): Promise<void> {
    const account = (sim.spec.roleOptions?.player as { account?: NodeKeys } | undefined)?.account
    if (account == null) throw new Error('no account key')
    const passes = streamingPasses(context)
    await dialServices(sim, context.services)
    let player = playerOf(sim)
    await player.ensureDevice()
    await context.fund(sim, account)
    const { offer } = pick(random, passes)
    await player.offers(offer.body.content[0]!)
    const purchaseId = `wipe-${sim.index}`
    const bought = await player.buy(offer.id.toString(), { purchaseId })
    context.sale(account, offer.id.toString(), purchaseId, bought.price.amount)
    // One track of what the pass covers (a release's pass covers each of its tracks).
    const isrc = player.licences().find((l) => l.purchaseId === purchaseId)?.tracks[0]
    if (isrc == null) throw new Error(`no licence of ${purchaseId} after the purchase`)
    const allowed = offer.body.rules.plays!
    this.#allowed += allowed
    for (let i = 0; i < PLAYS_BEFORE_WIPE; i++) {
      if (await this.#playOnce(player, isrc, purchaseId)) {
        this.#before++
        context.play(purchaseId)
      }
    }
    await flush(player)
    // The wipe: the node starts again with an empty store (its keys and account are all it keeps).
    await context.cluster.stop(sim)
    await context.cluster.start(sim)
    await dialServices(sim, context.services)
    player = playerOf(sim)
    this.#wipes++
    const licence = await player.fetchLicence(purchaseId)
    this.#remainingAfterWipe += licence.remaining.plays ?? Number.POSITIVE_INFINITY
    // It plays all it can: each play the player allows is one more the device makes.
    for (let i = 0; i < allowed; i++) {
      if (!(await this.#playOnce(player, isrc, purchaseId))) break
      this.#after++
    }
    await flush(player)
  }

  async #playOnce(player: PlayerRole, isrc: string, purchaseId: string): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, PLAY_GAP_MS))
    try {
      const result = await player.play(isrc, { sink: new PacedSink(), seconds: PLAY_SECONDS })
      return result.mode === 'licensed' && result.purchaseId === purchaseId
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).name
      if (!/DENIED|LIMIT|UsageDenied/i.test(code)) log('play of %s: %e', isrc, err)
      return false
    }
  }

  report(): HostileBuyerReport<StoreWiperMetrics> {
    return {
      metrics: {
        nodes: this.#nodes.length,
        wipes: this.#wipes,
        allowed: this.#allowed,
        playsBeforeWipe: this.#before,
        playsAfterWipe: this.#after,
        remainingAfterWipe: this.#remainingAfterWipe,
        failures: this.#failures,
      },
      checks: [
        {
          name: 'wiped stores regained no plays',
          ok:
            this.#wipes > 0 &&
            this.#failures.length === 0 &&
            this.#before === PLAYS_BEFORE_WIPE * this.#wipes &&
            this.#remainingAfterWipe === this.#allowed - this.#before &&
            this.#before + this.#after <= this.#allowed,
          detail: `${this.#wipes} wipe(s) of passes allowing ${this.#allowed} play(s): ${this.#before} played before, the licence fetched again left ${this.#remainingAfterWipe}, ${this.#after} played after${this.#failures.length > 0 ? `; failed: ${this.#failures.join(' | ')}` : ''}`,
        },
      ],
      heldPlays: 0,
    }
  }
}

async function flush(player: PlayerRole): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const flushed = await player.flushUsage()
    if (flushed.pendingReports === 0 && flushed.readyEvents === 0) return
  }
}

function playerOf(sim: SimNode): PlayerRole {
  if (!sim.started.roles.has('player')) throw new Error(`${sim.name} runs no player role`)
  return sim.started.role('player')
}
